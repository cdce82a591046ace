"""The customers API: the unmodified ``dub`` SDK's ``customers.*``, plain HTTP for the rest,
``ext_<externalId>`` ids, conflicts, bad input, and workspace isolation (SPEC §4, §8)."""

from __future__ import annotations

import pytest
from dub.models import errors

from tests.conftest import LiveServer
from tests.conversion.helpers import customers, tracked_click
from tests.factories import make_tenant
from tests.link.helpers import dub_sdk, error_of


def _lead(server: LiveServer, token: str, click_id: str, external_id: str) -> None:
    response = server.client(token).post(
        "/api/track/lead",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": external_id,
            "customerEmail": f"{external_id}@example.com",
            "customerName": f"Name {external_id}",
        },
    )
    assert response.status_code == 200, response.text


def test_dub_sdk_lists_gets_updates_and_deletes_customers(server: LiveServer) -> None:
    tenant = make_tenant(server)
    click = tracked_click(server, tenant)
    for external_id in ("alice", "bob"):
        _lead(server, tenant.token, click.click_id, external_id)
    with dub_sdk(server, tenant.token) as dub:
        listed = dub.customers.list(request={})
        assert listed is not None
        assert sorted(c.external_id for c in listed.result) == ["alice", "bob"]
        by_email = dub.customers.list(request={"email": "bob@example.com"})
        assert by_email is not None
        (bob,) = by_email.result
        assert bob.name == "Name bob"

        got = dub.customers.get(request={"id": bob.id})
        assert got.external_id == "bob"
        assert got.link is not None
        assert got.link.short_link == click.short_link
        assert dub.customers.get(request={"id": "ext_bob"}).id == bob.id

        updated = dub.customers.update(
            request={"id": "ext_bob", "request_body": {"name": "Robert", "email": None}}
        )
        assert (updated.name, updated.email) == ("Robert", None)

        deleted = dub.customers.delete(id=bob.id)
        assert deleted.id == bob.id
        with pytest.raises(errors.NotFound):
            dub.customers.get(request={"id": bob.id})
    assert [c.external_id for c in customers(server, tenant.workspace_id)] == ["alice"]


def test_create_then_conflict_then_search_and_sort(server: LiveServer) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    made = api.post(
        "/api/customers",
        json={"externalId": "crm-1", "name": "Grace", "email": "grace@navy.mil", "country": "us"},
    )
    assert made.status_code == 200, made.text
    assert made.json()["country"] == "US"
    assert (made.json()["sales"], made.json()["saleAmount"]) == (0, 0)
    again = api.post("/api/customers", json={"externalId": "crm-1"})
    assert again.status_code == 409
    assert "crm-1" in error_of(again)["message"]
    api.post("/api/customers", json={"externalId": "crm-2", "name": "Linus"})
    found = api.get("/api/customers", params={"search": "gra"}).json()
    assert [c["externalId"] for c in found] == ["crm-1"]
    oldest_first = api.get("/api/customers", params={"sortOrder": "asc", "pageSize": "1.0"})
    assert [c["externalId"] for c in oldest_first.json()] == ["crm-1"]
    second_page = api.get("/api/customers", params={"sortOrder": "asc", "pageSize": 1, "page": 2})
    assert [c["externalId"] for c in second_page.json()] == ["crm-2"]


def test_changing_external_id_to_a_taken_one_is_409_and_writes_nothing(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    api.post("/api/customers", json={"externalId": "a", "name": "A"})
    api.post("/api/customers", json={"externalId": "b", "name": "B"})
    response = api.patch("/api/customers/ext_b", json={"externalId": "a", "name": "changed"})
    assert response.status_code == 409
    assert api.get("/api/customers/ext_b").json()["name"] == "B"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/customers", {"name": "no external id"}),
        ("post", "/api/customers", {"externalId": ""}),
        ("post", "/api/customers", {"externalId": "x", "country": "Narnia"}),
        ("post", "/api/customers", {"externalId": "x" * 191}),
        ("post", "/api/customers", {"externalId": "x", "email": 5}),
        ("patch", "/api/customers/ext_known", {"country": "ZZ"}),
        ("patch", "/api/customers/ext_known", {"name": ["list"]}),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    server: LiveServer, method: str, path: str, body: dict[str, object]
) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    api.post("/api/customers", json={"externalId": "known", "name": "Known"})
    response = api.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "unprocessable_entity"
    (only,) = customers(server, tenant.workspace_id)
    assert (only.external_id, only.name, only.country) == ("known", "Known", None)


def test_unknown_customer_is_404(server: LiveServer) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    for method in ("get", "patch", "delete"):
        response = api.request(method, "/api/customers/ext_nobody", json={"name": "x"})
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
