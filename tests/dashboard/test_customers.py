"""The customers page: who converted, through which link, and for how much."""

from __future__ import annotations

from tests.conftest import LiveServer

from .helpers import dash, seed, viewer_of


def test_customers_are_listed_with_their_link_and_revenue(server: LiveServer) -> None:
    owner = dash(server)
    assert "No customers yet" in owner.get("/customers").text
    seed(server, owner.account)
    page = owner.get("/customers").text
    assert "Grace Hopper" in page
    assert "grace@example.com" in page
    assert f"127.0.0.1:{server.port}/spring" in page
    assert "$49.00" in page
    assert "Grace" in owner.get("/customers?q=grace").text
    assert "No customers match" in owner.get("/customers?q=nobody").text
    assert "Grace Hopper" in viewer_of(server, owner.account).get("/customers").text


def test_customers_need_the_business_plan(server: LiveServer) -> None:
    page = dash(server, plan="pro").get("/customers")
    assert page.status_code == 200
    assert "Customers needs the Business plan" in page.text
    assert "<strong>Pro</strong>" in page.text


def test_customers_of_another_workspace_stay_there(server: LiveServer) -> None:
    mine, theirs = dash(server), dash(server)
    seed(server, theirs.account)
    assert "Grace Hopper" not in mine.get("/customers").text
    assert mine.client.get(theirs.base + "/customers").status_code == 404


def test_the_live_page_follows_the_stream_of_the_workspace(server: LiveServer) -> None:
    owner = dash(server)
    page = owner.get("/events")
    assert f'data-stream="/api/events/stream?workspace={owner.account.slug}"' in page.text
    assert "No events in the last 24 hours" in page.text
    gated = dash(server, plan="free").get("/events")
    assert "needs the Business plan" in gated.text
    assert "data-stream" not in gated.text
