"""Group commit of tracking calls (conversion/batch.py): calls that queue together share a
transaction, a call failing before it writes leaves the others alone, one failing after it
wrote takes the transaction back and the others run again, and nothing is kept twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from codeqr import migrate
from codeqr.conversion.batch import Batcher, Body, Headers
from codeqr.conversion.schemas import TrackLeadIn
from codeqr.services import Services
from codeqr.settings import Settings

pytestmark = pytest.mark.sqlite_only  # the batcher only runs on SQLite (one writer)


Answer = tuple[BaseModel, Headers]


class Done(BaseModel):
    name: str


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(_env_file=None, data_dir=tmp_path, secret_key="k")  # type: ignore[call-arg]
    built = Services.build(settings, default_domain="cq.test", public_url="http://cq.test")
    migrate.upgrade(built.db.engine)
    with built.db.transaction() as session:
        session.execute(text("CREATE TABLE probe (name TEXT PRIMARY KEY)"))
    yield built
    built.recorder.close()
    built.key_usage.close()
    built.db.dispose()
    built.events.close()


def body(name: str) -> TrackLeadIn:
    return TrackLeadIn.model_validate(
        {"clickId": "c", "eventName": "Sign up", "customerExternalId": name}
    )


def stored(services: Services) -> list[str]:
    with services.db.transaction() as session:
        return [r[0] for r in session.execute(text("SELECT name FROM probe ORDER BY name"))]


def run_batch(batcher: Batcher, names: list[str]) -> list[bytes | BaseException]:
    async def main() -> list[bytes | BaseException]:
        # Submitted in one loop turn: they queue before the writer runs, so one batch.
        outcomes = await asyncio.gather(
            *(batcher.submit("Bearer x", body(n)) for n in names), return_exceptions=True
        )
        return [o if isinstance(o, BaseException) else o[0] for o in outcomes]

    return asyncio.run(main())


def test_calls_that_queue_together_share_one_commit(services: Services) -> None:
    runs: list[str] = []

    def work(session: Session, _s: Services, _a: str, call: Body) -> Answer:
        name = call.customer_external_id
        runs.append(name)
        session.execute(text("INSERT INTO probe VALUES (:n)"), {"n": name})
        return Done(name=name), []

    batcher = Batcher(services, work)
    answers = run_batch(batcher, ["a", "b", "c"])
    assert answers == [b'{"name":"a"}', b'{"name":"b"}', b'{"name":"c"}']
    assert stored(services) == ["a", "b", "c"]
    assert runs == ["a", "b", "c"]
    assert batcher._batches == 1


def test_a_call_failing_before_it_writes_leaves_the_others(services: Services) -> None:
    def work(session: Session, _s: Services, _a: str, call: Body) -> Answer:
        name = call.customer_external_id
        if name == "b":
            raise LookupError("unknown click")  # as an unknown clickId does: nothing written
        session.execute(text("INSERT INTO probe VALUES (:n)"), {"n": name})
        return Done(name=name), []

    answers = run_batch(Batcher(services, work), ["a", "b", "c"])
    assert isinstance(answers[1], LookupError)
    assert answers[0] == b'{"name":"a"}'
    assert answers[2] == b'{"name":"c"}'
    assert stored(services) == ["a", "c"]


def test_a_call_failing_after_it_wrote_takes_nothing_with_it(services: Services) -> None:
    runs: list[str] = []

    def work(session: Session, _s: Services, _a: str, call: Body) -> Answer:
        name = call.customer_external_id
        runs.append(name)
        session.execute(text("INSERT INTO probe VALUES (:n)"), {"n": name})
        if name == "b":
            raise RuntimeError("failed half-way, after its insert")
        return Done(name=name), []

    answers = run_batch(Batcher(services, work), ["a", "b", "c"])
    assert isinstance(answers[1], RuntimeError)
    assert answers[0] == b'{"name":"a"}'
    assert answers[2] == b'{"name":"c"}'
    # b's insert went back with the transaction; a ran again in the next batch; each
    # answered name is stored exactly once.
    assert stored(services) == ["a", "c"]
    assert runs.count("b") == 1
    assert runs.count("a") == 2
