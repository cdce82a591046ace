"""Inputs that break code which trusts a type, sent where each kind is read: an answer in
the 4xx envelope (or an acceptance), never a 5xx (SPEC §8).

The generated requests of ``test_schemathesis`` meet these only by chance in a CI-sized
run, and never reach the Stripe receivers (they are not in the OpenAPI).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import pytest
from PIL import Image

from tests.conftest import LiveServer

from .world import World, sign

HUGE = "1" + "0" * 400  # a JSON integer no 64-bit column or float holds
DEEP = '{"a":' * 5000 + "1" + "}" * 5000


@dataclass(frozen=True)
class Hostile:
    """One request: what it is, and how to build it for the world's workspace A."""

    name: str
    method: str
    path: Callable[[World], str]
    params: Callable[[World], dict[str, str]] | None = None
    body: Callable[[World], bytes] | None = None
    headers: Callable[[World], dict[str, str]] = field(default=lambda w: {})


def _secret(w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.a.secret}", "Content-Type": "application/json"}


def _publishable(w: World) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {w.a.publishable}",
        "Origin": w.a.origin,
        "Content-Type": "application/json",
    }


def _session(w: World) -> dict[str, str]:
    return {"Cookie": w.session(w.a)[0]}


_FORM_SESSIONS: dict[int, tuple[str, str]] = {}


def _form_session(w: World) -> tuple[str, str]:
    """One dashboard session of A for the form cases: its cookie and its CSRF token."""
    if id(w) not in _FORM_SESSIONS:
        _FORM_SESSIONS[id(w)] = w.session(w.a)
    return _FORM_SESSIONS[id(w)]


def _session_form(w: World) -> dict[str, str]:
    cookie = _form_session(w)[0]
    return {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}


def _form(fields: dict[str, str]) -> Callable[[World], bytes]:
    return lambda w: urlencode({**fields, "csrf_token": _form_session(w)[1]}).encode()


def _signed(secret: Callable[[World], str], body: bytes) -> Callable[[World], dict[str, str]]:
    return lambda w: {"Stripe-Signature": sign(body, secret(w)), "Content-Type": "application/json"}


def _with_metadata(
    fields: Callable[[World], dict[str, object]], metadata: str
) -> Callable[[World], bytes]:
    """A JSON body with a raw ``metadata`` value (json.dumps cannot write the hostile ones)."""
    return lambda w: (json.dumps(fields(w))[:-1] + f', "metadata": {metadata}}}').encode()


def _sale(w: World) -> dict[str, object]:
    return {"customerExternalId": w.a.customer_external_id, "amount": 100}


def _lead(w: World) -> dict[str, object]:
    return {"clickId": w.a.click_id, "eventName": "Hostile", "customerExternalId": "hostile"}


def _bomb() -> str:
    """A 10,000 × 10,000 PNG of 16 KB: 100 million pixels once decoded."""
    image = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(image, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(image.getvalue()).decode()


FAR = {"start": "9999-12-30", "end": "9999-12-31"}
NOT_UTF8 = b'{"id": "evt_\xff\xfe", "object": "event", "type": "customer.created"}'
DEEP_EVENT = (
    '{"id": "evt_deep", "object": "event", "type": "customer.created", "data": ' + DEEP + "}"
).encode()
WEBHOOK = "/api/stripe/webhook/{}"

CASES = [
    Hostile(
        "analytics to the calendar's end",
        "GET",
        lambda w: "/api/analytics",
        lambda w: FAR,
        headers=_secret,
    ),
    Hostile(
        "analytics timeseries to the calendar's end",
        "GET",
        lambda w: "/api/analytics",
        lambda w: {"start": "2026-01-01", "end": "9999-12-31", "groupBy": "timeseries"},
        headers=_secret,
    ),
    Hostile(
        "funnel to the calendar's end",
        "GET",
        lambda w: "/api/analytics/funnel",
        lambda w: FAR,
        headers=_secret,
    ),
    Hostile(
        "events from year 1 to 9999",
        "GET",
        lambda w: "/api/events",
        lambda w: {"start": "0001-01-01", "end": "9999-12-31"},
        headers=_secret,
    ),
    Hostile(
        "dashboard chart data to the calendar's end",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/analytics/data",
        lambda w: FAR,
        headers=_session,
    ),
    Hostile(
        "program reward amount past 64 bits",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/program/rewards",
        body=_form({"event": "sale", "type": "flat", "amount": HUGE}),
        headers=_session_form,
    ),
    Hostile(
        "program percentage reward of NaN",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/program/rewards",
        body=_form({"event": "sale", "type": "percentage", "amount": "nan", "months": HUGE}),
        headers=_session_form,
    ),
    Hostile(
        "program holding period past 64 bits",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/program/settings",
        body=_form({"holding_days": HUGE, "min_payout": HUGE}),
        headers=_session_form,
    ),
    Hostile(
        "API flat reward amount past 64 bits",
        "PUT",
        lambda w: "/api/program/rewards/sale",
        body=lambda w: f'{{"type": "flat", "amount": {HUGE}}}'.encode(),
        headers=_secret,
    ),
    Hostile(
        "API percentage reward of NaN for a duration past 64 bits",
        "PUT",
        lambda w: "/api/program/rewards/sale",
        body=lambda w: f'{{"type": "percentage", "amount": NaN, "maxDuration": {HUGE}}}'.encode(),
        headers=_secret,
    ),
    Hostile(
        "API percentage reward of Infinity",
        "PUT",
        lambda w: "/api/program/rewards/lead",
        body=lambda w: b'{"type": "percentage", "amount": -Infinity}',
        headers=_secret,
    ),
    Hostile(
        "API program settings past 64 bits",
        "PATCH",
        lambda w: "/api/program",
        body=lambda w: f'{{"holdingPeriodDays": {HUGE}, "minPayoutAmount": -{HUGE}}}'.encode(),
        headers=_secret,
    ),
    Hostile(
        "API program name and domain with a NUL",
        "PATCH",
        lambda w: "/api/program",
        body=lambda w: b'{"name": "a\\u0000b", "defaultDomain": "x\\u0000.example"}',
        headers=_secret,
    ),
    Hostile(
        "API program default URL of a megabyte",
        "PATCH",
        lambda w: "/api/program",
        body=lambda w: json.dumps({"defaultUrl": "https://x.example/" + "a" * 1_000_000}).encode(),
        headers=_secret,
    ),
    Hostile(
        "bulk commission status naming 101 commissions",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/program/commissions/status",
        body=lambda w: (
            _form({"status": "fraud"})(w)
            + b"".join(b"&commission_ids=cm_" + str(n).encode() for n in range(101))
        ),
        headers=_session_form,
    ),
    Hostile(
        "partner portal invitation of garbage",
        "GET",
        lambda w: f"/app/partners/{w.a.slug}/invite",
        lambda w: {"token": "\u00ff" * 400},
    ),
    Hostile(
        "partner portal sign-in with a NUL",
        "POST",
        lambda w: f"/app/partners/{w.a.slug}/login",
        body=lambda w: b"email=a%00b&password=%00&csrf_token=x",
        headers=lambda w: {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Hostile(
        "dashboard analytics page over a custom range to the calendar's end",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/analytics",
        lambda w: {**FAR, "timezone": "Pacific/Kiritimati"},
        headers=_session,
    ),
    Hostile(
        "dashboard analytics page with a NUL, a huge and a reversed date",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/analytics",
        lambda w: {"start": "2026-01-01\x00", "end": "9" * 5000, "timezone": "../../etc/passwd"},
        headers=_session,
    ),
    Hostile(
        "dashboard breakdown of every row, past the bound",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/analytics/data",
        lambda w: {"part": "cities", "rows": "99999999999999999999999"},
        headers=_session,
    ),
    Hostile(
        "dashboard link page with a hostile tab and period",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/links/{w.a.link_id}",
        lambda w: {"tab": "edit\x00<script>", "interval": "9" * 5000},
        headers=_session,
    ),
    Hostile(
        "dashboard QR code in hostile colours with a logo",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/links/{w.a.link_id}/qr.svg",
        lambda w: {"fg": "#\x00\x00\x00", "bg": "url(javascript:1)", "logo": "true" * 100},
        headers=_session,
    ),
    Hostile(
        "dashboard QR code of the largest size with a logo",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/links/{w.a.link_id}/qr.png",
        lambda w: {"size": "2048", "logo": "true", "fg": "#fff", "bg": "#fff"},
        headers=_session,
    ),
    Hostile(
        "dashboard events CSV from year 1 to 9999, every type",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/events.csv",
        lambda w: {"start": "0001-01-01", "end": "9999-12-31", "event": "sales\x00"},
        headers=_session,
    ),
    Hostile(
        "dashboard customers CSV with a hostile search",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/customers.csv",
        lambda w: {"q": "%\x00' OR 1=1 --" + "x" * 5000},
        headers=_session,
    ),
    Hostile(
        "dashboard breakdown CSV to the calendar's end",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/analytics/data",
        lambda w: {**FAR, "part": "referers", "format": "csv"},
        headers=_session,
    ),
    Hostile(
        "dashboard password of a megabyte",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/password",
        body=lambda w: urlencode(
            {
                "csrf_token": _form_session(w)[1],
                "current_password": "x" * 1_000_000,
                "new_password": "y" * 1_000_000,
                "confirm_password": "y" * 1_000_000,
            }
        ).encode(),
        headers=lambda w: {
            "Cookie": _form_session(w)[0],
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ),
    Hostile(
        "sale metadata number past 64 bits",
        "POST",
        lambda w: "/api/track/sale",
        body=_with_metadata(_sale, f'{{"n": {HUGE}}}'),
        headers=_secret,
    ),
    Hostile(
        "lead metadata number past 64 bits",
        "POST",
        lambda w: "/api/track/lead",
        body=_with_metadata(_lead, f'{{"n": {HUGE}}}'),
        headers=_secret,
    ),
    Hostile(
        "client lead metadata number past 64 bits",
        "POST",
        lambda w: "/api/track/lead/client",
        body=_with_metadata(_lead, f'{{"n": {HUGE}}}'),
        headers=_publishable,
    ),
    Hostile(
        "sale metadata 5,000 levels deep",
        "POST",
        lambda w: "/api/track/sale",
        body=_with_metadata(_sale, DEEP),
        headers=_secret,
    ),
    Hostile(
        "QR logo of 100 million pixels",
        "GET",
        lambda w: "/api/qr",
        lambda w: {"url": "https://example.com", "logo": _bomb()},
    ),
    Hostile(
        "signed Stripe event that is not UTF-8",
        "POST",
        lambda w: WEBHOOK.format(w.a.workspace_id),
        body=lambda w: NOT_UTF8,
        headers=_signed(lambda v: v.a.webhook_secret, NOT_UTF8),
    ),
    Hostile(
        "unsigned Stripe event that is not UTF-8",
        "POST",
        lambda w: WEBHOOK.format(w.a.workspace_id),
        body=lambda w: NOT_UTF8,
        headers=lambda w: {"Stripe-Signature": "t=1,v1=00"},
    ),
    Hostile(
        "redelivery of an event id with a NUL",
        "POST",
        lambda w: f"/api/webhooks/{w.a.webhook_id}/redeliver",
        body=lambda w: b'{"eventId": "evt_\\u0000x"}',
        headers=_secret,
    ),
    Hostile(
        "dashboard redelivery of an event id with a NUL and no UTF-8",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/webhooks/{w.a.webhook_id}/redeliver",
        body=lambda w: b"csrf_token=" + _form_session(w)[1].encode() + b"&event_id=evt_%00%ff",
        headers=_session_form,
    ),
    Hostile(
        "dashboard webhook with a thousand triggers",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/webhooks",
        body=lambda w: (
            b"csrf_token="
            + _form_session(w)[1].encode()
            + b"&name=x&url=https://x.example"
            + b"&triggers=link.created" * 1000
        ),
        headers=_session_form,
    ),
    Hostile(
        "links list filters with a NUL, no UTF-8 and past 64 bits",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/links",
        lambda w: {"q": "a\x00", "tag": "\u00ff" * 40, "domain": "%", "days": HUGE},
        headers=_session,
    ),
    Hostile(
        "links list with a NUL in the tag filter",
        "GET",
        lambda w: f"/dashboard/{w.a.slug}/links",
        lambda w: {"tag": "t\x00", "sort": "clicks", "conversion": "on"},
        headers=_session,
    ),
    Hostile(
        "bulk action on 101 ids with a NUL and no UTF-8",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/links/bulk",
        body=lambda w: (
            _form({"action": "delete"})(w) + b"".join(b"&ids=lnk_%00%ff" for _ in range(101))
        ),
        headers=_session_form,
    ),
    Hostile(
        "bulk tag with a NUL on an id with a NUL",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/links/bulk",
        body=_form({"action": "tag", "tag_name": "a\x00b", "ids": "x\x00"}),
        headers=_session_form,
    ),
    Hostile(
        "bulk tag with a NUL on A's link",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/links/bulk",
        body=lambda w: _form({"action": "tag", "tag_name": "a\x00b", "ids": w.a.link_id})(w),
        headers=_session_form,
    ),
    Hostile(
        "workspace renamed to a NUL with a slug of no UTF-8",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/general",
        body=lambda w: b"csrf_token=" + _form_session(w)[1].encode() + b"&ws_name=%00&ws_slug=%ff",
        headers=_session_form,
    ),
    Hostile(
        "new workspace named with a NUL",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/workspaces",
        body=_form({"new_ws_name": "a\x00", "new_ws_slug": "nul-name"}),
        headers=_session_form,
    ),
    Hostile(
        "invitation with a role of NUL",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/members/invite",
        body=_form({"role": "owner\x00"}),
        headers=_session_form,
    ),
    Hostile(
        "member role change naming a user id with a NUL",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/members/u%00x/role",
        body=_form({"role": "viewer"}),
        headers=_session_form,
    ),
    Hostile(
        "invitation revoked by an id with a NUL",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/members/invites/i%00%ff/revoke",
        body=_form({}),
        headers=_session_form,
    ),
    Hostile(
        "first workspace named with a NUL and a slug of bad bytes",
        "POST",
        lambda w: "/dashboard/workspaces",
        body=lambda w: (
            b"csrf_token="
            + _form_session(w)[1].encode()
            + b"&new_ws_name=a%00"
            + b"&new_ws_slug="
            + b"%ff" * 300
        ),
        headers=_session_form,
    ),
    Hostile(
        "leaving a workspace with a CSRF token of NULs and bad bytes",
        "POST",
        lambda w: f"/dashboard/{w.a.slug}/settings/members/leave",
        body=lambda w: b"csrf_token=%00%ff" + b"A" * 5000,
        headers=_session_form,
    ),
    Hostile(
        "invitation link of garbage",
        "GET",
        lambda w: "/app/invite/" + "%ff" * 150,
    ),
    Hostile(
        "invitation sign-up of garbage with a NUL email",
        "POST",
        lambda w: "/app/invite/" + "A" * 300 + "/signup",
        body=lambda w: b"email=a%00@example.com&password=%00%00%00%00%00%00%00%00&csrf_token=x",
        headers=lambda w: {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Hostile(
        "signed Stripe event 5,000 levels deep",
        "POST",
        lambda w: WEBHOOK.format(w.a.workspace_id),
        body=lambda w: DEEP_EVENT,
        headers=_signed(lambda v: v.a.webhook_secret, DEEP_EVENT),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_no_server_error(live: LiveServer, world: World, case: Hostile) -> None:
    with httpx.Client(base_url=live.base, timeout=60) as client:
        answer = client.request(
            case.method,
            case.path(world),
            params=case.params(world) if case.params else None,
            content=case.body(world) if case.body else None,
            headers=case.headers(world),
        )
    assert answer.status_code < 500, f"{case.name}: {answer.status_code} {answer.text[:300]}"
    assert "This form has expired" not in answer.text, case.name  # the form was read
    pages = ("/dashboard/", "/app/partners/", "/app/invite/")
    if answer.status_code >= 400 and not case.path(world).startswith(pages):
        assert set(answer.json()["error"]) == {"code", "message", "doc_url"}, answer.text
