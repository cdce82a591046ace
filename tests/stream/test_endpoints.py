"""``GET /api/events/stream`` over real HTTP: delivery, shapes, resume, isolation, access."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from codeqr.auth import service as auth
from codeqr.events.models import click_events
from codeqr.workspace import service as ws
from tests.factories import Tenant, make_key, make_tenant

from .conftest import HEARTBEAT, StreamServer
from .helpers import EventStream, make_link, stream, visit


def test_a_redirect_arrives_within_a_second(server: StreamServer) -> None:
    tenant = make_tenant(server)
    link = make_link(server, tenant.token)
    events = stream(server, tenant.token)
    assert events.content_type.startswith("text/event-stream")
    assert events.retry == 3000
    latencies = []
    for _ in range(5):
        click_id = visit(server, link)
        answered = time.monotonic()  # the click is stored before its 302 is sent
        message = events.next(3)
        latencies.append(message.at - answered)
        assert (message.id, message.event) == (click_id, "click")
        assert message.data["event"] == "click"
        assert message.data["click"]["id"] == click_id
        assert message.data["link"]["id"] == link["id"]
        assert message.data["test"] is False
    assert max(latencies) < 1.0, latencies
    events.close()


def test_a_lead_and_a_sale_arrive_as_the_events_list_shows_them(server: StreamServer) -> None:
    tenant = make_tenant(server)
    link = make_link(server, tenant.token)
    events = stream(server, tenant.token)
    api = server.client(tenant.token)
    click_id = visit(server, link)
    lead = api.post(
        "/api/track/lead",
        json={"clickId": click_id, "eventName": "Sign up", "customerExternalId": "u-1"},
    )
    assert lead.status_code == 200, lead.text
    sale = api.post(
        "/api/track/sale",
        json={"customerExternalId": "u-1", "amount": 4900, "currency": "usd", "invoiceId": "i1"},
    )
    assert sale.status_code == 200, sale.text
    click, lead_event, sale_event = events.events(3, timeout=2)
    assert [m.event for m in (click, lead_event, sale_event)] == ["click", "lead", "sale"]
    for message, kind in ((click, "clicks"), (lead_event, "leads"), (sale_event, "sales")):
        listed = api.get("/api/events", params={"event": kind, "interval": "24h"}).json()
        # As they were when the event was sent: counters have moved on since.
        assert _without_counters(message.data) == _without_counters({**listed[0], "test": False})
    assert lead_event.id == lead_event.data["eventId"]
    assert sale_event.data["sale"]["amount"] == 4900
    assert sale_event.data["customer"]["externalId"] == "u-1"
    events.close()


def test_a_reconnect_gets_exactly_what_it_missed(server: StreamServer) -> None:
    tenant = make_tenant(server)
    link = make_link(server, tenant.token)
    first = stream(server, tenant.token)
    before = [visit(server, link) for _ in range(3)]
    assert [m.id for m in first.events(3)] == before
    first.close()
    missed = [visit(server, link) for _ in range(4)]

    again = EventStream(
        server,
        headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": before[-1]},
    ).open()
    assert [m.id for m in again.events(4)] == missed
    live = visit(server, link)
    assert [m.id for m in again.quiet(1.5)] == [live]
    again.close()

    # The query parameter, for clients that cannot send the header.
    by_query = stream(server, tenant.token, lastEventId=missed[1])
    assert [m.id for m in by_query.events(3)] == [*missed[2:], live]
    assert by_query.quiet(0.6) == []
    by_query.close()


def test_another_workspaces_events_never_appear(server: StreamServer) -> None:
    a, b = make_tenant(server), make_tenant(server)
    link_a, link_b = make_link(server, a.token), make_link(server, b.token)
    stream_a, stream_b = stream(server, a.token), stream(server, b.token)
    made_a, made_b = [], []
    for _ in range(15):
        made_a.append(visit(server, link_a))
        made_b.append(visit(server, link_b))
    got_a = stream_a.events(15) + stream_a.quiet(0.8)
    got_b = stream_b.events(15) + stream_b.quiet(0.3)
    assert sorted(m.id for m in got_a) == sorted(made_a)
    assert sorted(m.id for m in got_b) == sorted(made_b)
    assert {m.data["link"]["workspaceId"] for m in got_a} == {a.workspace_id}
    # Resuming from an id of the other workspace replays nothing of it either.
    resumed = stream(server, a.token, lastEventId=made_b[0])
    assert sorted(m.id for m in resumed.events(14)) == sorted(made_a[1:])
    for events in (stream_a, stream_b, resumed):
        events.close()


def test_heartbeats_keep_an_idle_stream_alive(server: StreamServer) -> None:
    tenant = make_tenant(server)
    events = stream(server, tenant.token)
    pings = [events.next(HEARTBEAT * 3, comments=True) for _ in range(3)]
    assert [p.comment for p in pings] == ["ping"] * 3
    assert pings[2].at - pings[0].at < HEARTBEAT * 3
    events.close()


def test_a_signed_in_member_watches_by_slug_or_id(server: StreamServer) -> None:
    tenant = make_tenant(server)
    link = make_link(server, tenant.token)
    with server.services.db.transaction() as session:
        token = auth.start_session(session, ws.get_user_by_email(session, _owner(tenant))).token
    cookies = {"cq_session": token}
    by_slug = EventStream(server, params={"workspace": tenant.slug}, cookies=cookies).open()
    by_id = EventStream(server, params={"workspace": tenant.workspace_id}, cookies=cookies).open()
    click_id = visit(server, link)
    assert by_slug.next(2).id == click_id
    assert by_id.next(2).id == click_id
    by_slug.close()
    by_id.close()


def test_who_may_not_watch(server: StreamServer) -> None:
    tenant, other = make_tenant(server), make_tenant(server)
    with server.services.db.transaction() as session:
        outsider = ws.get_user_by_email(session, _owner(other))
        token = auth.start_session(session, outsider).token
    cookies = {"cq_session": token}
    cases = [
        (EventStream(server), 401, "unauthorized"),
        (EventStream(server, headers={"Authorization": "Bearer cq_nope"}), 401, "unauthorized"),
        (
            EventStream(
                server, headers={"Authorization": f"Bearer {_publishable(server, tenant)}"}
            ),
            403,
            "forbidden",
        ),
        (EventStream(server, params={"workspace": tenant.slug}, cookies=cookies), 404, "not_found"),
        (EventStream(server, cookies=cookies), 400, "bad_request"),
        (EventStream(server, cookies={"cq_session": "forged"}), 401, "unauthorized"),
        (
            EventStream(
                server,
                headers={"Authorization": f"Bearer {tenant.token}"},
                params={"workspace": other.slug},
            ),
            404,
            "not_found",
        ),
        (
            EventStream(
                server,
                headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": "nope"},
            ),
            400,
            "bad_request",
        ),
    ]
    for events, status, code in cases:
        events.open()
        assert events.status == status, (events.headers, events.params)
        assert events.refusal()["error"]["code"] == code


def test_the_stream_needs_a_business_plan(server: StreamServer) -> None:
    for plan in ("free", "pro"):
        tenant = make_tenant(server, plan=plan)
        events = EventStream(server, headers={"Authorization": f"Bearer {tenant.token}"}).open()
        assert events.status == 403
        error = events.refusal()["error"]
        assert error["code"] == "forbidden"
        assert "Business" in error["message"]
    assert not server.services.feed.polling


def test_polling_stops_with_the_last_stream(server: StreamServer) -> None:
    tenant = make_tenant(server)
    feed = server.services.feed
    assert not feed.polling
    first, second = stream(server, tenant.token), stream(server, tenant.token)
    assert feed.polling
    first.close()
    time.sleep(0.3)
    assert feed.polling
    second.close()
    deadline = time.monotonic() + 3
    while feed.polling and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not feed.polling
    # And it starts again for the next one.
    link = make_link(server, tenant.token, track=False)
    third = stream(server, tenant.token)
    visit_id = _visit_untracked(server, link)
    assert third.next(2).id == visit_id
    third.close()


def _without_counters(event: dict[str, Any]) -> dict[str, Any]:
    """An event without the counters of its link and customer, which move on after it."""
    counters = {"clicks", "leads", "conversions", "sales", "saleAmount", "lastClicked"}
    counters |= {"firstSaleAt"}
    shown = {**event, "link": {k: v for k, v in event["link"].items() if k not in counters}}
    if "customer" in event:
        shown["customer"] = {k: v for k, v in event["customer"].items() if k not in counters}
    return shown


def _visit_untracked(server: StreamServer, link: dict[str, object]) -> str:
    """A visit of a link without conversion tracking: its click is still recorded."""
    before = _click_ids(server, str(link["id"]))
    answer = server.client().get(
        "/" + str(link["key"]), headers={"user-agent": "Mozilla/5.0 (Macintosh) untracked"}
    )
    assert answer.status_code == 302
    after = _click_ids(server, str(link["id"]))
    (new,) = after - before
    return new


def _click_ids(server: StreamServer, link_id: str) -> set[str]:
    with server.services.db.transaction() as session:
        query = select(click_events.c.id).where(click_events.c.link_id == link_id)
        return set(session.scalars(query))


def _owner(tenant: Tenant) -> str:
    return f"owner-{tenant.slug.removeprefix('ws-')}@example.com"


def _publishable(server: StreamServer, tenant: Tenant) -> str:
    return make_key(server, tenant, publishable=True)


def test_ids_are_compared_byte_by_byte_whatever_the_collation(server: StreamServer) -> None:
    """A PostgreSQL database created with a language collation (en_US…) does not sort ids
    as bytes: the stream then compares them ``COLLATE "C"``. Forced here on PostgreSQL."""
    feed = server.services.feed
    assert feed.byte_order  # SQLite always; the test PostgreSQL database is C.UTF-8
    if not server.services.db.is_sqlite:
        feed._byte_order = False
    tenant = make_tenant(server)
    link = make_link(server, tenant.token)
    events = stream(server, tenant.token)
    made = [visit(server, link) for _ in range(3)]
    assert [m.id for m in events.events(3)] == made
    events.close()
    resumed = stream(server, tenant.token, lastEventId=made[0])
    assert [m.id for m in resumed.events(2)] == made[1:]
    resumed.close()
