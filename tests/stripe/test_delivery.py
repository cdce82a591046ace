"""Delivery faults (SPEC §5.2): duplicates, concurrent deliveries, out-of-order events,
crashes half-way, and Stripe's API unreachable all end in the state of one in-order
delivery, with nothing lost and nothing counted twice."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from codeqr.conversion import repository
from codeqr.stripe import webhooks
from tests.conftest import LiveServer
from tests.conversion.helpers import customers, leads, link_counters, sales
from tests.factories import Tenant, make_tenant
from tests.stripe.helpers import click_with_id, connect, deliver, event_bytes, inbox, refunds
from tests.stripe.helpers import tracked_link as new_link
from tests.stripe.standin import StripeStandIn, dead_base

PAYMENT_LINK = "checkout.session.completed.payment_link_client_reference_id"
SUBSCRIPTION = "checkout.session.completed.subscription_mode"
FIRST_INVOICE = "invoice.paid"
RENEWAL = "invoice.paid.subscription_cycle"
PARTIAL, FULL = "charge.refunded.partial", "charge.refunded"
YEN = "checkout.session.completed.jpy_zero_decimal"

IN_ORDER = [PAYMENT_LINK, SUBSCRIPTION, FIRST_INVOICE, RENEWAL, YEN, PARTIAL, FULL]
# Renewal and first invoice before their checkout; the partial refund after the full one.
REORDERED = [RENEWAL, FIRST_INVOICE, YEN, SUBSCRIPTION, PAYMENT_LINK, FULL, PARTIAL]

CLICKS = {"7Gk2pQx9LmTz4VbR": "pay", "Hq3ZtW8nRb5YcK2m": "sub", "p9XvE2kLs7QdWm4A": "yen"}


def _story(server: LiveServer) -> tuple[Tenant, dict[str, str]]:
    """A sandbox workspace with one tracked link per buyer and the clicks the events name."""
    tenant = make_tenant(server)
    connect(server, tenant)
    links = {}
    for click_id, role in CLICKS.items():
        links[role] = new_link(server, tenant, f"https://shop.example/{role}")
        click_with_id(server, tenant, click_id, links[role])
    return tenant, links


def state(server: LiveServer, tenant: Tenant, links: dict[str, str]) -> dict[str, Any]:
    """Everything the events move, with generated ids replaced by stable names."""
    role = {v: k for k, v in links.items()}
    people = {c.id: c.external_id for c in customers(server, tenant.workspace_id)}
    return {
        "links": {name: link_counters(server, link_id) for name, link_id in links.items()},
        "customers": sorted(
            (c.external_id, c.stripe_customer_id, c.sales, c.sale_amount, role.get(c.link_id or ""))
            for c in customers(server, tenant.workspace_id)
        ),
        "leads": sorted(
            (people[x["customer_id"]], x["event_name"]) for x in leads(server, tenant.workspace_id)
        ),
        "sales": sorted(
            (
                s["invoice_id"],
                s["event_name"],
                s["amount"],
                s["currency"],
                s["reporting_amount"],
                people.get(s["customer_id"]),
                role.get(s["link_id"]),
            )
            for s in sales(server, tenant.workspace_id)
        ),
        # How much of each link's revenue was refunded (in steps that depend on the order
        # the cumulative refund events came in, so their sum is what must agree).
        "refunded": {
            name: sum(
                r["amount"] for r in refunds(server, tenant.workspace_id) if r["link_id"] == link
            )
            for name, link in links.items()
        },
        "unhandled": sorted(e.type for e in inbox(server, tenant.workspace_id) if not e.handled_at),
    }


def _send(server: LiveServer, tenant: Tenant, name: str) -> None:
    answer = deliver(server, tenant, event_bytes(name))
    assert answer.status_code == 200, answer.text


def _in_order_state(server: LiveServer) -> dict[str, Any]:
    tenant, links = _story(server)
    for name in IN_ORDER:
        _send(server, tenant, name)
    return state(server, tenant, links)


def _last_tenant(server: LiveServer) -> str:
    from codeqr.workspace.models import Workspace

    with server.services.db.transaction() as session:
        found = session.scalar(select(Workspace.id).order_by(Workspace.created_at.desc()))
    assert found is not None
    return found


def _retire(server: LiveServer) -> None:
    """Free what the events name for the next workspace of the same database: the Stripe
    account (one workspace each) and the fixed click ids (the clicks' primary keys)."""
    from codeqr.events.models import click_events
    from codeqr.stripe.models import StripeIntegration

    with server.services.db.transaction() as session:
        session.execute(StripeIntegration.__table__.delete())
        for click_id in CLICKS:
            session.execute(
                click_events.update()
                .where(click_events.c.id == click_id)
                .values(id=f"old{click_id[3:]}")
            )


def test_in_order_delivery_gives_the_expected_figures(server: LiveServer) -> None:
    final = _in_order_state(server)
    assert final["links"]["pay"] == {"clicks": 1, "leads": 1, "sales": 1, "saleAmount": 0}
    assert final["links"]["sub"] == {"clicks": 1, "leads": 1, "sales": 2, "saleAmount": 3800}
    assert final["links"]["yen"]["sales"] == 1
    assert [s[1] for s in final["sales"] if s[6] == "sub"] == [
        "Subscription creation",
        "Invoice paid",
    ]
    assert final["refunded"] == {"pay": 4900, "sub": 0, "yen": 0}
    steps = [(r["amount"], r["refunded_total"]) for r in refunds(server, _last_tenant(server))]
    assert steps == [(1500, 1500), (3400, 4900)]
    assert final["unhandled"] == []


@pytest.mark.parametrize("plan", ["reordered", "reversed", "twice", "concurrent pairs"])
def test_faulty_deliveries_end_like_in_order_delivery(server: LiveServer, plan: str) -> None:
    expected = _in_order_state(server)
    _retire(server)
    tenant, links = _story(server)
    if plan in ("reordered", "reversed"):
        for name in REORDERED if plan == "reordered" else IN_ORDER[::-1]:
            answer = deliver(server, tenant, event_bytes(name))
            assert answer.status_code == 200, answer.text
    elif plan == "twice":
        for name in IN_ORDER:
            _send(server, tenant, name)
            _send(server, tenant, name)
    else:
        for name in IN_ORDER:
            body = event_bytes(name)
            answers: list[httpx.Response] = []

            def send(body: bytes = body, answers: list[httpx.Response] = answers) -> None:
                answers.append(deliver(server, tenant, body))

            threads = [threading.Thread(target=send) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(a.status_code for a in answers) == [200, 200]
            assert sum(a.json()["handled"] for a in answers) == 1
    assert state(server, tenant, links) == expected
    assert len(inbox(server, tenant.workspace_id)) == len(IN_ORDER)


def test_a_crash_half_way_leaves_nothing_and_the_redelivery_completes_it(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, links = _story(server)
    before = state(server, tenant, links)

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("power cut between the sale and its counters")

    # The sale row and the customer and lead are written; then the process "dies".
    monkeypatch.setattr(repository, "count_sale", crash)
    answer = deliver(server, tenant, event_bytes(PAYMENT_LINK))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_server_error"
    after_crash = state(server, tenant, links)
    assert {k: v for k, v in after_crash.items() if k != "unhandled"} == {
        k: v for k, v in before.items() if k != "unhandled"
    }
    [stored] = inbox(server, tenant.workspace_id)
    assert stored.handled_at is None
    assert "power cut" in (stored.last_error or "")

    monkeypatch.undo()
    answer = deliver(server, tenant, event_bytes(PAYMENT_LINK))  # Stripe's retry
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is True
    assert link_counters(server, links["pay"])["sales"] == 1
    assert len(sales(server, tenant.workspace_id)) == 1


def test_replay_completes_events_whose_handling_failed(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, links = _story(server)

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(repository, "record_refund", crash)
    _send(server, tenant, PAYMENT_LINK)
    assert deliver(server, tenant, event_bytes(PARTIAL)).status_code == 500
    assert refunds(server, tenant.workspace_id) == []
    monkeypatch.undo()

    results = webhooks.replay(server.services, tenant.workspace_id)
    assert [(r["status"], r["handled"]) for r in results] == [(200, True)]
    assert [r["amount"] for r in refunds(server, tenant.workspace_id)] == [1500]
    assert webhooks.replay(server.services, tenant.workspace_id) == []
    assert link_counters(server, links["pay"])["saleAmount"] == 4900 - 1500


def test_stripe_unreachable_answers_5xx_then_the_retry_succeeds(
    server: LiveServer, stripe_api: StripeStandIn
) -> None:
    """A first invoice of a Stripe customer CodeQR has never seen: who it is must be read
    from the customer's metadata at Stripe (rule 3), and Stripe is down at first."""
    tenant, links = _story(server)
    stripe_api.add_customer("cus_H0R30gIrtWHskz", metadata={"codeqrClickId": "Hq3ZtW8nRb5YcK2m"})
    body = event_bytes(FIRST_INVOICE)
    base = server.services.stripe.base
    server.services.stripe.base = dead_base()
    server.services.stripe.close()
    answer = deliver(server, tenant, body)
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "bad_gateway"
    assert sales(server, tenant.workspace_id) == []
    [stored] = inbox(server, tenant.workspace_id)
    assert stored.handled_at is None
    assert stored.attempts == 1

    server.services.stripe.base = base
    server.services.stripe.close()
    answer = deliver(server, tenant, body)  # Stripe's retry, once its API is back
    assert answer.status_code == 200, answer.text
    [sale] = sales(server, tenant.workspace_id)
    [customer] = customers(server, tenant.workspace_id)
    assert (sale["amount"], sale["customer_id"], sale["link_id"]) == (
        1900,
        customer.id,
        links["sub"],
    )
    assert customer.stripe_customer_id == "cus_H0R30gIrtWHskz"
    assert [x["event_name"] for x in leads(server, tenant.workspace_id)] == ["New customer"]
    assert ("GET", "/v1/customers/cus_H0R30gIrtWHskz", None) in stripe_api.requests


def test_refunds_delivered_before_their_sale_are_applied_when_it_arrives(
    server: LiveServer,
) -> None:
    tenant, links = _story(server)
    for name in (FULL, PARTIAL):
        answer = deliver(server, tenant, event_bytes(name))
        assert answer.status_code == 200, answer.text
        assert answer.json()["handled"] is False
    assert refunds(server, tenant.workspace_id) == []
    _send(server, tenant, PAYMENT_LINK)
    assert sum(r["amount"] for r in refunds(server, tenant.workspace_id)) == 4900
    assert link_counters(server, links["pay"])["saleAmount"] == 0
    assert [e.handled_at is not None for e in inbox(server, tenant.workspace_id)] == [True] * 3
    # Redelivered now, they are duplicates.
    again = deliver(server, tenant, event_bytes(PARTIAL))
    assert again.json()["handled"] is False
    assert "Already handled" in again.json()["reason"]


def test_events_after_a_downgrade_are_kept_and_replayed_after_an_upgrade(
    server: LiveServer,
) -> None:
    from codeqr.workspace import service as ws

    tenant, links = _story(server)
    with server.services.db.transaction() as session:
        ws.set_plan(session, ws.get_workspace(session, tenant.slug), "pro")
    answer = deliver(server, tenant, event_bytes(PAYMENT_LINK))
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is False
    assert "Business plan" in answer.json()["reason"]
    assert sales(server, tenant.workspace_id) == []
    [kept] = inbox(server, tenant.workspace_id)
    assert kept.handled_at is None

    with server.services.db.transaction() as session:
        ws.set_plan(session, ws.get_workspace(session, tenant.slug), "business")
    [result] = webhooks.replay(server.services, tenant.workspace_id)
    assert result["handled"] is True
    assert link_counters(server, links["pay"])["sales"] == 1
