"""Group commit of tracking calls on SQLite: the calls waiting when the writer is free run
one after another in one transaction, answered once it is committed.

SQLite has one writer, and a commit (the WAL append of every page the call touched, now and
then a checkpoint) costs as much as the rest of a lead or a sale. Calls that queue for the
writer anyway share one commit instead, and one thread hand-off per batch instead of one per
call. A call is answered only after the commit that holds its writes, as before.

A failing call must leave nothing behind. One that fails before writing (a bad key, an
unknown click: the usual failures) leaves the batch as it was; one that fails after writing
takes the whole transaction back with it, gets its error, and the calls done before it in
the batch are run again in the next one (they are not answered until a commit holds them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import structlog
from pydantic import BaseModel
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from codeqr.conversion.schemas import TrackLeadIn, TrackSaleIn
from codeqr.link.service import AFTER_COMMIT
from codeqr.services import Services

log = structlog.get_logger(__name__)

CHECKPOINT_EVERY = 8
"""Batches between two checkpoints: the log stays near a thousand pages, as SQLite keeps it."""

Body = TrackLeadIn | TrackSaleIn
Headers = list[tuple[bytes, bytes]]
Work = Callable[[Session, Services, str, Body], tuple[BaseModel, Headers]]
"""A call: its answer, and headers to send with it."""
Answer = tuple[bytes, Headers]
Call = tuple[str, Body, "asyncio.Future[Answer]"]
Outcome = Answer | BaseException | None
"""The answer, the error, or ``None``: not done, to run again in the next batch."""


class Batcher:
    """Runs calls of ``work`` in batches, one batch at a time on a worker thread (SQLite)."""

    def __init__(self, services: Services, work: Work, *, batch_max: int = 64) -> None:
        self.services = services
        self.work = work
        self.batch_max = batch_max
        self._pending: list[Call] = []
        self._writer: asyncio.Task[None] | None = None
        self._batches = 0
        self._checkpointing: asyncio.Task[None] | None = None

    async def submit(self, authorization: str, body: Body) -> Answer:
        """The call's answer (and headers) once committed; its error if it failed."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append((authorization, body, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.batch_max]
                del self._pending[: self.batch_max]
                calls = [(authorization, body) for authorization, body, _ in batch]
                try:
                    outcomes = await anyio.to_thread.run_sync(self._run, calls)
                except Exception as exc:  # the commit failed: nothing of the batch is stored
                    outcomes = [exc] * len(batch)
                again = []
                for call, outcome in zip(batch, outcomes, strict=True):
                    future = call[2]
                    if outcome is None:
                        again.append(call)
                    elif future.done():  # cancelled with its request
                        continue
                    elif isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                self._pending[:0] = again
                self._batches += 1
                if self._batches % CHECKPOINT_EVERY == 0 and self._checkpointing is None:
                    self._checkpointing = asyncio.create_task(self._checkpoint())
        finally:
            self._writer = None

    def _run(self, calls: list[tuple[str, Body]]) -> list[Outcome]:
        """The batch in one transaction on this thread; an outcome per call."""
        with self.services.db.engine.connect() as connection:
            driver: Any = connection.connection.driver_connection
            # The commit must not checkpoint (see ``_checkpoint``): the connection goes back
            # to the pool as it came.
            cursor = driver.cursor()
            every = cursor.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            try:
                return self._in_transaction(connection, calls)
            finally:
                cursor.execute(f"PRAGMA wal_autocheckpoint={int(every)}")
                cursor.close()

    def _in_transaction(
        self, connection: Connection, calls: list[tuple[str, Body]]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = [None] * len(calls)
        answers: list[tuple[int, tuple[BaseModel, Headers]]] = []
        callbacks: list[Callable[[], None]] = []
        transaction = connection.begin()
        driver: Any = connection.connection.driver_connection
        # One session for the batch, joined to its transaction (its commit and close leave
        # that be), emptied after each call so that no call sees another's objects.
        session = Session(
            bind=connection,
            join_transaction_mode="rollback_only",
            info=self.services.db.session_info,  # the events outbox, the webhooks hook
        )
        try:
            for index, (authorization, body) in enumerate(calls):
                changes, opened = driver.total_changes, driver.in_transaction
                try:
                    answer = self.work(session, self.services, authorization, body)
                    session.flush()
                    answers.append((index, answer))
                    callbacks.extend(session.info.pop(AFTER_COMMIT, []))
                except Exception as exc:
                    outcomes[index] = exc
                    wrote = driver.total_changes != changes or driver.in_transaction != opened
                    if wrote or not transaction.is_active:
                        # It wrote before failing (or the session gave up the transaction):
                        # none of the batch may stay.
                        if transaction.is_active:
                            transaction.rollback()
                        else:
                            driver.rollback()
                        return outcomes  # the others (None) go into the next batch
                    session.info.pop(AFTER_COMMIT, None)
                finally:
                    session.expunge_all()
        finally:
            session.close()
        try:
            transaction.commit()
        except Exception as exc:
            for index, _ in answers:
                outcomes[index] = exc
            return outcomes
        for callback in callbacks:
            callback()
        for index, (model, headers) in answers:
            outcomes[index] = model.model_dump_json(by_alias=True).encode(), headers
        return outcomes

    async def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database beside the writer (PASSIVE: it waits
        for no one and no one waits for it)."""
        try:
            await anyio.to_thread.run_sync(self._checkpoint_now)
        except Exception as exc:  # the next one will copy what this one could not
            log.warning("conversion.batch.checkpoint_failed", error=repr(exc))
        finally:
            self._checkpointing = None

    def _checkpoint_now(self) -> None:
        raw = self.services.db.engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            raw.close()
