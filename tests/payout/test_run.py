"""Payout runs: due commissions (past the holding period) gathered per partner when the
total reaches the minimum; marked paid by the operator; read with the ``dub`` SDK."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dub import Dub
from dub.models import errors
from sqlalchemy import select

from codeqr.commission.models import Commission
from codeqr.kit.errors import BadRequest, NotFound
from codeqr.payout import service as payouts
from codeqr.program import service as programs
from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant


def _commission(api: object, partner_id: str, amount: int, note: str) -> None:
    answer = api.post(  # type: ignore[attr-defined]
        "/api/commissions",
        json={"type": "custom", "partnerId": partner_id, "amount": amount, "description": note},
    )
    assert answer.status_code == 202, answer.text


def _age(server: LiveServer, tenant: Tenant, days: int, notes: set[str]) -> None:
    with server.services.db.transaction() as session:
        for row in session.scalars(
            select(Commission).where(
                Commission.workspace_id == tenant.workspace_id, Commission.description.in_(notes)
            )
        ):
            row.created_at -= timedelta(days=days)


def _run(server: LiveServer, tenant: Tenant) -> payouts.RunResult:
    with server.services.db.transaction() as session:
        return payouts.run(session, ws.get_workspace(session, tenant.slug))


def test_a_run_respects_the_holding_period_and_the_minimum(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    with server.services.db.transaction() as session:
        program = programs.default_program(session, ws.get_workspace(session, tenant.slug))
        programs.update_settings(session, program, holding_days=30, min_payout=1_000)
    api = server.client(tenant.token)
    ada = api.post("/api/partners", json={"email": "ada@example.com"}).json()["id"]
    bob = api.post("/api/partners", json={"email": "bob@example.com"}).json()["id"]
    _commission(api, ada, 600, "a1")
    _commission(api, ada, 700, "a2")
    _commission(api, ada, -200, "a-clawback")
    _commission(api, ada, 500, "a-recent")  # inside the holding period
    _commission(api, bob, 900, "b1")  # due, but under the minimum
    _age(server, tenant, 31, {"a1", "a2", "a-clawback", "b1"})

    done = _run(server, tenant)
    assert [(p.partner_id, p.amount, p.currency) for p in done.payouts] == [(ada, 1_100, "USD")]
    assert done.below_minimum == 1
    assert _run(server, tenant).payouts == []  # nothing is paid out twice

    with Dub(token=tenant.token, server_url=server.base + "/api") as dub:
        [listed] = dub.payouts.list(request={})
        assert (listed.id, listed.amount, listed.status.value) == (
            done.payouts[0].id,
            1_100,
            "pending",
        )
        assert listed.partner.id == ada
        assert listed.period_start is not None
        assert listed.paid_at is None
        processed = dub.commissions.list(request={"payout_id": listed.id})
        assert processed is not None
        assert sorted(c.earnings for c in processed.result) == [-200, 600, 700]
        assert {c.status.value for c in processed.result} == {"processed"}
        with pytest.raises(errors.BadRequest):
            dub.commissions.update(
                request={"id": processed.result[0].id, "request_body": {"status": "canceled"}}
            )
        pending = dub.commissions.list(request={"status": "pending"})
        assert pending is not None
        assert sorted(c.earnings for c in pending.result) == [500, 900]

        with server.services.db.transaction() as session:
            paid = payouts.mark_paid(
                session, ws.get_workspace(session, tenant.slug), listed.id, "wire-42"
            )
            assert (paid.status, paid.reference) == ("completed", "wire-42")
        [listed] = dub.payouts.list(request={"status": "completed"})
        assert listed.paid_at is not None
        again = dub.commissions.list(request={"payout_id": listed.id})
        assert again is not None
        assert {c.status.value for c in again.result} == {"paid"}
    with server.services.db.transaction() as session, pytest.raises(BadRequest, match="already"):
        payouts.mark_paid(session, ws.get_workspace(session, tenant.slug), listed.id, None)


def test_another_workspace_cannot_mark_a_payout_paid(server: LiveServer) -> None:
    a, b = make_tenant(server, plan="business"), make_tenant(server, plan="business")
    with server.services.db.transaction() as session:
        program = programs.default_program(session, ws.get_workspace(session, a.slug))
        programs.update_settings(session, program, holding_days=0, min_payout=0)
    api = server.client(a.token)
    ada = api.post("/api/partners", json={"email": "ada@example.com"}).json()["id"]
    _commission(api, ada, 100, "x")
    [payout] = _run(server, a).payouts
    with server.services.db.transaction() as session, pytest.raises(NotFound, match="not found"):
        payouts.mark_paid(session, ws.get_workspace(session, b.slug), payout.id, None)
    assert server.client(b.token).get("/api/payouts").json() == []
