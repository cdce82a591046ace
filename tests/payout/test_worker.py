"""The payouts worker: a thread of the app that makes payouts on its own, one round at a
time across processes, never paying a commission twice (SPEC §10)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from codeqr.app import create_app
from codeqr.commission.models import Commission
from codeqr.payout import service as payouts
from codeqr.payout.models import Payout
from codeqr.payout.worker import PayoutWorker
from codeqr.program import service as programs
from codeqr.settings import Settings
from codeqr.workspace import service as ws
from tests.conftest import LiveServer, free_port
from tests.factories import Tenant, make_tenant

PARTNERS = 6


def _due_commissions(server: LiveServer, tenant: Tenant, partners: int = PARTNERS) -> set[str]:
    """``partners`` partners with two due commissions of 600 each (holding 0, minimum 1000)."""
    with server.services.db.transaction() as session:
        program = programs.default_program(session, ws.get_workspace(session, tenant.slug))
        programs.update_settings(session, program, holding_days=0, min_payout=1_000)
    api = server.client(tenant.token)
    ids = set()
    for n in range(partners):
        partner = api.post("/api/partners", json={"email": f"p{n}@example.com"}).json()["id"]
        ids.add(partner)
        for _ in range(2):
            answer = api.post(
                "/api/commissions", json={"type": "custom", "partnerId": partner, "amount": 600}
            )
            assert answer.status_code == 202, answer.text
    return ids


def _payouts(server: LiveServer, tenant: Tenant) -> list[tuple[str, int]]:
    with server.services.db.transaction() as session:
        return [
            (p.partner_id, p.amount)
            for p in session.scalars(
                select(Payout).where(Payout.workspace_id == tenant.workspace_id)
            )
        ]


@pytest.fixture
def fast_server(settings: Settings) -> Iterator[LiveServer]:
    port = free_port()
    app = create_app(
        settings.model_copy(update={"payouts_run_seconds": 0.2}),
        default_domain=f"127.0.0.1:{port}",
    )
    live = LiveServer(app, port)
    live.start()
    yield live
    live.stop()


def test_the_worker_makes_payouts_on_its_own(fast_server: LiveServer) -> None:
    tenant = make_tenant(fast_server, plan="business")
    partners = _due_commissions(fast_server, tenant)
    deadline = time.monotonic() + 10
    while len(_payouts(fast_server, tenant)) < PARTNERS:
        assert time.monotonic() < deadline, "the worker made no payouts"
        time.sleep(0.1)
    time.sleep(0.5)  # more rounds: nothing more
    made = _payouts(fast_server, tenant)
    assert sorted(made) == sorted((p, 1_200) for p in partners)
    worker = fast_server.services.payouts
    assert worker is not None
    assert worker.rounds >= 2


def test_zero_turns_the_worker_off(server: LiveServer, settings: Settings) -> None:
    off = PayoutWorker(server.services.db, 0)
    off.start()
    assert off._thread is None
    off.stop()
    assert settings.payouts_run_seconds == 3600  # the default: once an hour


def test_concurrent_rounds_and_runs_never_pay_a_commission_twice(server: LiveServer) -> None:
    """Two workers (two processes' worth) and two CLI runs at once: every commission in
    exactly one payout, no empty payout left behind."""
    tenant = make_tenant(server, plan="business")
    partners = _due_commissions(server, tenant)
    workers = [PayoutWorker(server.services.db, 3600) for _ in range(2)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def round_of(worker: PayoutWorker) -> None:
        start.wait()
        try:
            worker.run_once()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def cli_run() -> None:
        start.wait()
        try:
            with server.services.db.transaction() as session:
                payouts.run(session, ws.get_workspace(session, tenant.slug))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=round_of, args=(w,)) for w in workers]
    threads += [threading.Thread(target=cli_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(_payouts(server, tenant)) == sorted((p, 1_200) for p in partners)
    with server.services.db.transaction() as session:
        loose = session.scalar(
            select(func.count()).where(
                Commission.workspace_id == tenant.workspace_id, Commission.payout_id.is_(None)
            )
        )
        assert loose == 0
