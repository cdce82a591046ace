"""The workspace API over HTTP: read and change settings, all or nothing, own workspace only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from codeqr.kit.errors import Unprocessable
from codeqr.workspace.service import hostname_allowed, normalize_hostname
from tests.conftest import LiveServer
from tests.factories import Tenant, make_key, make_tenant


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def fetch(server: LiveServer, tenant: Tenant) -> dict[str, Any]:
    response = server.client(tenant.token).get(f"/api/workspaces/{tenant.slug}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_get_by_slug_or_id(server: LiveServer) -> None:
    tenant = make_tenant(server)
    client = server.client(tenant.token)
    by_slug = client.get(f"/api/workspaces/{tenant.slug}").json()
    by_id = client.get(f"/api/workspaces/{tenant.workspace_id}").json()
    assert by_slug == by_id
    assert set(by_slug) == {
        "id",
        "name",
        "slug",
        "plan",
        "currency",
        "allowedHostnames",
        "clientSalesEnabled",
        "clientSaleMax",
        "createdAt",
    }
    assert by_slug["id"] == tenant.workspace_id
    assert by_slug["slug"] == tenant.slug
    assert by_slug["plan"] == "business"
    assert by_slug["currency"] == "USD"
    assert by_slug["allowedHostnames"] == []
    assert by_slug["createdAt"].endswith("Z")


def test_set_the_reporting_currency_lower_case_accepted(server: LiveServer) -> None:
    tenant = make_tenant(server)
    response = server.client(tenant.token).patch(
        f"/api/workspaces/{tenant.slug}", json={"currency": "eur"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["currency"] == "EUR"
    assert fetch(server, tenant)["currency"] == "EUR"


@pytest.mark.parametrize("currency", ["xyz", "dollars", ""])
def test_an_unknown_currency_is_422_and_nothing_is_written(
    server: LiveServer, currency: str
) -> None:
    tenant = make_tenant(server)
    before = fetch(server, tenant)
    response = server.client(tenant.token).patch(
        f"/api/workspaces/{tenant.slug}", json={"name": "Renamed", "currency": currency}
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unprocessable_entity"
    assert error["message"] == f"currency: {currency!r} is not an ISO 4217 currency code"
    assert fetch(server, tenant) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": 840}, "currency"),
        ({"allowedHostnames": "example.com"}, "allowedHostnames"),
        ({"name": ["x"]}, "name"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    server: LiveServer, body: dict[str, Any], field: str
) -> None:
    tenant = make_tenant(server)
    response = server.client(tenant.token).patch(f"/api/workspaces/{tenant.slug}", json=body)
    assert response.status_code == 422
    assert error_of(response)["message"].startswith(f"Invalid request: {field}")


def test_allowed_hostnames_are_cleaned(server: LiveServer) -> None:
    tenant = make_tenant(server)
    hosts = ["Example.com", "*.Example.com", "localhost", "example.com.", "bücher.de"]
    response = server.client(tenant.token).patch(
        f"/api/workspaces/{tenant.workspace_id}", json={"allowedHostnames": hosts}
    )
    assert response.status_code == 200, response.text
    expected = ["example.com", "*.example.com", "localhost", "xn--bcher-kva.de"]
    assert response.json()["allowedHostnames"] == expected
    assert fetch(server, tenant)["allowedHostnames"] == expected
    cleared = server.client(tenant.token).patch(
        f"/api/workspaces/{tenant.slug}", json={"allowedHostnames": []}
    )
    assert cleared.json()["allowedHostnames"] == []


@pytest.mark.parametrize(
    "bad", ["https://example.com", "example.com:3000", "example.com/path", "*.com", "127.0.0.1"]
)
def test_a_bad_hostname_is_422_and_nothing_is_written(server: LiveServer, bad: str) -> None:
    tenant = make_tenant(server)
    client = server.client(tenant.token)
    client.patch(f"/api/workspaces/{tenant.slug}", json={"allowedHostnames": ["a.example"]})
    response = client.patch(
        f"/api/workspaces/{tenant.slug}",
        json={"currency": "EUR", "allowedHostnames": ["ok.example", bad]},
    )
    assert response.status_code == 422
    assert error_of(response)["message"].startswith(f"allowedHostnames: {bad!r} is not a hostname")
    after = fetch(server, tenant)
    assert after["allowedHostnames"] == ["a.example"]
    assert after["currency"] == "USD"


def test_nulls_and_an_empty_body_change_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server)
    before = fetch(server, tenant)
    client = server.client(tenant.token)
    nulls = {"name": None, "slug": None, "currency": None, "allowedHostnames": None}
    assert client.patch(f"/api/workspaces/{tenant.slug}", json=nulls).json() == before
    assert client.patch(f"/api/workspaces/{tenant.slug}", json={}).json() == before
    assert client.patch(f"/api/workspaces/{tenant.slug}").json() == before


def test_client_sales_are_off_by_default_and_turned_on_with_a_maximum(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    before = fetch(server, tenant)
    assert (before["clientSalesEnabled"], before["clientSaleMax"]) == (False, None)
    client = server.client(tenant.token)
    path = f"/api/workspaces/{tenant.slug}"
    no_max = client.patch(path, json={"clientSalesEnabled": True, "name": "Renamed"})
    assert no_max.status_code == 422
    assert error_of(no_max)["message"].startswith("clientSaleMax: required")
    assert fetch(server, tenant) == before  # all or nothing
    for bad in (0, -5, 10**16):
        refused = client.patch(path, json={"clientSalesEnabled": True, "clientSaleMax": bad})
        assert refused.status_code == 422, bad
        assert "clientSaleMax" in error_of(refused)["message"]
    on = client.patch(path, json={"clientSalesEnabled": True, "clientSaleMax": 50_000})
    assert on.status_code == 200, on.text
    assert (on.json()["clientSalesEnabled"], on.json()["clientSaleMax"]) == (True, 50_000)
    off = client.patch(path, json={"clientSalesEnabled": False})
    assert (off.json()["clientSalesEnabled"], off.json()["clientSaleMax"]) == (False, 50_000)
    again = client.patch(path, json={"clientSalesEnabled": True})  # the kept maximum
    assert again.json()["clientSalesEnabled"] is True


def test_rename_and_change_the_slug(server: LiveServer) -> None:
    tenant = make_tenant(server)
    other = make_tenant(server)
    client = server.client(tenant.token)
    taken = client.patch(f"/api/workspaces/{tenant.slug}", json={"slug": other.slug})
    assert taken.status_code == 409
    assert error_of(taken)["code"] == "conflict"
    bad = client.patch(f"/api/workspaces/{tenant.slug}", json={"slug": "-Bad-"})
    assert bad.status_code == 422
    assert error_of(bad)["message"].startswith("slug:")
    blank = client.patch(f"/api/workspaces/{tenant.slug}", json={"name": "   "})
    assert blank.status_code == 422
    assert error_of(blank)["message"].startswith("name:")
    moved = client.patch(
        f"/api/workspaces/{tenant.slug}", json={"slug": f"{tenant.slug}-new", "name": " Acme "}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["name"] == "Acme"
    assert client.get(f"/api/workspaces/{tenant.slug}-new").json()["id"] == tenant.workspace_id
    assert client.get(f"/api/workspaces/{tenant.slug}").status_code == 404


def test_another_workspace_is_404_and_untouched(server: LiveServer) -> None:
    mine = make_tenant(server)
    theirs = make_tenant(server)
    client = server.client(mine.token)
    before = fetch(server, theirs)
    for ref in (theirs.slug, theirs.workspace_id, "no-such-workspace"):
        got = client.get(f"/api/workspaces/{ref}")
        assert got.status_code == 404
        assert error_of(got)["code"] == "not_found"
        patched = client.patch(f"/api/workspaces/{ref}", json={"currency": "JPY"})
        assert patched.status_code == 404
    assert fetch(server, theirs) == before


def test_publishable_key_is_403_and_no_key_is_401(server: LiveServer) -> None:
    tenant = make_tenant(server)
    publishable = make_key(server, tenant, publishable=True)
    path = f"/api/workspaces/{tenant.slug}"
    for client, status, code in (
        (server.client(publishable), 403, "forbidden"),
        (server.client(), 401, "unauthorized"),
    ):
        for response in (client.get(path), client.patch(path, json={"currency": "EUR"})):
            assert response.status_code == status
            assert error_of(response)["code"] == code
    assert fetch(server, tenant)["currency"] == "USD"


def test_the_routes_are_described_in_openapi(server: LiveServer) -> None:
    paths = server.client().get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/workspaces/{idOrSlug}"]) == {"get", "patch"}


# Hostname rules (codeqr.workspace.service), used by client-side tracking.


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("example.com", True),
        ("EXAMPLE.com.", True),
        ("www.example.com", False),
        ("shop.acme.io", True),
        ("a.b.acme.io", True),
        ("acme.io", False),  # a wildcard does not cover its apex
        ("evilacme.io", False),
        ("acme.io.evil.com", False),
        ("localhost", True),
        ("", False),
    ],
)
def test_hostname_allowed(host: str, allowed: bool) -> None:
    assert hostname_allowed(["example.com", "*.acme.io", "localhost"], host) is allowed


def test_nothing_is_allowed_by_an_empty_list() -> None:
    assert not hostname_allowed([], "example.com")


@pytest.mark.parametrize(
    "bad", ["", "*", "*.localhost", "exa mple.com", "-a.com", "a..com", "x" * 64 + ".com"]
)
def test_normalize_hostname_refuses(bad: str) -> None:
    with pytest.raises(Unprocessable):
        normalize_hostname(bad)


def test_the_largest_client_sale_stays_the_same_money_when_the_currency_changes(
    server: LiveServer,
) -> None:
    """clientSaleMax is in the reporting currency: a change of currency converts it at
    today's ECB rate, rounded down (1,000.00 USD must not become 1,000 JPY); one given with
    the change is taken as it is; without a rate, client sales are turned off."""
    from datetime import UTC, datetime
    from decimal import Decimal

    tenant = make_tenant(server)
    client = server.client(tenant.token)
    path = f"/api/workspaces/{tenant.slug}"
    on = client.patch(path, json={"clientSalesEnabled": True, "clientSaleMax": 100_000})
    assert on.status_code == 200, on.text
    yen = client.patch(path, json={"currency": "JPY"})
    assert yen.status_code == 200, yen.text
    rate = server.services.rates.convert(100_000, "USD", "JPY", datetime.now(UTC).date())
    assert rate is not None
    expected = int(100_000 * rate.rate / Decimal(100))  # cents to whole yen, rounded down
    assert yen.json()["clientSaleMax"] == expected
    assert 50_000 < expected < 500_000  # some hundred thousand yen, not 100,000 or 1,000
    assert yen.json()["clientSalesEnabled"] is True
    given = client.patch(path, json={"currency": "EUR", "clientSaleMax": 70_000})
    assert (given.json()["currency"], given.json()["clientSaleMax"]) == ("EUR", 70_000)
    no_rate = client.patch(path, json={"currency": "XAF"})  # not published by the ECB
    assert no_rate.status_code == 200, no_rate.text
    assert (no_rate.json()["clientSalesEnabled"], no_rate.json()["clientSaleMax"]) == (False, None)
