"""Click → lead → sale through the SDK, and the customers it leaves behind (§4)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from codeqr import AsyncCodeQR, CodeQR
from codeqr.sdk import Customer, Link, NotFoundError, TrackLeadResult, TrackSaleResult
from tests.conftest import LiveServer
from tests.factories import make_tenant

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture
def sdk(server: LiveServer) -> Iterator[CodeQR]:
    token = make_tenant(server, plan="business").token
    with CodeQR(token=token, base_url=server.base) as client:
        yield client


def visit(link: Link) -> str:
    """Follow the short link as a browser would and return the click id it hands over."""
    response = httpx.get(link.short_link, headers={"User-Agent": BROWSER}, follow_redirects=False)
    assert response.status_code == 302
    click_id = str(httpx.URL(response.headers["location"]).params.get("cq_id", ""))
    assert len(click_id) == 16
    return click_id


def test_click_lead_sale_and_the_customer(sdk: CodeQR) -> None:
    link = sdk.links.create(url="https://example.com/landing", track_conversion=True)
    click_id = visit(link)

    lead = sdk.track.lead(
        click_id=click_id,
        event_name="Sign up",
        customer_external_id="u1",
        customer_email="u1@example.com",
        customer_name="Ada",
    )
    assert isinstance(lead, TrackLeadResult)
    assert lead.click.id == click_id
    assert lead.link is not None
    assert lead.link.id == link.id
    assert (lead.customer.external_id, lead.customer.email) == ("u1", "u1@example.com")

    sale = sdk.track.sale(
        customer_external_id="u1", amount=4900, currency="usd", invoice_id="inv_1"
    )
    assert isinstance(sale, TrackSaleResult)
    assert sale.event_name == "Purchase"
    assert sale.sale is not None
    assert (sale.sale.amount, sale.sale.currency, sale.sale.invoice_id) == (4900, "usd", "inv_1")
    # The same invoice again is acknowledged and not counted twice.
    sdk.track.sale(customer_external_id="u1", amount=4900, currency="usd", invoice_id="inv_1")

    customer = sdk.customers.get("ext_u1")
    assert isinstance(customer, Customer)
    assert (customer.external_id, customer.name, customer.email) == ("u1", "Ada", "u1@example.com")
    assert (customer.sales, customer.sale_amount) == (1, 4900)
    assert customer.link is not None
    assert customer.link.id == link.id
    assert sdk.customers.get(customer.id).id == customer.id

    counted = sdk.links.get(link.id)
    assert (counted.leads, counted.sales, counted.sale_amount) == (1, 1, 4900)


def test_customers_list_create_update_delete(sdk: CodeQR) -> None:
    made = sdk.customers.create(external_id="u2", name="Bob", email="bob@example.com")
    assert (made.external_id, made.name, made.sales) == ("u2", "Bob", 0)
    sdk.customers.create(external_id="u3", email="carol@example.com")

    assert {c.external_id for c in sdk.customers.list()} == {"u2", "u3"}
    assert [c.id for c in sdk.customers.list(external_id="u2")] == [made.id]
    assert [c.external_id for c in sdk.customers.list(email="carol@example.com")] == ["u3"]
    assert len(sdk.customers.list(page_size=1)) == 1

    renamed = sdk.customers.update("ext_u2", name="Robert", country="fr")
    assert (renamed.name, renamed.country) == ("Robert", "FR")
    cleared = sdk.customers.update(made.id, name=None)
    assert (cleared.name, cleared.email) == (None, "bob@example.com")

    assert sdk.customers.delete("ext_u2") == made.id
    with pytest.raises(NotFoundError):
        sdk.customers.get(made.id)


def test_unknown_customer_and_click_are_not_found(sdk: CodeQR) -> None:
    with pytest.raises(NotFoundError):
        sdk.customers.get("ext_nobody")
    with pytest.raises(NotFoundError):
        sdk.customers.update("cus_nobody", name="x")
    with pytest.raises(NotFoundError):
        sdk.customers.delete("ext_nobody")
    with pytest.raises(NotFoundError) as caught:
        sdk.track.lead(click_id="0000000000000000", event_name="Sign up", customer_external_id="u")
    assert "0000000000000000" in caught.value.message


def test_async_lead_and_customer(server: LiveServer) -> None:
    token = make_tenant(server, plan="business").token

    async def scenario() -> None:
        async with AsyncCodeQR(token=token, base_url=server.base) as sdk:
            link = await sdk.links.create(url="https://example.com/a", track_conversion=True)
            click_id = visit(link)
            lead = await sdk.track.lead(
                click_id=click_id, event_name="Sign up", customer_external_id="a1"
            )
            assert lead.customer.external_id == "a1"
            sale = await sdk.track.sale(customer_external_id="a1", amount=1250, invoice_id="i9")
            assert sale.sale is not None
            customer = await sdk.customers.get("ext_a1")
            assert (customer.sales, customer.sale_amount) == (1, 1250)
            assert [c.id for c in await sdk.customers.list()] == [customer.id]
            assert await sdk.customers.delete(customer.id) == customer.id
            with pytest.raises(NotFoundError):
                await sdk.customers.get("ext_a1")

    asyncio.run(scenario())
