"""Signing and delivering the shared Stripe events as stored, and seeding what they name."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update

from codeqr.events.models import click_events, refund_events
from codeqr.stripe import service as connection
from codeqr.stripe.models import StripeEvent
from codeqr.workspace import service as ws
from tests.conftest import FIXTURES, LiveServer
from tests.factories import Tenant

EVENTS = FIXTURES / "stripe" / "events"
MANIFEST = json.loads((EVENTS / "MANIFEST.json").read_text("utf-8"))
SECRET = "whsec_test_secret"
OLD_SECRET = "whsec_old_rotated_secret"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
CONNECTED_ACCOUNT = "acct_1RcQx4Lm8Tz2VbNd"
PLATFORM_KEY = "sk_test_platform_standin"  # the Stripe App's platform key (ACCOUNT's own)
APP_SIGNING_SECRET = "absec_app_signing_standin"  # what signs the app UI's fetchStripeSignature
DASHBOARD_USER = "usr_1DashboardUser00"
STANDIN_KEY = "rk_test_standin"  # a restricted key of ACCOUNT


def event_bytes(name: str) -> bytes:
    """An event file's bytes exactly as stored (``name`` without ``.json``)."""
    return (EVENTS / f"{name}.json").read_bytes()


def sign(body: bytes, secret: str = SECRET, *, at: int | None = None) -> str:
    """A ``Stripe-Signature`` header value: ``t=…,v1=…``."""
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def app_user_signature(
    account_id: str, user_id: str = DASHBOARD_USER, secret: str = APP_SIGNING_SECRET
) -> str:
    """The ``Stripe-Signature`` the Stripe App's UI gets from ``fetchStripeSignature()`` for a
    user signed in to ``account_id``: a signature of ``{"user_id":…,"account_id":…}``."""
    payload = json.dumps({"user_id": user_id, "account_id": account_id}, separators=(",", ":"))
    return sign(payload.encode(), secret)


def deliver(
    server: LiveServer,
    tenant: Tenant,
    body: bytes,
    *,
    secret: str = SECRET,
    header: str | None = None,
) -> httpx.Response:
    """POST the bytes to the workspace's self-hosted endpoint, signed with ``secret``."""
    headers = {"content-type": "application/json; charset=utf-8"}
    headers["stripe-signature"] = header if header is not None else sign(body, secret)
    return server.client().post(
        f"/api/stripe/webhook/{tenant.workspace_id}", content=body, headers=headers
    )


def connect(
    server: LiveServer,
    tenant: Tenant,
    *,
    account: str = ACCOUNT,
    live: str | None = None,
    test: str | None = SECRET,
    api_key: str | None = STANDIN_KEY,
) -> None:
    """Connect the tenant's workspace the self-hosted way (a sandbox: test secret only),
    Stripe vouching through ``api_key``; without a key, through the Stripe App."""
    modes = set()
    if live:
        modes.add(connection.StripeMode.live)
    if test:
        modes.add(connection.StripeMode.test)
    with server.services.db.transaction() as session:
        connection.connect(
            session,
            server.services.stripe,
            ws.get_workspace(session, tenant.slug),
            account_id=account,
            webhook_secret=live,
            test_webhook_secret=test,
            api_key=api_key,
            through_app=api_key is None,
            platform_key=server.services.settings.stripe_app_secret_key,
            modes=modes,
            via="cli",
        )


def click_with_id(server: LiveServer, tenant: Tenant, click_id: str, link_id: str) -> None:
    """Give a real click of the link the id an event names: follow the link like a visitor,
    then rename that click (the link's counter stays right: it is the same click)."""
    with server.services.db.transaction() as session:
        from codeqr.link.models import Link

        link = session.get(Link, link_id)
        assert link is not None
        path = f"/{link.key}"
    visit = server.client().get(path, headers={"user-agent": f"Mozilla/5.0 buyer-{click_id}"})
    assert visit.status_code == 302, visit.text
    real = parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]
    with server.services.db.transaction() as session:
        session.execute(update(click_events).where(click_events.c.id == real).values(id=click_id))


def tracked_link(server: LiveServer, tenant: Tenant, url: str = "https://shop.example") -> str:
    created = server.client(tenant.token).post(
        "/api/links", json={"url": url, "trackConversion": True}
    )
    assert created.status_code == 200, created.text
    link_id: str = created.json()["id"]
    return link_id


def inbox(server: LiveServer, workspace_id: str) -> list[StripeEvent]:
    with server.services.db.transaction() as session:
        return list(
            session.scalars(select(StripeEvent).where(StripeEvent.workspace_id == workspace_id))
        )


def refunds(server: LiveServer, workspace_id: str) -> list[dict[str, Any]]:
    with server.services.db.engine.connect() as conn:
        rows = conn.execute(
            select(refund_events)
            .where(refund_events.c.workspace_id == workspace_id)
            .order_by(refund_events.c.refunded_total)
        )
        return [dict(r._mapping) for r in rows]
