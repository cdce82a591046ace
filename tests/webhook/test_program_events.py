"""``partner.enrolled`` and ``commission.created`` to a real receiver on loopback: Dub's
shapes (parsed with the ``dub`` SDK's event models), clawbacks as negative amounts, and
nothing sent for a rolled-back enrollment or commission."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dub.models.components import CommissionCreatedEvent, PartnerEnrolledEvent
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codeqr.commission import earning
from codeqr.commission import service as commissions
from codeqr.commission.models import Commission, CommissionStatus
from codeqr.commission.schemas import CustomCommissionCreate
from codeqr.partner import service as partners
from codeqr.partner.schemas import PartnerCreate
from codeqr.program.models import RewardEvent, RewardType
from codeqr.sdk.webhooks import verify
from codeqr.webhook.models import WebhookEvent
from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.partner.helpers import set_reward, visit

from .conftest import Receiver
from .test_delivery import event_rows, subscribe

PROGRAM = ["partner.enrolled", "commission.created"]


def _fail_after(server: LiveServer, change: Callable[[Session], None], before: int) -> None:
    """``change`` in a transaction that notes its event, then fails."""
    with server.services.db.transaction() as session:
        change(session)
        noted = session.scalar(select(func.count(WebhookEvent.id)))
        assert noted == before + 1  # the event was noted in the transaction
        raise RuntimeError("the change fails after its event was noted")


def _signed(receiver: Receiver, secret: str) -> None:
    for got in receiver.got:
        assert verify(secret, got.body, got.headers), got.headers


def test_enrollment_and_each_commission_arrive_in_dubs_shape(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = make_tenant(hooked, plan="business")
    hook = subscribe(hooked, tenant, receiver.url, PROGRAM)
    api = hooked.client(tenant.token)
    set_reward(hooked, tenant.slug, RewardEvent.sale, RewardType.percentage, 10)
    set_reward(hooked, tenant.slug, RewardEvent.lead, RewardType.flat, 150)
    partner = api.post("/api/partners", json={"email": "ada@example.com", "name": "Ada"})
    assert partner.status_code == 201, partner.text
    partner_id = partner.json()["id"]
    link = api.post(
        "/api/partners/links", json={"partnerId": partner_id, "url": "https://x.example"}
    ).json()

    receiver.wait(lambda: len(receiver.of_type("partner.enrolled")) == 1)
    enrolled = PartnerEnrolledEvent.model_validate(receiver.of_type("partner.enrolled")[0])
    assert enrolled.data.id == partner_id
    assert enrolled.data.email == "ada@example.com"
    assert enrolled.data.status.value == "approved"

    lead = api.post(
        "/api/track/lead",
        json={
            "clickId": visit(link["shortLink"]),
            "eventName": "Sign up",
            "customerExternalId": "c1",
        },
    )
    assert lead.status_code == 200, lead.text
    sale = api.post(
        "/api/track/sale",
        json={"customerExternalId": "c1", "amount": 5000, "currency": "usd", "invoiceId": "in_1"},
    )
    assert sale.status_code == 200, sale.text
    manual = api.post(
        "/api/commissions",
        json={"type": "custom", "partnerId": partner_id, "amount": -300, "description": "Fraud"},
    )
    assert manual.status_code == 202, manual.text

    receiver.wait(lambda: len(receiver.of_type("commission.created")) == 3)
    made = [
        CommissionCreatedEvent.model_validate(e) for e in receiver.of_type("commission.created")
    ]
    by_type = {(m.data.type.value, m.data.earnings) for m in made}
    assert by_type == {("lead", 150), ("sale", 500), ("custom", -300)}
    sale_event = next(m for m in made if m.data.type.value == "sale")
    assert sale_event.data.amount == 5000
    assert sale_event.data.partner.id == partner_id
    assert sale_event.data.partner.total_commissions >= 500
    assert sale_event.data.link is not None
    assert sale_event.data.link.short_link == link["shortLink"]
    assert sale_event.data.customer is not None
    assert sale_event.data.customer.external_id == "c1"
    clawback = next(m for m in made if m.data.earnings < 0)
    assert clawback.data.link is None
    assert clawback.data.description == "Fraud"
    _signed(receiver, hook["secret"])
    assert len(receiver.events) == len({r.json()["id"] for r in receiver.got})


def test_a_refund_of_a_paid_commission_sends_its_clawback(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = make_tenant(hooked, plan="business")
    api = hooked.client(tenant.token)
    set_reward(hooked, tenant.slug, RewardEvent.sale, RewardType.percentage, 10)
    partner_id = api.post("/api/partners", json={"email": "bo@example.com"}).json()["id"]
    link = api.post(
        "/api/partners/links", json={"partnerId": partner_id, "url": "https://x.example"}
    ).json()
    click = visit(link["shortLink"])
    lead = api.post(
        "/api/track/lead",
        json={"clickId": click, "eventName": "Sign up", "customerExternalId": "c2"},
    )
    assert lead.status_code == 200
    sale = api.post(
        "/api/track/sale",
        json={"customerExternalId": "c2", "amount": 8000, "currency": "usd", "invoiceId": "in_2"},
    )
    assert sale.status_code == 200
    subscribe(hooked, tenant, receiver.url, ["commission.created"])  # only the clawback
    with hooked.services.db.transaction() as session:
        paid = session.scalars(
            select(Commission).where(Commission.workspace_id == tenant.workspace_id)
        ).one()
        paid.status = CommissionStatus.paid.value
        sale_id = paid.event_id
    with hooked.services.db.transaction() as session:
        earning.on_refund(
            session,
            workspace_id=tenant.workspace_id,
            sale_id=sale_id,
            refund_id="re_1",
            net_amount=0,
        )
    receiver.wait(lambda: len(receiver.of_type("commission.created")) == 1)
    event = CommissionCreatedEvent.model_validate(receiver.of_type("commission.created")[0])
    assert event.data.earnings == -800
    assert event.data.type.value == "custom"
    assert event.data.link is not None
    assert event.data.link.id == link["id"]


def test_a_rolled_back_enrollment_or_commission_sends_nothing(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = make_tenant(hooked, plan="business")
    subscribe(hooked, tenant, receiver.url, PROGRAM)
    api = hooked.client(tenant.token)
    partner_id = api.post("/api/partners", json={"email": "cy@example.com"}).json()["id"]
    receiver.wait(lambda: len(receiver.of_type("partner.enrolled")) == 1)
    before = event_rows(hooked)

    def enroll(session: Session) -> None:
        workspace = ws.get_workspace(session, tenant.slug)
        body = PartnerCreate(email="dee@example.com")
        partners.create(session, hooked.services.links, workspace, body, None)

    def pay(session: Session) -> None:
        body = {"type": "custom", "partnerId": partner_id, "amount": 100}
        workspace = ws.get_workspace(session, tenant.slug)
        commissions.create_custom(session, workspace, CustomCommissionCreate.model_validate(body))

    for change in (enroll, pay):
        with pytest.raises(RuntimeError, match="fails"):
            _fail_after(hooked, change, before)
    assert event_rows(hooked) == before
    # A later committed change still goes out, and the receiver saw only the first.
    api.post("/api/commissions", json={"type": "custom", "partnerId": partner_id, "amount": 200})
    receiver.wait(lambda: len(receiver.of_type("commission.created")) == 1)
    assert receiver.of_type("commission.created")[0]["data"]["earnings"] == 200
    assert len(receiver.of_type("partner.enrolled")) == 1
