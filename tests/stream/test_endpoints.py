"""``GET /api/events/stream`` over real HTTP: delivery, shapes, resume, isolation, access."""

from __future__ import annotations

import queue
import time
from typing import Any

from sqlalchemy import select

from codeqr.auth import service as auth
from codeqr.events.models import click_events
from codeqr.workspace import service as ws
from tests.factories import Tenant, make_key, make_tenant

from .conftest import HEARTBEAT, StreamServer
from .helpers import EventStream, Message, make_link, stream, visit


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


def _revoke(server: StreamServer, token: str) -> None:
    with server.services.db.transaction() as session:
        key, workspace = ws.authenticate_key(session, token)
        ws.revoke_api_key(session, workspace, key.id)


def _ended(events: EventStream, within: float) -> list[Message]:
    """Everything the stream sends until it ends, which must happen ``within`` seconds."""
    seen: list[Message] = []
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = events.inbox.get(timeout=left)
        except queue.Empty:
            break
        if message is None:
            return seen
        seen.append(message)
    raise AssertionError(f"the stream was still open after {within} s: {seen}")


def test_an_idle_stream_ends_when_its_key_is_revoked(server: StreamServer) -> None:
    tenant = make_tenant(server)
    token = make_key(server, tenant)
    events = stream(server, token)
    _revoke(server, token)
    revoked = time.monotonic()
    tail = _ended(events, HEARTBEAT * 4)
    assert tail[-1].comment == "closed (revoked)"
    assert tail[-1].at - revoked < HEARTBEAT * 3
    assert all(m.comment is not None for m in tail)  # no event after the revocation


def test_a_busy_stream_delivers_nothing_once_its_key_is_revoked(server: StreamServer) -> None:
    settings = server.services.settings
    settings.stream_heartbeat_seconds = 60.0  # only deliveries wake the stream
    settings.stream_recheck_seconds = 0.3
    tenant = make_tenant(server)
    token = make_key(server, tenant)
    link = make_link(server, tenant.token)
    events = stream(server, token)
    click_id = visit(server, link)
    assert events.next(2).id == click_id
    _revoke(server, token)
    time.sleep(settings.stream_recheck_seconds + 0.1)
    visit(server, link)
    tail = _ended(events, 3)
    assert [m.comment for m in tail] == ["closed (revoked)"]


def test_a_dashboard_stream_ends_with_its_sign_in(server: StreamServer) -> None:
    tenant = make_tenant(server)
    with server.services.db.transaction() as session:
        token = auth.start_session(session, ws.get_user_by_email(session, _owner(tenant))).token
    events = EventStream(
        server, params={"workspace": tenant.slug}, cookies={"cq_session": token}
    ).open()
    with server.services.db.transaction() as session:
        auth.end_session(session, token)
    assert _ended(events, HEARTBEAT * 4)[-1].comment == "closed (revoked)"


def _refused_for_too_many(events: EventStream) -> str:
    assert events.status == 429, events.status
    assert events.retry_after is not None
    assert int(events.retry_after) > 0
    error = events.refusal()["error"]
    assert error["code"] == "rate_limit_exceeded"
    return str(error["message"])


def test_open_streams_are_capped_per_key(server: StreamServer) -> None:
    tenant = make_tenant(server)
    cap = server.services.settings.stream_max_per_key
    assert cap == 10
    opened = [stream(server, tenant.token) for _ in range(cap)]
    over = EventStream(server, headers={"Authorization": f"Bearer {tenant.token}"}).open()
    assert "this key" in _refused_for_too_many(over)
    # Another key of the workspace still gets in.
    other = stream(server, make_key(server, tenant))
    # Closing one frees its slot (once the server has seen the client go).
    opened.pop().close()
    closed = time.monotonic()
    deadline = closed + 10
    while True:
        again = EventStream(server, headers={"Authorization": f"Bearer {tenant.token}"}).open()
        if again.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert again.status == 200
    for events in [*opened, other, again]:
        events.close()


def test_open_streams_are_capped_per_workspace(server: StreamServer) -> None:
    settings = server.services.settings
    assert settings.stream_max_per_workspace == 50
    settings.stream_max_per_workspace = 3
    tenant, neighbour = make_tenant(server), make_tenant(server)
    with server.services.db.transaction() as session:
        user = ws.get_user_by_email(session, _owner(tenant))
        cookie = auth.start_session(session, user).token
    dashboard = EventStream(
        server, params={"workspace": tenant.slug}, cookies={"cq_session": cookie}
    ).open()
    keys = [stream(server, make_key(server, tenant)) for _ in range(2)]
    over = EventStream(
        server, headers={"Authorization": f"Bearer {make_key(server, tenant)}"}
    ).open()
    assert "this workspace" in _refused_for_too_many(over)
    # A dashboard sign-in counts against the workspace too.
    page = EventStream(
        server, params={"workspace": tenant.slug}, cookies={"cq_session": cookie}
    ).open()
    _refused_for_too_many(page)
    # Another workspace is not affected.
    elsewhere = stream(server, neighbour.token)
    for events in [dashboard, *keys, elsewhere]:
        events.close()
