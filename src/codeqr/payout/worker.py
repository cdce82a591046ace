"""The payouts worker: a thread of the app that runs ``codeqr payouts run`` on its own.

Every ``every`` seconds (``CODEQR_PAYOUTS_RUN_SECONDS``; 0 turns it off) it looks for
programs with commissions in no payout and runs each one's payout run in a transaction of
its own (``payout.service.run``), so one workspace's failure or downgraded plan does not
hold up the others. With several processes on PostgreSQL, a round takes an advisory lock
first and the processes that do not get it skip the round; the run itself claims
commissions with an update that takes only those still in no payout, so even a run from
the CLI at the same moment never pays a commission twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime

import structlog
from sqlalchemy import select, text

from codeqr.commission.models import Commission, CommissionStatus
from codeqr.kit.db import Database
from codeqr.kit.errors import CodeQRError
from codeqr.payout import service as payouts
from codeqr.workspace.models import Workspace

log = structlog.get_logger(__name__)

_ADVISORY_KEY = 0x636F_6465_7172_7030  # "codeqrp0": not the events shipper's key


class PayoutWorker:
    """Runs every program's payout run every ``every`` seconds (off when 0)."""

    def __init__(self, db: Database, every: float) -> None:
        self.db = db
        self.every = every
        self.rounds = 0
        """Rounds this process ran (it had the lock), for tests and metrics."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin running in the background (a first round at once)."""
        if self.every <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="payouts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the round under way, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database away: the next round tries again
                log.exception("payouts.worker.failed")
            self._stop.wait(self.every)

    def run_once(self, now: datetime | None = None) -> int | None:
        """One round: payouts made, or ``None`` when another process holds the round."""
        with self._turn() as mine:
            if not mine:
                return None
            self.rounds += 1
            made = 0
            for workspace_id in self._candidates():
                if self._stop.is_set():
                    break
                try:
                    with self.db.transaction() as session:
                        workspace = session.get(Workspace, workspace_id)
                        if workspace is None:
                            continue
                        made += len(payouts.run(session, workspace, now).payouts)
                except CodeQRError as refused:  # below the business plan now: skipped
                    log.info("payouts.worker.skipped", workspace_id=workspace_id, why=str(refused))
            if made:
                log.info("payouts.worker.made", payouts=made)
            return made

    def _candidates(self) -> list[str]:
        """Workspaces with pending commissions in no payout (the run decides what is due)."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Commission.workspace_id)
                    .where(
                        Commission.payout_id.is_(None),
                        Commission.status == CommissionStatus.pending.value,
                    )
                    .distinct()
                )
            )

    @contextlib.contextmanager
    def _turn(self) -> Iterator[bool]:
        """Whether this process runs this round (PostgreSQL: one process at a time)."""
        if self.db.is_sqlite:
            yield True
            return
        with self.db.engine.connect() as conn:
            got = bool(conn.execute(text(f"SELECT pg_try_advisory_lock({_ADVISORY_KEY})")).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})"))
                conn.commit()
