"""Sales in any currency: original amount kept, converted at the ECB rate of the sale's day
into the workspace's reporting currency; unknown rates flagged and left out of totals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from codeqr.conversion import flows
from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant
from tests.money.test_rates import ecb

from .helpers import customers, link_counters, sales, tracked_click

FRIDAY = date(2024, 3, 15)
SUNDAY = date(2024, 3, 17)


def _at(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Sales recorded from now on happen at noon UTC of ``day``."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    monkeypatch.setattr(flows, "now_ms", lambda: int(noon.timestamp() * 1000))


def _customer(server: LiveServer, tenant: Tenant) -> str:
    """A customer who came through a tracked link; returns the link id."""
    click = tracked_click(server, tenant)
    server.client(tenant.token).post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Sign up", "customerExternalId": "u1"},
    )
    return click.link_id


def _sell(server: LiveServer, tenant: Tenant, amount: int, currency: str) -> None:
    response = server.client(tenant.token).post(
        "/api/track/sale",
        json={"customerExternalId": "u1", "amount": amount, "currency": currency},
    )
    assert response.status_code == 200, response.text
    assert response.json()["sale"] == {
        "amount": amount,
        "currency": currency.lower(),
        "paymentProcessor": "custom",
        "invoiceId": None,
        "metadata": None,
    }


def _expected(amount: int, src_decimals: int, src: str, dst: str, day: date) -> int:
    """The converted amount in minor units of ``dst`` (2 decimals), computed here from the
    ECB's published table with exact fractions, rounded half-even like Python's round."""
    major = Fraction(amount, 10**src_decimals)
    in_dst = major / ecb(src, day) * ecb(dst, day)
    return round(in_dst * 100)


def test_usd_sale_in_a_usd_workspace_is_taken_as_is(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    link_id = _customer(server, tenant)
    _at(monkeypatch, FRIDAY)
    _sell(server, tenant, 4900, "usd")
    (sale,) = sales(server, tenant.workspace_id)
    assert (sale["amount"], sale["currency"], sale["reporting_amount"]) == (4900, "USD", 4900)
    assert sale["fx_missing"] is False
    assert link_counters(server, link_id)["saleAmount"] == 4900


def test_eur_sale_is_converted_at_the_ecb_rate_of_its_day(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    link_id = _customer(server, tenant)
    _at(monkeypatch, FRIDAY)
    _sell(server, tenant, 12345, "EUR")
    (sale,) = sales(server, tenant.workspace_id)
    expected = _expected(12345, 2, "EUR", "USD", FRIDAY)
    assert (sale["amount"], sale["currency"]) == (12345, "EUR")
    assert (sale["reporting_amount"], sale["reporting_currency"]) == (expected, "USD")
    assert sale["fx_date"] == FRIDAY.isoformat()
    assert link_counters(server, link_id)["saleAmount"] == expected
    (customer,) = customers(server, tenant.workspace_id)
    assert customer.sale_amount == expected


def test_a_weekend_sale_uses_the_last_published_rate(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    _customer(server, tenant)
    _at(monkeypatch, SUNDAY)
    _sell(server, tenant, 10000, "eur")
    (sale,) = sales(server, tenant.workspace_id)
    assert sale["fx_date"] == FRIDAY.isoformat()
    assert sale["reporting_amount"] == _expected(10000, 2, "EUR", "USD", FRIDAY)


def test_jpy_is_zero_decimal(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(server)
    link_id = _customer(server, tenant)
    _at(monkeypatch, FRIDAY)
    _sell(server, tenant, 4980, "jpy")  # ¥4,980, not ¥49.80
    (sale,) = sales(server, tenant.workspace_id)
    expected = _expected(4980, 0, "JPY", "USD", FRIDAY)
    assert 3000 < expected < 4000  # about $33 in March 2024
    assert sale["reporting_amount"] == expected
    assert link_counters(server, link_id)["saleAmount"] == expected


def test_kwd_is_three_decimal_and_without_ecb_rate_is_kept_flagged_and_not_totalled(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    link_id = _customer(server, tenant)
    _at(monkeypatch, FRIDAY)
    _sell(server, tenant, 1234, "KWD")  # 1.234 KWD
    _sell(server, tenant, 500, "USD")
    kwd, usd = sorted(sales(server, tenant.workspace_id), key=lambda s: s["currency"])
    assert (kwd["amount"], kwd["currency"]) == (1234, "KWD")
    assert kwd["reporting_amount"] is None
    assert kwd["fx_missing"] is True
    assert usd["reporting_amount"] == 500
    # Both sales count; only the convertible one adds to the money totals.
    assert link_counters(server, link_id)["sales"] == 2
    assert link_counters(server, link_id)["saleAmount"] == 500
    (customer,) = customers(server, tenant.workspace_id)
    assert (customer.sales, customer.sale_amount) == (2, 500)


def test_a_workspace_reporting_in_eur(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(server)
    with server.services.db.transaction() as session:
        ws.set_reporting_currency(session, ws.get_workspace(session, tenant.slug), "EUR")
    link_id = _customer(server, tenant)
    _at(monkeypatch, FRIDAY)
    _sell(server, tenant, 4900, "usd")
    _sell(server, tenant, 4980, "jpy")
    jpy, usd = sorted(sales(server, tenant.workspace_id), key=lambda s: s["currency"])
    to_eur_usd = _expected(4900, 2, "USD", "EUR", FRIDAY)
    to_eur_jpy = _expected(4980, 0, "JPY", "EUR", FRIDAY)
    assert (usd["reporting_amount"], usd["reporting_currency"]) == (to_eur_usd, "EUR")
    assert (jpy["reporting_amount"], jpy["reporting_currency"]) == (to_eur_jpy, "EUR")
    assert link_counters(server, link_id)["saleAmount"] == to_eur_usd + to_eur_jpy
    customer = server.client(tenant.token).get("/api/customers/ext_u1").json()
    assert (customer["saleAmount"], customer["currency"]) == (to_eur_usd + to_eur_jpy, "EUR")


def test_changing_the_reporting_currency_reconverts_recorded_sales(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(server)
    link_id = _customer(server, tenant)
    _at(monkeypatch, FRIDAY)
    _sell(server, tenant, 4900, "usd")
    _at(monkeypatch, SUNDAY)
    _sell(server, tenant, 1234, "kwd")
    _sell(server, tenant, 2000, "eur")
    assert link_counters(server, link_id)["saleAmount"] == 4900 + _expected(
        2000, 2, "EUR", "USD", FRIDAY
    )

    api = server.client(tenant.token)
    changed = api.patch(f"/api/workspaces/{tenant.slug}", json={"currency": "eur"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["currency"] == "EUR"

    by_currency = {s["currency"]: s for s in sales(server, tenant.workspace_id)}
    usd_in_eur = _expected(4900, 2, "USD", "EUR", FRIDAY)
    assert by_currency["USD"]["reporting_amount"] == usd_in_eur
    assert by_currency["EUR"]["reporting_amount"] == 2000  # same currency: exact
    assert by_currency["KWD"]["reporting_amount"] is None
    assert {s["reporting_currency"] for s in by_currency.values()} == {"EUR"}
    assert link_counters(server, link_id)["saleAmount"] == usd_in_eur + 2000
    customer = api.get("/api/customers/ext_u1").json()
    assert (customer["sales"], customer["saleAmount"], customer["currency"]) == (
        3,
        usd_in_eur + 2000,
        "EUR",
    )
