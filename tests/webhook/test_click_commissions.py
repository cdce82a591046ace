"""``commission.created`` of click rewards: one event per partner link per UTC day, when
the day's commission is made in the click writer's transaction (the clicks that grow it
later that day send none), in Dub's shape, only for the links in scope, nothing from a
rolled-back batch, and nothing noted at all while no endpoint listens."""

from __future__ import annotations

import httpx
import pytest
from dub.models.components import CommissionCreatedEvent
from sqlalchemy import select

from codeqr.commission.models import Commission
from codeqr.kit.clock import now_ms
from codeqr.kit.ids import click_id
from codeqr.program.models import RewardEvent, RewardType
from codeqr.sdk.webhooks import verify
from tests.conftest import LiveServer
from tests.events.helpers import stored_click
from tests.factories import Tenant, make_tenant
from tests.partner.helpers import BROWSER, set_default_url, set_reward

from .conftest import Receiver
from .test_clicked import noted_batches, settle, subscriptions
from .test_delivery import event_rows, subscribe


def _click(short_link: str, who: str) -> None:
    """One visitor (its own user agent: its own identity) follows the link."""
    answer = httpx.get(short_link, headers={"User-Agent": f"{BROWSER} v/{who}"})
    assert answer.status_code == 302, answer.text


def _partner_link(server: LiveServer, tenant: Tenant, email: str) -> dict[str, str]:
    api = server.client(tenant.token)
    partner = api.post("/api/partners", json={"email": email, "name": "Ada"})
    assert partner.status_code == 201, partner.text
    link: dict[str, str] = partner.json()["links"][0]
    link["partnerId"] = partner.json()["id"]
    return link


def _program(server: LiveServer) -> Tenant:
    tenant = make_tenant(server, plan="business")
    set_default_url(server, tenant.slug, "https://shop.example/p")
    set_reward(server, tenant.slug, RewardEvent.click, RewardType.flat, 7)
    return tenant


def test_the_days_click_commission_is_announced_once_when_made(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = _program(hooked)
    hook = subscribe(hooked, tenant, receiver.url, ["commission.created"])
    link = _partner_link(hooked, tenant, "ada@example.com")
    assert subscriptions(hooked).announces_commission(tenant.workspace_id, link["id"])

    _click(link["shortLink"], "first")
    receiver.wait(lambda: len(receiver.of_type("commission.created")) == 1)
    for n in range(3):  # the day's row grows; it is not made again
        _click(link["shortLink"], f"more-{n}")
    settle(hooked)
    assert len(receiver.got) == 1

    event = CommissionCreatedEvent.model_validate(receiver.of_type("commission.created")[0])
    assert event.data.type is not None
    assert event.data.type.value == "click"
    assert event.data.partner.id == link["partnerId"]
    assert event.data.link is not None
    assert event.data.link.id == link["id"]
    assert event.data.customer is None
    assert event.data.earnings >= 7
    assert verify(hook["secret"], receiver.got[0].body, receiver.got[0].headers)
    with hooked.services.db.transaction() as session:
        row = session.scalars(
            select(Commission).where(Commission.workspace_id == tenant.workspace_id)
        ).one()
        assert (row.id, row.quantity, row.earnings) == (event.data.id, 4, 28)


def test_only_links_in_scope_and_nothing_noted_without_an_endpoint(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = _program(hooked)
    watched = _partner_link(hooked, tenant, "in@example.com")
    ignored = _partner_link(hooked, tenant, "out@example.com")

    # No endpoint wants commissions: the click writer notes nothing (and looks nothing up).
    hook = subscribe(hooked, tenant, receiver.url, ["link.created"])
    assert not subscriptions(hooked).announces_commission(tenant.workspace_id, watched["id"])
    _click(ignored["shortLink"], "unwatched-day")
    assert noted_batches(hooked) == 0

    made = hooked.client(tenant.token).patch(
        f"/api/webhooks/{hook['id']}",
        json={
            "triggers": ["commission.created"],
            "linkScope": "links",
            "linkIds": [watched["id"]],
        },
    )
    assert made.status_code == 200, made.text
    watch = subscriptions(hooked)
    assert watch.announces_commission(tenant.workspace_id, watched["id"])
    assert not watch.announces_commission(tenant.workspace_id, ignored["id"])
    _click(ignored["shortLink"], "scoped-out")
    assert noted_batches(hooked) == 0
    _click(watched["shortLink"], "scoped-in")
    receiver.wait(lambda: len(receiver.of_type("commission.created")) == 1)
    settle(hooked)
    (event,) = receiver.of_type("commission.created")
    assert event["data"]["link"]["id"] == watched["id"]
    assert len(receiver.got) == 1


def test_a_rolled_back_batch_announces_nothing_and_its_retry_does(
    hooked: LiveServer, receiver: Receiver
) -> None:
    tenant = _program(hooked)
    subscribe(hooked, tenant, receiver.url, ["commission.created"])
    link = _partner_link(hooked, tenant, "retry@example.com")
    store = hooked.services.events
    now = now_ms()
    fresh = stored_click(click_id(now), now, tenant.workspace_id, link["id"], "f" * 32)
    real = store._earnings.write  # type: ignore[attr-defined]

    def write_then_fail(cursor: object, clicks: object, watch: object = None) -> int:
        real(cursor, clicks, watch)
        raise RuntimeError("injected failure after the click reward was noted")

    store._earnings.write = write_then_fail  # type: ignore[attr-defined]
    try:
        with pytest.raises(RuntimeError, match="injected"):
            store.write_clicks([fresh], {fresh.id})
    finally:
        store._earnings.write = real  # type: ignore[attr-defined]
    assert noted_batches(hooked) == 0
    assert event_rows(hooked) == 0
    store.write_clicks([fresh], {fresh.id})
    receiver.wait(lambda: len(receiver.of_type("commission.created")) == 1)
    settle(hooked)
    assert len(receiver.got) == 1
