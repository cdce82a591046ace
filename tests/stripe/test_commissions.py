"""Commissions from Stripe's events: a partner's link → checkout → renewal, each event
delivered twice (the second time in reverse order), and a first invoice recorded before
its session names the buyer (SPEC §10)."""

from __future__ import annotations

import pytest

from codeqr.program.models import RewardEvent, RewardType
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant
from tests.partner.helpers import commissions, set_reward
from tests.stripe.helpers import click_with_id, connect, deliver, event_bytes
from tests.stripe.test_events import expected

SESSION = "checkout.session.completed.subscription_mode"
EVENTS = [SESSION, "invoice.paid", "invoice.paid.subscription_cycle"]


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    tenant = make_tenant(server)
    connect(server, tenant)
    # $5 flat per lead, 20% of every sale for 12 months from the customer's first one.
    set_reward(server, tenant.slug, RewardEvent.lead, RewardType.flat, 500)
    set_reward(server, tenant.slug, RewardEvent.sale, RewardType.percentage, 20, months=12)
    return tenant


def _partner_link(server: LiveServer, tenant: Tenant) -> tuple[str, str]:
    api = server.client(tenant.token)
    partner = api.post("/api/partners", json={"email": "ada@example.com"}).json()
    link = api.post(
        "/api/partners/links", json={"partnerId": partner["id"], "url": "https://shop.example"}
    )
    assert link.status_code == 201, link.text
    click_with_id(server, tenant, expected(SESSION)["click_id"], link.json()["id"])
    return partner["id"], link.json()["id"]


def _deliver(server: LiveServer, tenant: Tenant, name: str) -> None:
    answer = deliver(server, tenant, event_bytes(name))
    assert answer.status_code == 200, answer.text


def test_checkout_then_renewal_each_delivered_twice(server: LiveServer, tenant: Tenant) -> None:
    partner_id, _ = _partner_link(server, tenant)
    for name in [*EVENTS, *reversed(EVENTS)]:
        _deliver(server, tenant, name)
    rows = commissions(server, tenant.workspace_id)
    # The lead and the sale of one event share its time: compared in a stable order.
    assert sorted((r["type"], r["amount"], r["earnings"], r["currency"]) for r in rows) == [
        ("lead", 0, 500, "USD"),  # the sign-up the session's click reference makes
        ("sale", 1900, 380, "USD"),  # the subscription's first payment (session = invoice)
        ("sale", 1900, 380, "USD"),  # the renewal
    ]
    assert {r["partner_id"] for r in rows} == {partner_id}
    assert len({r["event_id"] for r in rows}) == 3


def test_a_first_invoice_before_its_session_earns_when_attributed(
    server: LiveServer, tenant: Tenant
) -> None:
    _deliver(server, tenant, "invoice.paid")  # nobody known yet: unattributed revenue
    assert commissions(server, tenant.workspace_id) == []
    _partner_link(server, tenant)
    _deliver(server, tenant, SESSION)  # names the buyer: the invoice's sale is theirs now
    _deliver(server, tenant, "invoice.paid")
    rows = commissions(server, tenant.workspace_id)
    assert sorted((r["type"], r["amount"], r["earnings"]) for r in rows) == [
        ("lead", 0, 500),
        ("sale", 1900, 380),
    ]


PAYMENT_LINK = "checkout.session.completed.payment_link_client_reference_id"
PARTIAL, FULL = "charge.refunded.partial", "charge.refunded"


def _paid_through_a_partner(server: LiveServer, tenant: Tenant) -> None:
    api = server.client(tenant.token)
    partner = api.post("/api/partners", json={"email": "bo@example.com"}).json()
    link = api.post(
        "/api/partners/links", json={"partnerId": partner["id"], "url": "https://shop.example"}
    ).json()
    click_with_id(server, tenant, expected(PAYMENT_LINK)["click_id"], link["id"])


def _sale_commission(server: LiveServer, tenant: Tenant) -> tuple[int, int, str]:
    [row] = [r for r in commissions(server, tenant.workspace_id) if r["type"] == "sale"]
    return row["amount"], row["earnings"], row["status"]


@pytest.mark.parametrize(
    "order",
    [
        (PAYMENT_LINK, PARTIAL),
        (PARTIAL, PAYMENT_LINK),  # the refund waits for its sale, then applies
    ],
)
def test_a_partial_refund_lowers_a_percentage_commission_in_proportion(
    server: LiveServer, tenant: Tenant, order: tuple[str, str]
) -> None:
    _paid_through_a_partner(server, tenant)
    for name in [*order, *reversed(order)]:  # each twice, the second time reversed
        _deliver(server, tenant, name)
    # 49.00 paid, 15.00 refunded: 20% of the 34.00 left.
    assert _sale_commission(server, tenant) == (3400, 680, "pending")
    _deliver(server, tenant, FULL)
    assert _sale_commission(server, tenant)[2] == "refunded"


def test_a_flat_commission_stays_until_the_sale_is_refunded_in_full(
    server: LiveServer, tenant: Tenant
) -> None:
    set_reward(server, tenant.slug, RewardEvent.sale, RewardType.flat, 1_000, lifetime=True)
    _paid_through_a_partner(server, tenant)
    _deliver(server, tenant, PAYMENT_LINK)
    _deliver(server, tenant, PARTIAL)
    assert _sale_commission(server, tenant) == (3400, 1_000, "pending")
    _deliver(server, tenant, FULL)
    assert _sale_commission(server, tenant) == (3400, 1_000, "refunded")


def _pay_out(server: LiveServer, tenant: Tenant, *, paid: bool) -> str:
    """Run payouts at once (no holding period, no minimum); mark the payout paid or not."""
    from codeqr.payout import service as payouts
    from codeqr.program import service as programs
    from codeqr.workspace import service as ws

    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, tenant.slug)
        program = programs.default_program(session, workspace)
        programs.update_settings(session, program, holding_days=0, min_payout=0)
        [payout] = payouts.run(session, workspace).payouts
        if paid:
            payouts.mark_paid(session, workspace, payout.id, "wire-1")
        return payout.id


def _payout_amount(server: LiveServer, payout_id: str) -> int:
    from codeqr.payout.models import Payout

    with server.services.db.transaction() as session:
        payout = session.get(Payout, payout_id)
        assert payout is not None
        return payout.amount


def test_a_refund_in_a_processed_payout_lowers_the_payout(
    server: LiveServer, tenant: Tenant
) -> None:
    _paid_through_a_partner(server, tenant)
    _deliver(server, tenant, PAYMENT_LINK)
    payout_id = _pay_out(server, tenant, paid=False)
    assert _payout_amount(server, payout_id) == 500 + 980  # the sign-up's lead and the sale
    _deliver(server, tenant, PARTIAL)
    _deliver(server, tenant, PARTIAL)
    assert _sale_commission(server, tenant) == (3400, 680, "processed")
    assert _payout_amount(server, payout_id) == 500 + 680
    _deliver(server, tenant, FULL)
    assert _sale_commission(server, tenant)[2] == "refunded"
    assert _payout_amount(server, payout_id) == 500


def test_a_refund_after_payment_is_clawed_back_in_the_next_payout(
    server: LiveServer, tenant: Tenant
) -> None:
    _paid_through_a_partner(server, tenant)
    _deliver(server, tenant, PAYMENT_LINK)
    _pay_out(server, tenant, paid=True)
    for name in (PARTIAL, PARTIAL, FULL, PARTIAL, FULL):  # redeliveries add nothing
        _deliver(server, tenant, name)
    rows = commissions(server, tenant.workspace_id)
    assert _sale_commission(server, tenant) == (4900, 980, "paid")
    clawbacks = [(r["earnings"], r["status"]) for r in rows if r["type"] == "custom"]
    assert clawbacks == [(-300, "pending"), (-680, "pending")]  # 9.80 - 6.80, then the rest
