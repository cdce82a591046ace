"""The isolation matrix: every route of the app, and what each caller gets from it.

A row per (method, path template) of ``codeqr.app`` — the FastAPI routes and those served
beside the framework (the redirect, the fast tracking and Stripe receivers, the client
routes' CORS preflights). Each row builds its request naming objects of workspace A, and
says which status each caller gets:

API routes (``Authorization: Bearer``)
    own          A's secret key                      the route's answer (2xx)
    other        B's secret key                      404 for A's objects, else B's own scope
    publishable  A's publishable key, A's Origin     403, except the client tracking routes
    none         no key                              401, or a public route's answer
    revoked      a revoked key of A                  401
    other_publishable  B's publishable key (client tracking routes only)

Dashboard and sign-in pages (session cookie, CSRF-checked forms)
    own          A's owner signed in                 the page (200) or its redirect (303)
    other        B's owner, on A's workspace         404
    cross        B's owner, on B's workspace, naming an object of A      404
    none         no session                          303 to /login
    csrf         A's owner, with a forged form token 403

A route of the app without a row fails ``test_every_route_has_a_row``.
"""

from __future__ import annotations

import itertools
import json as jsonlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import update
from starlette.routing import Mount, Route

from codeqr.app import CodeQR
from codeqr.conversion.client_endpoints import CLIENT_PATHS
from codeqr.conversion.receiver import ROUTES as TRACK_ROUTES
from codeqr.kit.clock import utcnow
from codeqr.kit.ids import new_id
from codeqr.stripe.receiver import APP_LIVE, APP_TEST, WORKSPACE_PREFIX
from codeqr.workspace import members as team
from codeqr.workspace import service as ws
from codeqr.workspace.models import Membership, WorkspaceInvite

from .world import (
    APP_TEST_WEBHOOK_SECRET,
    APP_WEBHOOK_SECRET,
    METRICS_TOKEN,
    PARTNER_PASSWORD,
    PASSWORD,
    World,
    sign,
)

OWN = "own"
OTHER = "other"
PUBLISHABLE = "publishable"
NONE = "none"
REVOKED = "revoked"
OTHER_PUBLISHABLE = "other_publishable"
CROSS = "cross"
CSRF = "csrf"
API_CALLERS = (OWN, OTHER, PUBLISHABLE, NONE, REVOKED)
# Callers that belong to someone other than A: what they are shown must hold nothing of A.
OUTSIDERS = frozenset({OTHER, CROSS, OTHER_PUBLISHABLE, NONE, REVOKED, CSRF})
FORGED_CSRF = "forged-csrf-token"
STREAM_WEBHOOK = WORKSPACE_PREFIX + "{workspaceId}"


@dataclass(frozen=True)
class Call:
    """One request of one cell."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    probe: tuple[str, str] | None = None
    """A path and a secret key of A: what it reads must be the same after an outsider's
    request (nothing of A changed)."""

    def sent(self) -> str:
        """Everything the caller put in the request: values it may get echoed back."""
        parts = [self.path, jsonlib.dumps(self.params), jsonlib.dumps(self.json)]
        parts += [jsonlib.dumps(self.data), (self.content or b"").decode("utf-8", "replace")]
        return "\n".join(parts)


Build = Callable[[World, str], Call]
Check = Callable[[str, str], None]


@dataclass(frozen=True)
class Row:
    """A route: how to call it, and the status each caller gets."""

    method: str
    path: str
    expect: Mapping[str, int]
    build: Build
    public: bool = False
    """Answers anyone alike (the redirect, the QR image, health…): no leak check."""
    check: Check | None = None
    """More to assert about an answer: given the caller, and the body with the Location
    header on its last line."""

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path


# --- the app's route table --------------------------------------------------------------


def app_routes(app: CodeQR) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers: its FastAPI routes and mounts, and the
    routes served beside the framework (``CodeQR.dispatch``)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.api.routes):
        original = route.original_route
        if isinstance(original, Mount):
            found.add(("GET", f"{original.path}/{{path}}"))
        elif isinstance(original, APIRoute | Route):
            for method in route.methods or ():
                if method != "HEAD":  # Starlette's GET routes answer HEAD alike
                    found.add((method, str(route.path_format)))
        else:  # pragma: no cover - a new kind of route: give it a row
            raise AssertionError(f"unknown route type {type(original).__name__}")
    found.add(("GET", "/{key}"))  # the redirect: any first segment that is not reserved
    found |= {("POST", path) for path in TRACK_ROUTES}  # fast receivers, same paths
    found |= {("POST", STREAM_WEBHOOK), ("POST", APP_LIVE), ("POST", APP_TEST)}
    found |= {("OPTIONS", path) for path in CLIENT_PATHS}  # ClientCors answers preflights
    return found


# --- building requests --------------------------------------------------------------------

Value = Any | Callable[[World], Any]


def _value(value: Value, world: World) -> Any:
    return value(world) if callable(value) else value


def _ids(world: World, slug: str) -> dict[str, str]:
    a = world.a
    return {
        "link_id": a.link_id,
        "customer_id": a.customer_id,
        "idOrSlug": a.workspace_id,
        "workspaceId": a.workspace_id,
        "key": a.link_key,
        "slug": slug,
        "domain": a.domain_slug,
        "key_id": a.key_ids[0],
        "fmt": "png",
        "path": "dashboard.css",
        "partner_id": a.partner_id,
        "commission_id": a.commission_id,
        "webhookId": a.webhook_id,
        "partner_link_id": a.partner_link_id,
        "webhook_id": a.webhook_id,
        "event_id": a.webhook_event_id,
        "event": "lead",
    }


def _fresh(world: World, ids: dict[str, str], fresh: str | None) -> dict[str, str]:
    """Replace the object a destructive cell acts on by a new one of A."""
    if fresh == "link":
        ids["link_id"] = world.fresh_link(world.a)
    elif fresh == "domain":
        ids["domain"] = world.fresh_domain(world.a)
    elif fresh == "customer":
        ids["customer_id"] = world.fresh_customer(world.a)
    elif fresh == "key":
        ids["key_id"], ids["key_token"] = world.fresh_key(world.a)
    elif fresh == "partner":
        ids["partner_id"] = world.fresh_partner(world.a)
    elif fresh == "commission":
        ids["commission_id"] = world.fresh_commission(world.a)
    elif fresh == "payout":
        ids["payout_id"] = world.fresh_payout(world.a)
    elif fresh == "reward":
        world.fresh_reward(world.a)
    elif fresh == "webhook":
        ids["webhookId"] = ids["webhook_id"] = world.fresh_webhook(world.a)
    elif fresh == "invite":
        ids["invite_id"] = fresh_invite(world)[0]
    elif fresh == "member":
        ids["user_id"] = fresh_member(world)
    return ids


def fresh_invite(world: World, *, revoked: bool = False) -> tuple[str, str]:
    """A new invitation to A (the open ones before it revoked, to stay under the bound):
    its id and its link's token."""
    secret = world.server.services.settings.secret()
    with world.server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, world.a.slug)
        session.execute(
            update(WorkspaceInvite)
            .where(WorkspaceInvite.workspace_id == workspace.id)
            .values(revoked_at=utcnow())
        )
        owner = ws.get_user_by_email(session, world.a.email)
        invite = team.create_invite(session, workspace, owner, "viewer")
        if revoked:
            invite.revoked_at = utcnow()
        return invite.id, team.invite_token(secret, invite)


def fresh_member(world: World) -> str:
    """A new user who is a member of A: their id."""
    with world.server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, world.a.slug)
        user = ws.create_user(session, f"m{next(_serial)}-{new_id('x')}@example.com", PASSWORD)
        session.add(Membership(user_id=user.id, workspace_id=workspace.id, role="member"))
        return user.id


def invite_link(method: str, suffix: str = "") -> Build:
    """The invitation link's pages. own: A's owner (already a member) with a working token;
    other: B's owner with a revoked one (a working one would make B a member of A); none: no
    session with a working token; csrf: A's owner, or the sign-up form, with a forged token."""

    def build(world: World, caller: str) -> Call:
        token = fresh_invite(world, revoked=caller == OTHER)[1]
        path = f"/app/invite/{token}{suffix}"
        headers: dict[str, str] = {}
        csrf = ""
        if suffix == "/signup":  # signed out: the pre-session nonce and its form token
            if caller != NONE:
                nonce, csrf = world.login_form()
                headers["Cookie"] = nonce
            data = {"email": f"joiner{next(_serial)}-{new_id('x')}@example.com"}
            data["password"] = PASSWORD
        else:
            data = {}
            if caller != NONE:
                cookie, csrf = world.session(world.b if caller == OTHER else world.a)
                headers["Cookie"] = cookie
        if method == "GET":
            return Call(method, path, headers=headers)
        data["csrf_token"] = FORGED_CSRF if caller == CSRF else csrf
        return Call(method, path, data=data, headers=headers)

    return build


def _fill(value: Any, ids: Mapping[str, str]) -> Any:
    """A JSON body whose strings name the cell's objects: ``"{partner_id}"``."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def key_headers(world: World, caller: str, *, client: bool = False) -> dict[str, str]:
    """The ``Authorization`` (and ``Origin``) of an API caller."""
    a, b = world.a, world.b
    if caller == OWN:
        return {"Authorization": f"Bearer {a.secret}"}
    if caller == OTHER:
        return {"Authorization": f"Bearer {b.secret}"}
    if caller == PUBLISHABLE:
        return {"Authorization": f"Bearer {a.publishable}", "Origin": a.origin}
    if caller == OTHER_PUBLISHABLE:
        return {"Authorization": f"Bearer {b.publishable}", "Origin": b.origin}
    if caller == REVOKED:
        token = a.revoked_publishable if client else a.revoked
        return {"Authorization": f"Bearer {token}", "Origin": a.origin}
    return {}


def oauth_headers(world: World, caller: str) -> dict[str, str]:
    """As ``key_headers``, with OAuth access tokens for A's and B's owners."""
    tokens = {
        OWN: world.a.oauth_access,
        OTHER: world.b.oauth_access,
        REVOKED: world.a.oauth_revoked,
        PUBLISHABLE: world.a.publishable,
    }
    return {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}


def api(
    method: str,
    path: str,
    *,
    params: Value = None,
    json: Value = None,
    data: Value = None,
    fresh: str | None = None,
    probe: str | None = None,
    stream: bool = False,
    client: bool = False,
    oauth: bool = False,
    json_ids: bool = False,
) -> Build:
    """An API request naming A's objects; ``fresh`` gives the cell a new object of A;
    ``probe`` (a path template) must read the same for A after an outsider's request."""

    def build(world: World, caller: str) -> Call:
        ids = _fresh(world, _ids(world, world.a.slug), fresh)
        headers = (
            oauth_headers(world, caller) if oauth else key_headers(world, caller, client=client)
        )
        query = _value(params, world)
        if query is not None:  # values may name the cell's fresh object: "{link_id}"
            query = {name: value.format(**ids) for name, value in query.items()}
        body = _value(json, world)
        if json_ids:  # values may name the cell's fresh object: "{partner_id}"
            body = _fill(body, ids)
        return Call(
            method,
            path.format(**ids),
            params=query,
            json=body,
            data=_value(data, world),
            headers=headers,
            stream=stream,
            probe=(probe.format(**ids), world.a.secret) if probe and caller != OWN else None,
        )

    return build


def webhook(path: str, app_secret: str | None = None) -> Build:
    """A Stripe event of A's account: own signs it with A's secret (or the Stripe App's),
    other with B's, the rest do not sign it."""

    def build(world: World, caller: str) -> Call:
        a = world.a
        world.ensure_stripe(a)  # a dashboard cell may have unbound it
        body = world.stripe_event(a)
        headers = {"Content-Type": "application/json"}
        secrets = {OWN: app_secret or a.webhook_secret, OTHER: world.b.webhook_secret}
        if caller in secrets:
            headers["Stripe-Signature"] = sign(body, secrets[caller])
        headers |= key_headers(world, caller) if caller in (PUBLISHABLE, REVOKED) else {}
        return Call("POST", path.format(**_ids(world, a.slug)), content=body, headers=headers)

    return build


def metrics_scrape(world: World, caller: str) -> Call:
    """``GET /metrics``: own is the operator's Prometheus with the metrics token; every
    other caller sends its own API key (or nothing): an API key is not the metrics token."""
    if caller == OWN:
        return Call("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    return Call("GET", "/metrics", headers=key_headers(world, caller))


def page_credentials(world: World, caller: str) -> tuple[dict[str, str], str, str]:
    """The cookie header, the form's CSRF token and the workspace slug of a page caller."""
    a, b = world.a, world.b
    if caller == NONE:
        return {}, "", a.slug
    cookie, csrf = world.session(a if caller in (OWN, CSRF) else b)
    slug = b.slug if caller == CROSS else a.slug
    return {"Cookie": cookie}, FORGED_CSRF if caller == CSRF else csrf, slug


def page(
    method: str,
    path: str,
    *,
    params: Value = None,
    form: Value = None,
    fresh: str | None = None,
    probe: str | None = None,
) -> Build:
    """A dashboard request: a page, or a form posted with the caller's CSRF token."""

    def build(world: World, caller: str) -> Call:
        headers, csrf, slug = page_credentials(world, caller)
        ids = _fresh(world, _ids(world, slug), fresh)
        data = None
        if method == "POST":
            data = {"csrf_token": csrf, **_fill(_value(form, world) or {}, ids)}
        if probe and caller != OWN:
            token = ids.get("key_token", world.a.secret)
            checked: tuple[str, str] | None = (probe.format(**ids), token)
        else:
            checked = None
        return Call(
            method,
            path.format(**ids),
            params=_value(params, world),
            data=data,
            headers=headers,
            probe=checked,
        )

    return build


def portal(
    method: str,
    path: str,
    *,
    invite: bool = False,
    form: Value = None,
    fresh: str | None = None,
) -> Build:
    """A partner portal request. own: A's partner signed in to A's portal; other: B's
    partner's session (or invitation) on A's portal; cross: B's partner on B's portal,
    naming an object of A; none: no session; csrf: A's partner with a forged form token."""

    def build(world: World, caller: str) -> Call:
        a, b = world.a, world.b
        side = b if caller in (OTHER, CROSS) else a
        ids = _fresh(world, _ids(world, b.slug if caller == CROSS else a.slug), fresh)
        headers: dict[str, str] = {}
        csrf = ""
        if caller != NONE:
            cookie, csrf = world.partner_session(side)
            headers["Cookie"] = cookie
        data = None
        if invite:
            who = ids["partner_id"] if side is a else b.partner_id
            token = world.partner_invite(who) if caller != NONE else ""
            if method == "GET":
                return Call(method, path.format(**ids), params={"token": token}, headers=headers)
            nonce, csrf = world.login_form()
            headers["Cookie"] = nonce
            data = {"token": token, **(_value(form, world) or {})}
        elif method == "POST":
            data = dict(_value(form, world) or {})
            if "email" in data:  # the sign-in form: the pre-session nonce and its token
                nonce, csrf = world.login_form()
                headers["Cookie"] = nonce
                data["email"] = side.partner_email
                if caller == NONE:
                    del headers["Cookie"]
        if data is not None:
            data["csrf_token"] = FORGED_CSRF if caller == CSRF else csrf
        return Call(method, path.format(**ids), data=data, headers=headers)

    return build


# --- expectations -------------------------------------------------------------------------


def secret(own: int = 200, other: int = 404) -> dict[str, int]:
    """A route of secret keys: A's own answer, B's (404 for A's objects), 403 for a
    publishable key, 401 without a key or with a revoked one."""
    return {OWN: own, OTHER: other, PUBLISHABLE: 403, NONE: 401, REVOKED: 401}


def anyone(status: int) -> dict[str, int]:
    """A public route: every caller gets the same answer."""
    return dict.fromkeys(API_CALLERS, status)


CLIENT = {
    OWN: 403,  # a secret key is refused in the browser routes
    OTHER: 403,
    PUBLISHABLE: 200,
    NONE: 401,
    REVOKED: 401,
    OTHER_PUBLISHABLE: 404,  # B's page naming A's link, click or customer
}
PAGE = {OWN: 200, OTHER: 404, NONE: 303}
FORM = {OWN: 303, OTHER: 404, NONE: 303, CSRF: 403}


def _no_code_for_other(caller: str, seen: str) -> None:
    # B's owner cannot grant an app access to A's workspace: an error goes back, no code.
    if caller == OTHER:
        location = seen.rsplit("\n", 1)[-1]
        assert "error=" in location, location
        assert "code=" not in location, location


def _nothing_deleted_for_other(caller: str, seen: str) -> None:
    if caller == OTHER:
        assert '"deletedCount":0' in seen.replace(" ", ""), seen


def _login(world: World, caller: str) -> Call:
    """``POST /login``: the sign-in form with its one-time nonce (own: A's password; other:
    A's email with B's password; csrf: a forged token; none: no nonce at all)."""
    form = {"email": world.a.email, "password": PASSWORD, "next": "/"}
    if caller == NONE:
        return Call("POST", "/login", data={**form, "csrf_token": "none"})
    with world.server.client() as browser:
        shown = browser.get("/login")
    nonce = shown.cookies["cq_login"]
    token = shown.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    if caller == OTHER:
        form["password"] = "not A's password"
    if caller == CSRF:
        token = FORGED_CSRF
    return Call(
        "POST",
        "/login",
        data={**form, "csrf_token": token},
        headers={"Cookie": f"cq_login={nonce}"},
    )


def _authorize_params(world: World) -> dict[str, str]:
    return {
        "client_id": world.oauth_client_id,
        "redirect_uri": "https://stripe-app.example/callback",
        "response_type": "code",
        "state": "matrix",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }


LINK = "/api/links/{link_id}"
CUSTOMER = "/api/customers/{customer_id}"
DOMAIN = "/api/domains/{domain}"
WEBHOOK = "/api/webhooks/{webhookId}"
COMMISSION = "/api/commissions/{commission_id}"
PARTNER_LINKS = "/api/partners/links?partnerId={partner_id}"
_serial = itertools.count(1)
DASH = "/dashboard/{slug}"
PORTAL = "/app/partners/{slug}"
DASH_WEBHOOK = DASH + "/webhooks/{webhook_id}"

ROWS: list[Row] = [
    # --- links -------------------------------------------------------------------------
    Row(
        "POST",
        "/api/links",
        # B naming A's tag is refused as an unknown tag id (tests/link/test_isolation.py).
        secret(other=422),
        api(
            "POST",
            "/api/links",
            json=lambda w: {"url": "https://example.com/new", "tagIds": [w.a.tag_id]},
        ),
    ),
    Row("GET", "/api/links", secret(other=200), api("GET", "/api/links")),
    Row("GET", "/api/links/count", secret(other=200), api("GET", "/api/links/count")),
    Row(
        "GET",
        "/api/links/info",
        secret(),
        api("GET", "/api/links/info", params=lambda w: {"linkId": w.a.link_id}),
    ),
    Row(
        "PUT",
        "/api/links/upsert",
        # B upserting A's URL makes a link of B's own, never hands over A's.
        secret(other=200),
        api("PUT", "/api/links/upsert", json=lambda w: {"url": w.a.link_url}),
    ),
    Row(
        "POST",
        "/api/links/bulk",
        secret(other=200),
        api("POST", "/api/links/bulk", json=[{"url": "https://example.com/bulk"}]),
    ),
    Row(
        "PATCH",
        "/api/links/bulk",
        secret(),
        api(
            "PATCH",
            "/api/links/bulk",
            json=lambda w: {"linkIds": [w.a.link_id], "data": {"title": w.a.link_title}},
            probe=LINK,
        ),
    ),
    Row(
        "DELETE",
        "/api/links/bulk",
        # Another workspace's ids are skipped: nothing deleted, 200 {"deletedCount": 0}.
        secret(other=200),
        api("DELETE", "/api/links/bulk", params={"linkIds": "{link_id}"}, fresh="link", probe=LINK),
        check=_nothing_deleted_for_other,
    ),
    Row("GET", LINK, secret(), api("GET", LINK)),
    Row(
        "PATCH",
        LINK,
        secret(),
        api("PATCH", LINK, json=lambda w: {"title": w.a.link_title}, probe=LINK),
    ),
    Row("DELETE", LINK, secret(), api("DELETE", LINK, fresh="link", probe=LINK)),
    # --- custom domains ----------------------------------------------------------------
    Row(
        "POST",
        "/api/domains",
        # B adding a hostname nobody holds gets its own domain (claiming A's is a 409:
        # tests/domain/test_endpoints.py).
        {**secret(other=201), OWN: 201},
        api("POST", "/api/domains", json=lambda w: {"slug": w.new_domain_slug()}),
    ),
    Row("GET", "/api/domains", secret(other=200), api("GET", "/api/domains")),
    Row(
        "PATCH",
        DOMAIN,
        secret(),
        api(
            "PATCH",
            DOMAIN,
            json=lambda w: {"notFoundUrl": f"https://{w.a.word}-shop.example/404"},
            probe="/api/domains",
        ),
    ),
    Row("DELETE", DOMAIN, secret(), api("DELETE", DOMAIN, fresh="domain", probe="/api/domains")),
    # --- outbound webhooks --------------------------------------------------------------
    Row(
        "POST",
        "/api/webhooks",
        # B adding a receiver gets a webhook of its own (tests/webhook/test_endpoints.py).
        {**secret(other=201), OWN: 201},
        api("POST", "/api/webhooks", json=lambda w: w.new_webhook_body()),
    ),
    Row("GET", "/api/webhooks", secret(other=200), api("GET", "/api/webhooks")),
    Row("GET", WEBHOOK, secret(), api("GET", WEBHOOK)),
    Row(
        "PATCH",
        WEBHOOK,
        secret(),
        api("PATCH", WEBHOOK, json=lambda w: {"name": f"{w.a.word} CRM"}, probe=WEBHOOK),
    ),
    Row(
        "POST",
        WEBHOOK + "/secret",
        secret(),
        api("POST", WEBHOOK + "/secret", fresh="webhook", probe=WEBHOOK),
    ),
    Row("DELETE", WEBHOOK, secret(), api("DELETE", WEBHOOK, fresh="webhook", probe=WEBHOOK)),
    Row(
        "POST",
        WEBHOOK + "/test",
        secret(own=202),
        api("POST", WEBHOOK + "/test", json={"trigger": "sale.created"}),
    ),
    Row(
        "POST",
        WEBHOOK + "/redeliver",
        # B naming A's webhook (and A's event) is not found; nothing is queued.
        secret(own=202),
        api("POST", WEBHOOK + "/redeliver", json={"eventId": "{event_id}"}, json_ids=True),
    ),
    # --- QR, workspaces ----------------------------------------------------------------
    Row(
        "GET",
        "/api/qr",
        anyone(200),
        api("GET", "/api/qr", params={"url": "https://example.com"}),
        public=True,
    ),
    Row("GET", "/api/workspaces/{idOrSlug}", secret(), api("GET", "/api/workspaces/{idOrSlug}")),
    Row(
        "PATCH",
        "/api/workspaces/{idOrSlug}",
        secret(),
        api(
            "PATCH",
            "/api/workspaces/{idOrSlug}",
            json=lambda w: {"name": w.a.name},
            probe="/api/workspaces/{idOrSlug}",
        ),
    ),
    # --- conversions ---------------------------------------------------------------------
    Row(
        "POST",
        "/api/track/lead",
        secret(),  # B naming A's click: not found
        api(
            "POST",
            "/api/track/lead",
            json=lambda w: {
                "clickId": w.a.click_id,
                "eventName": "Sign up",
                "customerExternalId": w.a.customer_external_id,
                "mode": "wait",
            },
            probe=CUSTOMER,
        ),
    ),
    Row(
        "POST",
        "/api/track/sale",
        # B naming A's customer: B has no such customer, and Dub answers that with 200 and
        # nothing recorded ({"customer": null, "sale": null}).
        secret(other=200),
        api(
            "POST",
            "/api/track/sale",
            json=lambda w: {
                "customerExternalId": w.a.customer_external_id,
                "amount": 100,
                "currency": "usd",
            },
            probe=CUSTOMER,
        ),
    ),
    Row("GET", "/api/customers", secret(other=200), api("GET", "/api/customers")),
    Row(
        "POST",
        "/api/customers",
        # External ids are per workspace: B's customer of the same id is B's own.
        secret(other=200),
        api("POST", "/api/customers", json=lambda w: {"externalId": "matrix-new"}),
    ),
    Row("GET", CUSTOMER, secret(), api("GET", CUSTOMER)),
    Row(
        "PATCH",
        CUSTOMER,
        secret(),
        api("PATCH", CUSTOMER, json=lambda w: {"name": w.a.customer_name}, probe=CUSTOMER),
    ),
    Row("DELETE", CUSTOMER, secret(), api("DELETE", CUSTOMER, fresh="customer", probe=CUSTOMER)),
    # --- partner programs: B naming A's partner, group or commission gets 404 (422 for a
    # group, as for a tag) and changes nothing of A's -------------------------------------
    Row(
        "POST",
        "/api/partners",
        secret(own=201, other=422),
        api(
            "POST",
            "/api/partners",
            json=lambda w: {"email": f"new-{next(_serial)}@example.com", "groupId": w.a.group_id},
        ),
    ),
    Row("GET", "/api/partners", secret(other=200), api("GET", "/api/partners")),
    Row(
        "GET",
        "/api/partners/analytics",
        secret(),
        api("GET", "/api/partners/analytics", params={"partnerId": "{partner_id}"}),
    ),
    Row(
        "GET",
        "/api/partners/links",
        secret(),
        api("GET", "/api/partners/links", params={"partnerId": "{partner_id}"}),
    ),
    Row(
        "POST",
        "/api/partners/links",
        secret(own=201),
        api(
            "POST",
            "/api/partners/links",
            json={"partnerId": "{partner_id}", "url": "https://example.com/partner"},
            json_ids=True,
            probe=PARTNER_LINKS,
        ),
    ),
    Row(
        "PUT",
        "/api/partners/links/upsert",
        secret(),
        api(
            "PUT",
            "/api/partners/links/upsert",
            json={
                "partnerId": "{partner_id}",
                "url": "https://example.com/upserted",
                "linkProps": {"title": "taken over"},
            },
            json_ids=True,
            probe=PARTNER_LINKS,
        ),
    ),
    Row(
        "POST",
        "/api/partners/ban",
        secret(),
        api(
            "POST",
            "/api/partners/ban",
            json={"partnerId": "{partner_id}", "reason": "fraud"},
            json_ids=True,
            fresh="partner",
            probe="/api/partners",
        ),
    ),
    Row(
        "POST",
        "/api/partners/deactivate",
        secret(),
        api(
            "POST",
            "/api/partners/deactivate",
            json={"partnerId": "{partner_id}"},
            json_ids=True,
            fresh="partner",
            probe="/api/partners",
        ),
    ),
    # B's program is B's own: B reads and changes it, and nothing of A's changes.
    Row("GET", "/api/program", secret(other=200), api("GET", "/api/program")),
    Row(
        "PATCH",
        "/api/program",
        secret(other=200),
        api("PATCH", "/api/program", json={"holdingPeriodDays": 7}, probe="/api/program"),
    ),
    Row("GET", "/api/program/rewards", secret(other=200), api("GET", "/api/program/rewards")),
    Row(
        "PUT",
        "/api/program/rewards/{event}",
        secret(other=200),
        api(  # B sets its click reward (the DELETE row's lead reward stays A's alone)
            "PUT",
            "/api/program/rewards/click",
            json={"type": "flat", "amount": 777},
            probe="/api/program/rewards",
        ),
    ),
    Row(
        "DELETE",
        "/api/program/rewards/{event}",
        secret(),  # B has no lead reward of its own: 404, and A's stays
        api("DELETE", "/api/program/rewards/{event}", fresh="reward", probe="/api/program/rewards"),
    ),
    Row("GET", "/api/commissions", secret(other=200), api("GET", "/api/commissions")),
    Row(
        "POST",
        "/api/commissions",
        secret(own=202),
        api(
            "POST",
            "/api/commissions",
            json={"type": "custom", "partnerId": "{partner_id}", "amount": 100_000},
            json_ids=True,
            probe="/api/commissions",
        ),
    ),
    Row(
        "PATCH",
        "/api/commissions/bulk",
        secret(),
        api(
            "PATCH",
            "/api/commissions/bulk",
            json={"commissionIds": ["{commission_id}"], "status": "fraud"},
            json_ids=True,
            fresh="commission",
            probe="/api/commissions",
        ),
    ),
    Row(
        "PATCH",
        COMMISSION,
        secret(),
        api(
            "PATCH",
            COMMISSION,
            json={"earnings": 99_999},
            fresh="commission",
            probe="/api/commissions",
        ),
    ),
    Row("GET", "/api/payouts", secret(other=200), api("GET", "/api/payouts")),
    # --- analytics and events --------------------------------------------------------------
    Row(
        "GET",
        "/api/events/stream",
        secret(),  # B naming A's workspace: not found
        api(
            "GET",
            "/api/events/stream",
            params=lambda w: {"workspace": w.a.slug},
            stream=True,
        ),
    ),
    *[
        Row(
            "GET",
            path,
            secret(),  # B naming A's link: not found
            api("GET", path, params=lambda w: {"linkId": w.a.link_id, "interval": "30d"}),
        )
        for path in ("/api/analytics", "/api/analytics/funnel", "/api/events")
    ],
    # --- Stripe ------------------------------------------------------------------------------
    Row(
        "PATCH",
        "/api/stripe/integration",
        # A re-binds its own account (no key needed for the account it holds); B cannot bind
        # A's account: without the account's own key Stripe cannot vouch for B (400), and
        # only a caller Stripe vouches for would learn that A holds it (409).
        secret(other=400),
        api(
            "PATCH",
            "/api/stripe/integration",
            json=lambda w: {"stripeAccountId": w.a.account_id, "stripeMode": "test"},
        ),
    ),
    Row(
        "POST",
        STREAM_WEBHOOK,
        {OWN: 200, OTHER: 400, PUBLISHABLE: 400, NONE: 400, REVOKED: 400},
        webhook(STREAM_WEBHOOK),
    ),
    Row(
        "POST",
        APP_LIVE,
        {OWN: 200, OTHER: 400, PUBLISHABLE: 400, NONE: 400, REVOKED: 400},
        webhook(APP_LIVE, APP_WEBHOOK_SECRET),
    ),
    Row(
        "POST",
        APP_TEST,
        {OWN: 200, OTHER: 400, PUBLISHABLE: 400, NONE: 400, REVOKED: 400},
        webhook(APP_TEST, APP_TEST_WEBHOOK_SECRET),
    ),
    # --- OAuth -------------------------------------------------------------------------------
    Row(
        "POST",
        "/api/oauth/token",
        # The client authenticates, not a key: a Bearer header is refused (401
        # invalid_client); no header with a made-up code is invalid_grant (400).
        {OWN: 401, OTHER: 401, PUBLISHABLE: 401, NONE: 400, REVOKED: 401},
        api(
            "POST",
            "/api/oauth/token",
            data=lambda w: {
                "grant_type": "authorization_code",
                "code": "made-up",
                "redirect_uri": "https://stripe-app.example/callback",
                "client_id": w.oauth_client_id,
                "client_secret": w.oauth_client_secret,
                "code_verifier": "x" * 43,
            },
        ),
    ),
    Row(
        "GET",
        "/api/oauth/userinfo",
        # own and other: each owner's OAuth access token (B sees B, never A).
        {OWN: 200, OTHER: 200, PUBLISHABLE: 401, NONE: 401, REVOKED: 401},
        api("GET", "/api/oauth/userinfo", oauth=True),
    ),
    Row(
        "OPTIONS", "/api/oauth/token", anyone(204), api("OPTIONS", "/api/oauth/token"), public=True
    ),
    Row(
        "OPTIONS",
        "/api/oauth/userinfo",
        anyone(204),
        api("OPTIONS", "/api/oauth/userinfo"),
        public=True,
    ),
    # --- client-side tracking (publishable keys) ----------------------------------------------
    Row(
        "POST",
        "/api/track/click",
        CLIENT,
        api(
            "POST",
            "/api/track/click",
            json=lambda w: {"domain": w.a.link_domain, "key": w.a.link_key},
            client=True,
        ),
    ),
    Row(
        "POST",
        "/api/track/lead/client",
        CLIENT,
        api(
            "POST",
            "/api/track/lead/client",
            json=lambda w: {
                "clickId": w.a.click_id,
                "eventName": "Sign up",
                "customerExternalId": w.a.customer_external_id,
            },
            client=True,
            probe=CUSTOMER,
        ),
    ),
    Row(
        "POST",
        "/api/track/sale/client",
        # Client sales are off unless the workspace turns them on (SPEC §9); the world's
        # workspaces have not.
        {**CLIENT, PUBLISHABLE: 403, OTHER_PUBLISHABLE: 403},
        api(
            "POST",
            "/api/track/sale/client",
            json=lambda w: {
                "customerExternalId": w.a.customer_external_id,
                "amount": 100,
                "currency": "usd",
            },
            client=True,
            probe=CUSTOMER,
        ),
    ),
    *[
        Row("OPTIONS", path, anyone(204), api("OPTIONS", path), public=True)
        for path in sorted(CLIENT_PATHS)
    ],
    Row("GET", "/_/script.js", anyone(200), api("GET", "/_/script.js"), public=True),
    # --- public ------------------------------------------------------------------------------
    Row("GET", "/{key}", anyone(302), api("GET", "/{key}"), public=True),
    Row("GET", "/healthz", anyone(200), api("GET", "/healthz"), public=True),
    Row("GET", "/readyz", anyone(200), api("GET", "/readyz"), public=True),
    # On with CODEQR_METRICS_TOKEN (as here): 401 without it; off without one: 404 for all
    # (tests/system/test_metrics.py).
    Row(
        "GET",
        "/metrics",
        {OWN: 200, OTHER: 401, PUBLISHABLE: 401, NONE: 401, REVOKED: 401},
        metrics_scrape,
    ),
    Row("GET", "/api/openapi.json", anyone(200), api("GET", "/api/openapi.json"), public=True),
    Row("GET", "/api/docs", anyone(200), api("GET", "/api/docs"), public=True),
    Row("GET", "/static/{path}", anyone(200), api("GET", "/static/{path}"), public=True),
    # --- sign-in and OAuth consent pages ---------------------------------------------------
    Row("GET", "/login", {OWN: 303, OTHER: 303, NONE: 200}, page("GET", "/login")),
    Row("POST", "/login", {OWN: 303, OTHER: 400, NONE: 403, CSRF: 403}, _login),
    Row("POST", "/logout", {OWN: 303, OTHER: 303, NONE: 303, CSRF: 403}, page("POST", "/logout")),
    Row(
        "GET",
        "/oauth/authorize",
        {OWN: 200, OTHER: 200, NONE: 303},
        page("GET", "/oauth/authorize", params=_authorize_params),
    ),
    Row(
        "POST",
        "/oauth/authorize",
        {OWN: 302, OTHER: 302, NONE: 303, CSRF: 403},
        page(
            "POST",
            "/oauth/authorize",
            form=lambda w: {
                **_authorize_params(w),
                "workspace_id": w.a.workspace_id,
                "decision": "allow",
            },
        ),
        check=_no_code_for_other,
    ),
    # --- the partner program in the dashboard --------------------------------------------
    Row("GET", DASH + "/program", PAGE, page("GET", DASH + "/program")),
    Row(
        "POST",
        DASH + "/program/partners",
        FORM,
        page(
            "POST",
            DASH + "/program/partners",
            form=lambda w: {"email": f"matrix-{next(_serial)}@dash-mail.example"},
        ),
    ),
    Row(
        "POST",
        DASH + "/program/rewards",
        FORM,
        page(
            "POST",
            DASH + "/program/rewards",
            form={"event": "lead", "type": "flat", "amount": "1.00"},
        ),
    ),
    Row(
        "POST",
        DASH + "/program/settings",
        FORM,
        page(
            "POST",
            DASH + "/program/settings",
            form={"holding_days": "30", "min_payout": "100.00"},
        ),
    ),
    Row(
        "GET",
        DASH + "/program/partners/{partner_id}",
        {**PAGE, CROSS: 404},
        page("GET", DASH + "/program/partners/{partner_id}"),
    ),
    Row("GET", DASH + "/program/commissions", PAGE, page("GET", DASH + "/program/commissions")),
    Row(
        "POST",
        DASH + "/program/commissions/status",
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH + "/program/commissions/status",
            form={"status": "canceled", "commission_ids": "{commission_id}"},
            fresh="commission",
            probe=COMMISSION,
        ),
    ),
    Row("GET", DASH + "/program/payouts", PAGE, page("GET", DASH + "/program/payouts")),
    Row("GET", DASH + "/program/payouts.csv", PAGE, page("GET", DASH + "/program/payouts.csv")),
    Row("POST", DASH + "/program/payouts/run", FORM, page("POST", DASH + "/program/payouts/run")),
    Row(
        "POST",
        DASH + "/program/payouts/{payout_id}/paid",
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH + "/program/payouts/{payout_id}/paid",
            form={"reference": "matrix"},
            fresh="payout",
            probe="/api/payouts",
        ),
    ),
    # --- the partner portal ---------------------------------------------------------------
    Row("GET", PORTAL, {OWN: 200, OTHER: 303, NONE: 303}, portal("GET", PORTAL)),
    Row(
        "GET",
        PORTAL + "/login",
        {OWN: 303, OTHER: 200, NONE: 200},
        portal("GET", PORTAL + "/login"),
        public=True,  # the sign-in card names the program, to anyone with the address
    ),
    Row(
        "POST",
        PORTAL + "/login",
        # other: B's partner's email and password on A's portal
        {OWN: 303, OTHER: 400, NONE: 403, CSRF: 403},
        portal(
            "POST", PORTAL + "/login", form=lambda w: {"email": "", "password": PARTNER_PASSWORD}
        ),
        public=True,
    ),
    Row(
        "POST",
        PORTAL + "/logout",
        {OWN: 303, OTHER: 303, NONE: 303, CSRF: 403},
        portal("POST", PORTAL + "/logout"),
    ),
    Row(
        "GET",
        PORTAL + "/invite",
        {OWN: 200, OTHER: 400, NONE: 400},
        portal("GET", PORTAL + "/invite", invite=True),
    ),
    Row(
        "POST",
        PORTAL + "/invite",
        {OWN: 303, OTHER: 400, NONE: 400, CSRF: 403},
        portal(
            "POST",
            PORTAL + "/invite",
            invite=True,
            form={"password": "a new partner password"},
            fresh="partner",
        ),
    ),
    Row(
        "GET",
        PORTAL + "/links/{link_id}/qr.svg",  # built naming A's partner's link
        {OWN: 200, OTHER: 303, CROSS: 404, NONE: 303},
        portal("GET", PORTAL + "/links/{partner_link_id}/qr.svg"),
    ),
    # --- dashboard -----------------------------------------------------------------------------
    Row("GET", "/", {OWN: 303, OTHER: 303, NONE: 303}, page("GET", "/")),
    Row("GET", "/dashboard", {OWN: 303, OTHER: 303, NONE: 303}, page("GET", "/dashboard")),
    # The no-workspace page's form: a workspace of the signed-in user's own, in no one
    # else's scope (other: a new one of B's owner), as the settings tab's form makes.
    Row(
        "POST",
        "/dashboard/workspaces",
        {OWN: 303, OTHER: 303, NONE: 303, CSRF: 403},
        page(
            "POST",
            "/dashboard/workspaces",
            form=lambda w: {"new_ws_name": "Matrix", "new_ws_slug": f"matrix-{next(_serial)}"},
        ),
    ),
    Row("GET", DASH, {OWN: 303, OTHER: 404, NONE: 303}, page("GET", DASH)),
    Row("GET", DASH + "/links", PAGE, page("GET", DASH + "/links")),
    Row("GET", DASH + "/links/new", PAGE, page("GET", DASH + "/links/new")),
    Row(
        "POST",
        DASH + "/links/new",
        FORM,
        page("POST", DASH + "/links/new", form={"url": "https://example.com/from-dashboard"}),
    ),
    Row(
        "GET",
        DASH + "/links/{link_id}",
        {**PAGE, CROSS: 404},
        page("GET", DASH + "/links/{link_id}"),
    ),
    Row(
        "POST",
        DASH + "/links/{link_id}",
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH + "/links/{link_id}",
            form=lambda w: {"url": w.a.link_url, "title": w.a.link_title},
            probe=LINK,
        ),
    ),
    Row(
        "GET",
        DASH + "/links/{link_id}/delete",
        {**PAGE, CROSS: 404},
        page("GET", DASH + "/links/{link_id}/delete"),
    ),
    Row(
        "POST",
        DASH + "/links/{link_id}/delete",
        {**FORM, CROSS: 404},
        page("POST", DASH + "/links/{link_id}/delete", fresh="link", probe=LINK),
    ),
    Row(
        "GET",
        DASH + "/links/{link_id}/qr.{fmt}",
        {**PAGE, CROSS: 404},
        page("GET", DASH + "/links/{link_id}/qr.{fmt}"),
    ),
    Row(
        "GET",
        DASH + "/analytics",
        # B's own page naming A's link: drawn for B, with nothing of A's link on it.
        {**PAGE, CROSS: 200},
        page("GET", DASH + "/analytics", params=lambda w: {"linkId": w.a.link_id}),
    ),
    Row(
        "GET",
        DASH + "/analytics/data",
        {**PAGE, CROSS: 404},
        page("GET", DASH + "/analytics/data", params=lambda w: {"linkId": w.a.link_id}),
    ),
    Row("GET", DASH + "/events", PAGE, page("GET", DASH + "/events")),
    Row("GET", DASH + "/customers", PAGE, page("GET", DASH + "/customers")),
    Row("GET", DASH + "/events.csv", PAGE, page("GET", DASH + "/events.csv")),
    Row("GET", DASH + "/customers.csv", PAGE, page("GET", DASH + "/customers.csv")),
    Row("GET", DASH + "/settings", PAGE, page("GET", DASH + "/settings")),
    Row(
        "POST",
        DASH + "/settings/keys",
        FORM,  # then the settings page shows the new key once (POST/redirect/GET)
        page("POST", DASH + "/settings/keys", form={"name": "matrix", "kind": "secret"}),
    ),
    Row(
        "POST",
        DASH + "/settings/keys/{key_id}/revoke",
        {**FORM, CROSS: 404},
        # the probe: A's fresh key still opens the API after an outsider's attempt
        page(
            "POST", DASH + "/settings/keys/{key_id}/revoke", fresh="key", probe="/api/links/count"
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/domains",
        FORM,
        page(
            "POST", DASH + "/settings/domains", form=lambda w: {"domain_slug": w.new_domain_slug()}
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/domains/{domain}/delete",
        {**FORM, CROSS: 404},
        page(
            "POST", DASH + "/settings/domains/{domain}/delete", fresh="domain", probe="/api/domains"
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/hostnames",
        FORM,
        page("POST", DASH + "/settings/hostnames", form=lambda w: {"hostnames": w.a.hostname}),
    ),
    Row(
        "POST",
        DASH + "/settings/currency",
        FORM,
        page("POST", DASH + "/settings/currency", form={"currency": "USD"}),
    ),
    Row(
        "POST",
        DASH + "/settings/client-sales",
        FORM,
        # turned (or kept) off: the client sale cells expect a workspace without client sales
        page("POST", DASH + "/settings/client-sales", form={"enabled": "", "client_sale_max": ""}),
    ),
    Row(
        "POST",
        DASH + "/settings/stripe",
        FORM,
        page(
            "POST",
            DASH + "/settings/stripe",
            form=lambda w: {
                "account_id": w.a.account_id,
                "webhook_secret": w.a.webhook_secret,
                "test_webhook_secret": w.a.webhook_secret,
            },
        ),
    ),
    Row("GET", DASH + "/webhooks", PAGE, page("GET", DASH + "/webhooks")),
    Row(
        "POST",
        DASH + "/webhooks",
        FORM,
        page(
            "POST",
            DASH + "/webhooks",
            form=lambda w: {**w.new_webhook_body(), "triggers": ["link.created"]},
        ),
    ),
    Row("GET", DASH_WEBHOOK, {**PAGE, CROSS: 404}, page("GET", DASH_WEBHOOK)),
    Row(
        "POST",
        DASH_WEBHOOK,
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH_WEBHOOK,
            form=lambda w: {
                "name": f"{w.a.word.capitalize()} CRM",
                "url": w.a.webhook_url,
                "triggers": ["link.created", "lead.created", "sale.created"],
            },
            probe=WEBHOOK,
        ),
    ),
    Row(
        "POST",
        DASH_WEBHOOK + "/delete",
        {**FORM, CROSS: 404},
        page("POST", DASH_WEBHOOK + "/delete", fresh="webhook", probe=WEBHOOK),
    ),
    Row(
        "POST",
        DASH_WEBHOOK + "/secret",
        {**FORM, CROSS: 404},
        page("POST", DASH_WEBHOOK + "/secret", fresh="webhook", probe=WEBHOOK),
    ),
    Row(
        "POST",
        DASH_WEBHOOK + "/enable",
        {**FORM, CROSS: 404},
        page("POST", DASH_WEBHOOK + "/enable", probe=WEBHOOK),
    ),
    Row(
        "POST",
        DASH_WEBHOOK + "/test",
        {**FORM, CROSS: 404},
        page("POST", DASH_WEBHOOK + "/test", form={"trigger": "lead.created"}),
    ),
    Row(
        "POST",
        DASH_WEBHOOK + "/redeliver",
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH_WEBHOOK + "/redeliver",
            form=lambda w: {"event_id": w.a.webhook_event_id},
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/stripe/disconnect",
        FORM,
        page("POST", DASH + "/settings/stripe/disconnect"),
    ),
    Row("GET", DASH + "/settings/keys", PAGE, page("GET", DASH + "/settings/keys")),
    Row("GET", DASH + "/settings/domains", PAGE, page("GET", DASH + "/settings/domains")),
    Row("GET", DASH + "/settings/stripe", PAGE, page("GET", DASH + "/settings/stripe")),
    Row("GET", DASH + "/settings/usage", PAGE, page("GET", DASH + "/settings/usage")),
    Row("GET", DASH + "/settings/members", PAGE, page("GET", DASH + "/settings/members")),
    Row(
        "POST",
        DASH + "/settings/general",
        FORM,  # A's name and slug, saved as they are
        page(
            "POST",
            DASH + "/settings/general",
            form=lambda w: {"ws_name": w.a.name, "ws_slug": "{slug}"},
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/workspaces",
        FORM,  # own: a new workspace of A's owner, which no other cell names
        page(
            "POST",
            DASH + "/settings/workspaces",
            form=lambda w: {"new_ws_name": "Matrix", "new_ws_slug": f"matrix-{next(_serial)}"},
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/members/invite",
        FORM,
        page("POST", DASH + "/settings/members/invite", form={"role": "viewer"}),
    ),
    Row(
        "POST",
        DASH + "/settings/members/invites/{invite_id}/revoke",
        {**FORM, CROSS: 404},
        page("POST", DASH + "/settings/members/invites/{invite_id}/revoke", fresh="invite"),
    ),
    Row(
        "POST",
        DASH + "/settings/members/{user_id}/role",
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH + "/settings/members/{user_id}/role",
            form={"role": "viewer"},
            fresh="member",
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/members/{user_id}/remove",
        {**FORM, CROSS: 404},
        page("POST", DASH + "/settings/members/{user_id}/remove", fresh="member"),
    ),
    # A's owner is its only owner, who may not leave it (403, and stays); leaving as a
    # member or viewer: tests/dashboard/test_members.py.
    Row(
        "POST",
        DASH + "/settings/members/leave",
        {**FORM, OWN: 403},
        page("POST", DASH + "/settings/members/leave"),
    ),
    # The invitation link's page shows the invited workspace's name to whoever holds a
    # working link: it is public to them by design (other holds a revoked one: 404).
    Row(
        "GET",
        "/app/invite/{token}",
        {OWN: 200, OTHER: 404, NONE: 200},
        invite_link("GET"),
        public=True,
    ),
    Row(
        "POST",
        "/app/invite/{token}",
        {OWN: 303, OTHER: 404, NONE: 303, CSRF: 403},
        invite_link("POST"),
    ),
    Row(
        "POST",
        "/app/invite/{token}/signup",
        # own: a new account joins A; none: no sign-in nonce, so the form is refused
        {OWN: 303, OTHER: 404, NONE: 403, CSRF: 403},
        invite_link("POST", "/signup"),
        public=True,
    ),
    Row(
        "POST",
        DASH + "/links/bulk",
        {**FORM, CROSS: 404},
        page(
            "POST",
            DASH + "/links/bulk",
            form={"action": "archive", "ids": "{link_id}"},
            fresh="link",
            probe=LINK,
        ),
    ),
    Row(
        "POST",
        DASH + "/settings/password",
        FORM,
        # the owner's own password, set again to itself: later cells still sign in with it
        page(
            "POST",
            DASH + "/settings/password",
            form={
                "current_password": PASSWORD,
                "new_password": PASSWORD,
                "confirm_password": PASSWORD,
            },
        ),
    ),
]


def cells() -> list[tuple[Row, str]]:
    """Every (row, caller) pair of the table."""
    return [(row, caller) for row in ROWS for caller in row.expect]
