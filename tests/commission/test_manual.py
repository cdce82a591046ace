"""``commissions.create`` with ``type: lead`` and ``type: sale`` through the unmodified
``dub`` SDK: the event is recorded on the partner's link and earns its commission, once
(SPEC §10)."""

from __future__ import annotations

import pytest
from dub import Dub
from dub.models import errors

from codeqr.program.models import RewardEvent, RewardType
from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.partner.helpers import commissions, set_reward


def test_manual_lead_and_sale_commissions_round_trip(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    api = server.client(tenant.token)
    with Dub(token=tenant.token, server_url=server.base + "/api") as dub:
        partner = dub.partners.create(request={"email": "ada@example.com"})
        # No lead reward yet: refused before anything is written.
        with pytest.raises(errors.BadRequest):
            dub.commissions.create(
                request={
                    "type": "lead",
                    "partner_id": partner.id,
                    "customer": {"external_id": "c1", "country": "US"},
                }
            )
        set_reward(server, tenant.slug, RewardEvent.lead, RewardType.flat, 300)
        set_reward(server, tenant.slug, RewardEvent.sale, RewardType.percentage, 10, lifetime=True)
        link = dub.partners.create_link(
            request={"partner_id": partner.id, "url": "https://example.com/"}
        )
        lead = dub.commissions.create(
            request={
                "type": "lead",
                "partner_id": partner.id,
                "customer": {"external_id": "c1", "country": "US", "name": "Cleo"},
                "lead": {"event_name": "Sign up"},
            }
        )
        assert lead.success is True
        # The same lead again: one per customer and event name.
        with pytest.raises(errors.Conflict):
            dub.commissions.create(
                request={
                    "type": "lead",
                    "partner_id": partner.id,
                    "customer": {"external_id": "c1", "country": "US"},
                    "lead": {"event_name": "Sign up"},
                }
            )
        sale = dub.commissions.create(
            request={
                "type": "sale",
                "partner_id": partner.id,
                "customer": {"external_id": "c1", "country": "US"},
                "link_id": link.id,
                "sale": {"amount": 12_000, "currency": "usd", "invoice_id": "inv_m1"},
            }
        )
        assert sale.success is True
        with pytest.raises(errors.Conflict):  # the invoice is already recorded
            dub.commissions.create(
                request={
                    "type": "sale",
                    "partner_id": partner.id,
                    "customer": {"external_id": "c1", "country": "US"},
                    "sale": {"amount": 12_000, "invoice_id": "inv_m1"},
                }
            )
        with pytest.raises(errors.UnprocessableEntity):
            dub.commissions.create(
                request={
                    "type": "sale",
                    "partner_id": partner.id,
                    "customer": {"external_id": "c1", "country": "US"},
                    "stripe_invoices_to_import": "all",
                }
            )
        with pytest.raises(errors.NotFound):  # not this partner's link
            dub.commissions.create(
                request={
                    "type": "sale",
                    "partner_id": partner.id,
                    "customer_id": "cus_nobody",
                    "link_id": "link_other",
                    "sale": {"amount": 100},
                }
            )
        listed = dub.commissions.list(request={"sort_order": "asc"})
        assert listed is not None
        rows = [(c.type.value, c.amount, c.earnings) for c in listed.result]
        assert rows == [("lead", 0, 300), ("sale", 12_000, 1_200)]
        assert all(c.customer and c.customer.external_id == "c1" for c in listed.result)
    # The events are real: the link counts the click made for the lead, the lead, the sale.
    shown = api.get(f"/api/links/{link.id}").json()
    assert (shown["clicks"], shown["leads"], shown["sales"], shown["saleAmount"]) == (
        1,
        1,
        1,
        12_000,
    )
    raw = api.get("/api/commissions").json()
    assert {c["linkId"] for c in raw} == {link.id}
    assert len(commissions(server, tenant.workspace_id)) == 2


def test_a_deactivated_partner_gets_no_manual_commission(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    set_reward(server, tenant.slug, RewardEvent.sale, RewardType.flat, 900, lifetime=True)
    with Dub(token=tenant.token, server_url=server.base + "/api") as dub:
        partner = dub.partners.create(request={"email": "bo@example.com"})
        dub.partners.create_link(request={"partner_id": partner.id, "url": "https://e.com/"})
        dub.partners.deactivate(request={"partner_id": partner.id})
        with pytest.raises(errors.BadRequest):
            dub.commissions.create(
                request={
                    "type": "sale",
                    "partner_id": partner.id,
                    "customer": {"external_id": "c2", "country": "US"},
                    "sale": {"amount": 5_000},
                }
            )
    assert commissions(server, tenant.workspace_id) == []
