"""Plan gating (conversion tracking needs Business or higher) and workspace isolation on
every route of the conversions issue (SPEC §2)."""

from __future__ import annotations

import pytest

from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant
from tests.link.helpers import error_of

from .helpers import customers, leads, link_counters, sales, tracked_click

GATED = [
    ("post", "/api/track/lead", {"clickId": "x", "eventName": "e", "customerExternalId": "c"}),
    ("post", "/api/track/sale", {"customerExternalId": "c", "amount": 1}),
    ("get", "/api/customers", None),
    ("post", "/api/customers", {"externalId": "c"}),
    ("get", "/api/customers/ext_c", None),
    ("patch", "/api/customers/ext_c", {"name": "n"}),
    ("delete", "/api/customers/ext_c", None),
    ("post", "/api/links", {"url": "https://example.com", "trackConversion": True}),
]


def _downgrade(server: LiveServer, tenant: Tenant, plan: str) -> None:
    with server.services.db.transaction() as session:
        ws.set_plan(session, ws.get_workspace(session, tenant.slug), plan)


@pytest.mark.parametrize("plan", ["free", "pro"])
def test_lower_plans_get_403_naming_business_on_every_gated_route(
    server: LiveServer, plan: str
) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    api = server.client(tenant.token)
    api.post("/api/customers", json={"externalId": "c"})
    _downgrade(server, tenant, plan)
    for method, path, template in GATED:
        body = template
        if template and template.get("clickId") == "x":
            body = {**template, "clickId": click.click_id}
        response = api.request(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
        error = error_of(response)
        assert error["code"] == "forbidden"
        assert "Business" in error["message"], error
    assert leads(server, tenant.workspace_id) == []
    assert sales(server, tenant.workspace_id) == []
    assert len(customers(server, tenant.workspace_id)) == 1


@pytest.mark.parametrize("plan", ["business", "advanced", "enterprise"])
def test_business_and_higher_may_track(server: LiveServer, plan: str) -> None:
    tenant = make_tenant(server, plan=plan)
    click = tracked_click(server, tenant)
    response = server.client(tenant.token).post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "c"},
    )
    assert response.status_code == 200, response.text


def test_a_key_of_workspace_a_never_reaches_workspace_b(server: LiveServer) -> None:
    a = make_tenant(server)
    b = make_tenant(server)
    b_click = tracked_click(server, b)
    b_api = server.client(b.token)
    b_api.post(
        "/api/track/lead",
        json={"clickId": b_click.click_id, "eventName": "Sign up", "customerExternalId": "shared"},
    )
    b_customer = b_api.get("/api/customers/ext_shared").json()
    a_api = server.client(a.token)

    # B's customer, by id and by external id, is not there for A.
    for path in (f"/api/customers/{b_customer['id']}", "/api/customers/ext_shared"):
        for method in ("get", "patch", "delete"):
            response = a_api.request(method, path, json={"name": "stolen"})
            assert response.status_code == 404, (method, path)
    assert a_api.get("/api/customers").json() == []
    # B's click cannot be claimed by A, and A's sale for B's customer finds nobody.
    response = a_api.post(
        "/api/track/lead",
        json={"clickId": b_click.click_id, "eventName": "Sign up", "customerExternalId": "x"},
    )
    assert response.status_code == 404
    sale = a_api.post("/api/track/sale", json={"customerExternalId": "shared", "amount": 100})
    assert sale.json() == {"eventName": "Purchase", "customer": None, "sale": None}
    # A's customer with the same external id is A's own, separate from B's.
    assert a_api.post("/api/customers", json={"externalId": "shared"}).status_code == 200
    assert a_api.get("/api/customers/ext_shared").json()["id"] != b_customer["id"]

    assert b_api.get("/api/customers/ext_shared").json()["name"] is None
    assert link_counters(server, b_click.link_id) == {
        "clicks": 1,
        "leads": 1,
        "sales": 0,
        "saleAmount": 0,
    }
    assert sales(server, a.workspace_id) == sales(server, b.workspace_id) == []
