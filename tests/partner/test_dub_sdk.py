"""The unmodified ``dub`` SDK (0.39) drives the partner, commission and payout routes
against a live server and parses every answer (SPEC §10)."""

from __future__ import annotations

import httpx
import pytest
from dub import Dub
from dub.models import components, errors, operations

from codeqr.program.models import RewardEvent, RewardType
from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant

from .helpers import commissions, set_default_url, set_reward, visit


def _sdk(server: LiveServer, token: str) -> Dub:
    return Dub(token=token, server_url=server.base + "/api")


def test_partners_round_trip(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    set_default_url(server, tenant.slug, "https://example.com/pricing")
    with _sdk(server, tenant.token) as dub:
        made = dub.partners.create(
            request={
                "email": "Ada@Example.com",
                "name": "Ada",
                "username": "ada",
                "tenant_id": "crm-ada",
                "country": "gb",
                "description": "Writes about links",
                "link_props": {"external_id": "ada-link", "tag_names": ["partners"]},
            }
        )
        assert isinstance(made, operations.CreatePartnerResponseBody)
        assert (made.email, made.name, made.username) == ("ada@example.com", "Ada", "ada")
        assert (made.tenant_id, made.country, made.status.value) == ("crm-ada", "GB", "approved")
        assert made.partner_id == made.id
        assert made.program_id.startswith("prog_")
        assert made.links is not None
        assert len(made.links) == 1
        first = made.links[0]
        assert first.url == "https://example.com/pricing"

        # The link is a real link of the workspace, with programId and partnerId.
        link = dub.links.get(request={"link_id": first.id})
        assert (link.partner_id, link.program_id) == (made.id, made.program_id)
        assert link.track_conversion is True
        assert link.external_id == "ada-link"

        second = dub.partners.create_link(
            request={"partner_id": made.id, "url": "https://example.com/blog", "key": "ada-blog"}
        )
        assert isinstance(second, components.LinkSchema)
        assert (second.key, second.partner_id) == ("ada-blog", made.id)
        by_tenant = dub.partners.create_link(request={"tenant_id": "crm-ada"})
        assert by_tenant.url == "https://example.com/pricing"

        # Upsert: the same destination updates that link; a new one makes a link.
        same = dub.partners.upsert_link(
            request={
                "partner_id": made.id,
                "url": "https://example.com/blog",
                "link_props": {"title": "Ada's blog"},
            }
        )
        assert same.id == second.id
        assert same.title == "Ada's blog"
        fresh = dub.partners.upsert_link(
            request={"tenant_id": "crm-ada", "url": "https://example.com/docs"}
        )
        assert fresh.id not in {first.id, second.id, by_tenant.id}

        links = dub.partners.retrieve_links(request={"partner_id": made.id})
        assert [item.id for item in links] == [first.id, second.id, by_tenant.id, fresh.id]

        other = dub.partners.create(request={"email": "bob@example.com", "tenant_id": "crm-bob"})
        assert other.name == "bob"
        assert other.links is not None
        assert len(other.links) == 1
        listed = dub.partners.list(request={})
        assert {p.id for p in listed} == {made.id, other.id}
        assert [p.id for p in dub.partners.list(request={"email": "ada@example.com"})] == [made.id]
        assert [p.id for p in dub.partners.list(request={"tenant_id": "crm-bob"})] == [other.id]
        assert [p.id for p in dub.partners.list(request={"search": "ADA"})] == [made.id]
        assert [p.id for p in dub.partners.list(request={"country": "GB"})] == [made.id]
        newest = dub.partners.list(request={"sort_by": "createdAt", "page_size": 1})
        assert [p.id for p in newest] == [other.id]
        page_two = dub.partners.list(request={"sort_by": "createdAt", "page_size": 1, "page": 2})
        assert [p.id for p in page_two] == [made.id]

        # An email or tenant id enrolled already: 409, nothing written.
        with pytest.raises(errors.Conflict):
            dub.partners.create(request={"email": "ada@example.com"})
        with pytest.raises(errors.Conflict):
            dub.partners.create(request={"email": "new@example.com", "tenant_id": "crm-ada"})
        assert len(dub.partners.list(request={})) == 2

        deactivated = dub.partners.deactivate(request={"partner_id": other.id})
        assert deactivated.partner_id == other.id
        banned = dub.partners.ban(request={"tenant_id": "crm-ada", "reason": "fraud"})
        assert banned.partner_id == made.id
        statuses = {p.id: p.status.value for p in dub.partners.list(request={})}
        assert statuses == {made.id: "banned", other.id: "deactivated"}
        assert [p.id for p in dub.partners.list(request={"status": "banned"})] == [made.id]
        with pytest.raises(errors.BadRequest):
            dub.partners.ban(request={"partner_id": made.id, "reason": "spam"})
        with pytest.raises(errors.NotFound):
            dub.partners.deactivate(request={"partner_id": "pn_nobody"})


def test_commissions_and_payouts_round_trip(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    set_reward(server, tenant.slug, RewardEvent.lead, RewardType.flat, 500)
    set_reward(server, tenant.slug, RewardEvent.sale, RewardType.percentage, 20, lifetime=True)
    with _sdk(server, tenant.token) as dub:
        partner = dub.partners.create(request={"email": "ada@example.com"})
        link = dub.partners.create_link(
            request={"partner_id": partner.id, "url": "https://example.com/"}
        )
        click_id = visit(link.short_link)
        dub.track.lead(
            request={"click_id": click_id, "event_name": "Sign up", "customer_external_id": "u1"}
        )
        dub.track.sale(
            request={"customer_external_id": "u1", "amount": 4999, "invoice_id": "inv_1"}
        )

        listed = dub.commissions.list(request={})
        assert listed is not None
        rows = listed.result
        assert [(c.type.value, c.amount, c.earnings, c.currency) for c in rows] == [
            ("sale", 4999, 1000, "USD"),  # 20% of 49.99 is 9.998: rounded to 10.00
            ("lead", 0, 500, "USD"),
        ]
        assert all(c.partner.id == partner.id and c.status.value == "pending" for c in rows)
        assert rows[0].customer is not None
        assert rows[0].customer.external_id == "u1"

        # Manual commission and clawback (202, as Dub).
        accepted = dub.commissions.create(
            request={"type": "custom", "partner_id": partner.id, "amount": 2500}
        )
        assert accepted.success is True
        dub.commissions.create(
            request={
                "type": "custom",
                "partner_id": partner.id,
                "amount": -700,
                "description": "order_canceled",
            }
        )
        with pytest.raises(errors.UnprocessableEntity):
            dub.commissions.create(
                request={"type": "custom", "partner_id": partner.id, "amount": -1}
            )
        with pytest.raises(errors.NotFound):
            dub.commissions.create(request={"type": "custom", "partner_id": "pn_x", "amount": 1})
        custom = dub.commissions.list(request={"type": "custom", "sort_order": "asc"})
        assert custom is not None
        assert [c.earnings for c in custom.result] == [2500, -700]

        # Paging: one per page after the last id seen, the cursor Dub's SDK pages with.
        # (0.39's own ``next()`` never gets there: its JSONPath ``$[-1].id`` finds nothing.)
        everything = dub.commissions.list(request={})
        assert everything is not None
        seen: list[str] = []
        while True:
            after = {"starting_after": seen[-1]} if seen else {}
            page = dub.commissions.list(request={"page_size": 1, **after})
            if page is None or not page.result:
                break
            seen.append(page.result[0].id)
        assert seen == [c.id for c in everything.result]
        assert len(set(seen)) == 4
        back = dub.commissions.list(request={"page_size": 2, "ending_before": seen[3]})
        assert back is not None
        assert [c.id for c in back.result] == seen[1:3]
        by_page = dub.commissions.list(request={"page_size": 3, "page": 2})
        assert by_page is not None
        assert [c.id for c in by_page.result] == seen[3:]

        sale = rows[0]
        changed = dub.commissions.update(
            request={"id": sale.id, "request_body": {"modify_sale_amount": -1999}}
        )
        assert (changed.amount, changed.earnings) == (3000, 600)
        changed = dub.commissions.update(
            request={"id": sale.id, "request_body": {"sale_amount": 10_000}}
        )
        assert (changed.amount, changed.earnings) == (10_000, 2000)
        refunded = dub.commissions.update(
            request={"id": sale.id, "request_body": {"status": "refunded"}}
        )
        assert refunded.status.value == "refunded"
        with pytest.raises(errors.BadRequest):
            dub.commissions.update(request={"id": sale.id, "request_body": {"status": "refunded"}})
        with pytest.raises(errors.NotFound):
            dub.commissions.update(
                request={"id": "cm_missing", "request_body": {"status": "fraud"}}
            )

        ids = [c.id for c in custom.result]
        bulk = dub.commissions.update_many(request={"commission_ids": ids, "status": "canceled"})
        assert {(b.id, b.status.value) for b in bulk} == {(i, "canceled") for i in ids}
        # All or nothing: one unknown id and nothing changes.
        with pytest.raises(errors.NotFound):
            dub.commissions.update_many(
                request={"commission_ids": [rows[1].id, "cm_missing"], "status": "fraud"}
            )
        lead = dub.commissions.list(request={"type": "lead"})
        assert lead is not None
        assert lead.result[0].status.value == "pending"

        assert dub.payouts.list(request={}) == []
        assert dub.payouts.list(request={"status": "completed", "partner_id": partner.id}) == []

    assert len(commissions(server, tenant.workspace_id)) == 4


def test_plan_gate_and_publishable_key(server: LiveServer) -> None:
    pro = make_tenant(server, plan="pro")
    with _sdk(server, pro.token) as dub:
        with pytest.raises(errors.Forbidden) as refused:
            dub.partners.create(request={"email": "ada@example.com"})
        assert "Business plan" in refused.value.data.error.message
        with pytest.raises(errors.Forbidden):
            dub.commissions.list(request={})
        with pytest.raises(errors.Forbidden):
            dub.payouts.list(request={})
    business = make_tenant(server, plan="business")
    publishable = make_key(server, business, publishable=True)
    http = server.client(publishable)
    for method, path in [
        ("GET", "/api/partners"),
        ("POST", "/api/partners"),
        ("GET", "/api/partners/links"),
        ("POST", "/api/partners/links"),
        ("PUT", "/api/partners/links/upsert"),
        ("POST", "/api/partners/ban"),
        ("POST", "/api/partners/deactivate"),
        ("GET", "/api/commissions"),
        ("POST", "/api/commissions"),
        ("PATCH", "/api/commissions/bulk"),
        ("PATCH", "/api/commissions/cm_x"),
        ("GET", "/api/payouts"),
    ]:
        answer = http.request(method, path, json={"email": "x@example.com"})
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "forbidden"


def test_bad_input_is_a_clear_4xx_and_writes_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    http = server.client(tenant.token)
    cases = [
        ("POST", "/api/partners", {"email": "not an email"}, 422, "email"),
        ("POST", "/api/partners", {"email": "a@example.com", "country": "XX"}, 422, "country"),
        (
            "POST",
            "/api/partners",
            {"email": "a@example.com", "linkProps": {"geo": {"ZZ": "https://x.com"}}},
            422,
            "linkProps",
        ),
        ("POST", "/api/partners/links", {"url": "https://x.com"}, 422, "partnerId"),
        ("GET", "/api/partners/links", None, 422, "partnerId"),
        ("POST", "/api/partners/ban", {"partnerId": "pn_x", "reason": "nope"}, 422, "reason"),
        ("POST", "/api/commissions", {"type": "custom", "partnerId": "pn_x"}, 404, "pn_x"),
        (
            "PATCH",
            "/api/commissions/bulk",
            {"commissionIds": [], "status": "fraud"},
            422,
            "commissionIds",
        ),
        ("GET", "/api/partners?pageSize=101", None, 422, "pageSize"),
        ("GET", "/api/commissions?pageSize=0", None, 422, "pageSize"),
        ("GET", "/api/partners?sortBy=netRevenue", None, 422, "sortBy"),
    ]
    for method, path, body, status, named in cases:
        answer = http.request(method, path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert named in answer.json()["error"]["message"], answer.text
    # A partner whose first link is refused is not enrolled either.
    set_default_url(server, tenant.slug, "https://example.com/")
    refused = http.post(
        "/api/partners",
        json={"email": "a@example.com", "linkProps": {"expiredUrl": "ftp://example.com/"}},
    )
    assert refused.status_code == 422, refused.text
    assert http.get("/api/partners").json() == []


def test_a_deactivated_or_banned_partner_earns_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    set_reward(server, tenant.slug, RewardEvent.lead, RewardType.flat, 300)
    with _sdk(server, tenant.token) as dub:
        partner = dub.partners.create(request={"email": "ada@example.com"})
        link = dub.partners.create_link(request={"partner_id": partner.id, "url": "https://x.com"})
        dub.track.lead(
            request={
                "click_id": visit(link.short_link),
                "event_name": "Sign up",
                "customer_external_id": "before",
            }
        )
        dub.partners.deactivate(request={"partner_id": partner.id})
        dub.track.lead(
            request={
                "click_id": visit(link.short_link),
                "event_name": "Sign up",
                "customer_external_id": "after",
            }
        )
    rows = commissions(server, tenant.workspace_id)
    assert [(r["type"], r["earnings"]) for r in rows] == [("lead", 300)]
    assert httpx.get(link.short_link, follow_redirects=False).status_code == 302


def test_partner_analytics(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="business")
    set_reward(server, tenant.slug, RewardEvent.lead, RewardType.flat, 500)
    set_reward(server, tenant.slug, RewardEvent.sale, RewardType.percentage, 10, lifetime=True)
    with _sdk(server, tenant.token) as dub:
        ada = dub.partners.create(request={"email": "ada@example.com", "tenant_id": "t-ada"})
        bob = dub.partners.create(request={"email": "bob@example.com"})
        first = dub.partners.create_link(request={"partner_id": ada.id, "url": "https://a.com"})
        second = dub.partners.create_link(request={"partner_id": ada.id, "url": "https://b.com"})
        other = dub.partners.create_link(request={"partner_id": bob.id, "url": "https://c.com"})
        for n, link in enumerate([first, first, second, other]):
            dub.track.lead(
                request={
                    "click_id": visit(link.short_link),
                    "event_name": "Sign up",
                    "customer_external_id": f"u{n}",
                }
            )
        dub.track.sale(request={"customer_external_id": "u0", "amount": 10_000, "invoice_id": "i"})

        count = dub.partners.analytics(request={"partner_id": ada.id, "interval": "24h"})
        assert isinstance(count, components.PartnerAnalyticsCount)
        # The same visitor on the same link within the hour is one click (SPEC §3.3).
        assert (count.clicks, count.leads, count.sales, count.sale_amount) == (2, 3, 1, 10_000)
        assert count.earnings == 3 * 500 + 1_000
        by_tenant = dub.partners.analytics(request={"tenant_id": "t-ada", "interval": "24h"})
        assert by_tenant == count

        series = dub.partners.analytics(
            request={"partner_id": ada.id, "interval": "24h", "group_by": "timeseries"}
        )
        assert isinstance(series, list)
        assert len(series) >= 24
        assert sum(row.clicks or 0 for row in series) == 2
        assert sum(row.earnings or 0 for row in series) == 2_500

        top = dub.partners.analytics(
            request={"partner_id": ada.id, "interval": "24h", "group_by": "top_links"}
        )
        assert isinstance(top, list)
        assert [(row.id, row.clicks, row.earnings) for row in top] == [
            (first.id, 1, 2_000),
            (second.id, 1, 500),
        ]
        assert all(row.partner_id == ada.id for row in top)

        lonely = dub.partners.create(request={"email": "cy@example.com"})
        empty = dub.partners.analytics(request={"partner_id": lonely.id})
        assert (empty.clicks, empty.leads, empty.earnings) == (0, 0, 0)
        with pytest.raises(errors.NotFound):
            dub.partners.analytics(request={"partner_id": "pn_nobody"})


def test_track_lead_names_the_partner_and_program_of_the_link(server: LiveServer) -> None:
    """Dub fills ``link.partnerId``/``programId`` in ``track.lead``'s answer; a plain
    link's are null (read with the link, in the same statement)."""
    tenant = make_tenant(server, plan="business")
    with _sdk(server, tenant.token) as dub:
        partner = dub.partners.create(request={"email": "lee@example.com"})
        link = dub.partners.create_link(
            request={"partner_id": partner.id, "url": "https://example.com/"}
        )
        plain = dub.links.create(
            request={"url": "https://example.com/plain", "track_conversion": True}
        )
        by_partner = dub.track.lead(
            request={
                "click_id": visit(link.short_link),
                "event_name": "Sign up",
                "customer_external_id": "p1",
            }
        )
        assert by_partner is not None
        assert by_partner.link is not None
        assert (by_partner.link.partner_id, by_partner.link.program_id) == (
            partner.id,
            partner.program_id,
        )
        by_plain = dub.track.lead(
            request={
                "click_id": visit(plain.short_link),
                "event_name": "Sign up",
                "customer_external_id": "p2",
            }
        )
        assert by_plain is not None
        assert by_plain.link is not None
        assert by_plain.link.id == plain.id
        assert (by_plain.link.partner_id, by_plain.link.program_id) == (None, None)
