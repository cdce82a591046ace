"""Two workspaces, A and B, built once per module for the security suite.

Every value of A that another caller must never see is distinctive (``Avocet``…), so a
leak shows as a plain substring of an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from codeqr.auth import service as auth
from codeqr.auth.csrf import csrf_keys
from codeqr.kit.ids import new_id
from codeqr.oauth import service as oauth
from codeqr.partner.models import Partner
from codeqr.payout.models import Payout, PayoutStatus
from codeqr.portal import service as portal
from codeqr.program import service as programs
from codeqr.stripe import service as stripe_connection
from codeqr.stripe.models import StripeIntegration
from codeqr.webhook.models import WebhookEvent
from codeqr.workspace import service as ws
from codeqr.workspace.models import KeyKind
from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
PARTNER_PASSWORD = "partner horse battery"
APP_WEBHOOK_SECRET = "whsec_matrix_app_live"
APP_TEST_WEBHOOK_SECRET = "whsec_matrix_app_test"
METRICS_TOKEN = "matrix-metrics-token-0123456789"
OAUTH_REDIRECT = "https://stripe-app.example/callback"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
_counter = itertools.count(1)


def sign(body: bytes, secret: str) -> str:
    """A ``Stripe-Signature`` header for ``body`` (``t=…,v1=HMAC-SHA256``)."""
    t = int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@dataclass
class Side:
    """One workspace with its owner, keys and one object of each kind."""

    word: str
    workspace_id: str = ""
    slug: str = ""
    name: str = ""
    user_id: str = ""
    email: str = ""
    secret: str = ""
    publishable: str = ""
    revoked: str = ""
    revoked_publishable: str = ""
    hostname: str = ""
    link_id: str = ""
    link_key: str = ""
    link_domain: str = ""
    link_url: str = ""
    link_title: str = ""
    link_external_id: str = ""
    tag_id: str = ""
    tag_name: str = ""
    click_id: str = ""
    customer_id: str = ""
    customer_external_id: str = ""
    customer_name: str = ""
    customer_email: str = ""
    domain_slug: str = ""
    account_id: str = ""
    webhook_secret: str = ""
    oauth_access: str = ""
    oauth_revoked: str = ""
    partner_id: str = ""
    partner_link_id: str = ""
    partner_email: str = ""
    partner_name: str = ""
    partner_tenant_id: str = ""
    group_id: str = ""
    commission_id: str = ""
    commission_description: str = ""
    webhook_id: str = ""
    webhook_url: str = ""
    webhook_signing_secret: str = ""
    webhook_event_id: str = ""
    """An event noted for the side's webhook (its lead's): what a redelivery names."""
    key_ids: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        """An ``Origin`` of the workspace's allowed hostname."""
        return f"https://{self.hostname}"

    def pii(self) -> dict[str, str]:
        """Stored personal data: never in an answer to a publishable key (SPEC §9)."""
        return {
            "customer name": self.customer_name,
            "customer email": self.customer_email,
            "owner email": self.email,
        }

    def markers(self) -> dict[str, str]:
        """Everything of the workspace another workspace's caller must never be shown."""
        return {
            "workspace id": self.workspace_id,
            "workspace slug": self.slug,
            "workspace name": self.name,
            "owner id": self.user_id,
            "link id": self.link_id,
            "link url": self.link_url,
            "link title": self.link_title,
            "link externalId": self.link_external_id,
            "tag id": self.tag_id,
            "tag name": self.tag_name,
            "click id": self.click_id,
            "customer id": self.customer_id,
            "customer externalId": self.customer_external_id,
            "domain slug": self.domain_slug,
            "stripe account": self.account_id,
            "partner id": self.partner_id,
            "partner email": self.partner_email,
            "partner name": self.partner_name,
            "partner tenantId": self.partner_tenant_id,
            "partner group id": self.group_id,
            "commission id": self.commission_id,
            "commission description": self.commission_description,
            "secret key": self.secret,
            "webhook id": self.webhook_id,
            "webhook url": self.webhook_url,
            "webhook signing secret": self.webhook_signing_secret,
            "webhook event id": self.webhook_event_id,
            **self.pii(),
            **{f"key id {n}": key_id for n, key_id in enumerate(self.key_ids)},
        }


class World:
    """A and B on one live server, and fresh objects of A for the cells that destroy one."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.a = Side("avocet")
        self.b = Side("bittern")
        self.oauth_client_id = ""
        self.oauth_client_secret = ""
        self.csrf = csrf_keys(server.services.settings.secret())

    @classmethod
    def build(cls, server: LiveServer) -> World:
        world = cls(server)
        with server.services.db.transaction() as session:
            app = oauth.register_app(session, name="Matrix App", redirect_uris=[OAUTH_REDIRECT])
            world.oauth_client_id = app.app.client_id
            world.oauth_client_secret = app.client_secret
        for side in (world.a, world.b):
            world._populate(side)
        return world

    # --- building ------------------------------------------------------------------------

    def _populate(self, side: Side) -> None:
        word, title = side.word, side.word.capitalize()
        side.slug = word
        side.name = f"{title} Shop"
        side.email = f"owner@{word}-mail.example"
        side.hostname = f"www.{word}-site.example"
        side.account_id = f"acct_{word}0000000001"
        side.webhook_secret = f"whsec_{word}_endpoint"
        with self.server.services.db.transaction() as session:
            user = ws.create_user(session, side.email, PASSWORD, name=f"{title} Owner")
            workspace = ws.create_workspace(
                session, name=side.name, slug=side.slug, owner=user, plan="business"
            )
            side.user_id, side.workspace_id = user.id, workspace.id
            secret = ws.create_api_key(session, workspace, name="server", created_by=user)
            side.secret = secret.token
            side.key_ids.append(secret.key.id)
            pk = ws.create_api_key(session, workspace, name="site", kind=KeyKind.publishable)
            side.publishable = pk.token
            gone = ws.create_api_key(session, workspace, name="old")
            ws.revoke_api_key(session, workspace, gone.key.id)
            side.revoked = gone.token
            gone_pk = ws.create_api_key(session, workspace, name="old", kind=KeyKind.publishable)
            ws.revoke_api_key(session, workspace, gone_pk.key.id)
            side.revoked_publishable = gone_pk.token
            side.key_ids += [pk.key.id, gone.key.id, gone_pk.key.id]
            ws.set_allowed_hostnames(session, workspace, [side.hostname])
        self.ensure_stripe(side)
        api = self.api(side)
        side.domain_slug = f"go.{word}-shop.example"
        domain = api.post(
            "/api/domains",
            json={"slug": side.domain_slug, "notFoundUrl": f"https://{word}-shop.example/404"},
        )
        assert domain.status_code == 201, domain.text
        side.link_url = f"https://{word}-shop.example/landing"
        side.link_title = f"{title} spring sale"
        side.link_external_id = f"{word}-link-ext"
        side.tag_name = f"{word}-tag"
        created = api.post(
            "/api/links",
            json={
                "url": side.link_url,
                "key": f"{word}-go",
                "externalId": side.link_external_id,
                "title": side.link_title,
                "tagNames": [side.tag_name],
                "trackConversion": True,
            },
        )
        assert created.status_code == 200, created.text
        link = created.json()
        side.link_id, side.link_key, side.link_domain = link["id"], link["key"], link["domain"]
        side.tag_id = link["tags"][0]["id"]
        side.webhook_url = f"https://hooks.{word}-crm.example/codeqr"
        hook = api.post(
            "/api/webhooks",
            json={
                "name": f"{title} CRM",
                "url": side.webhook_url,
                "triggers": ["link.created", "lead.created", "sale.created"],
            },
        )
        assert hook.status_code == 201, hook.text
        side.webhook_id = hook.json()["id"]
        side.webhook_signing_secret = hook.json()["secret"]
        side.click_id = self.click(side.link_key)
        side.customer_external_id = f"{word}-customer-ext"
        side.customer_name = f"Ada {title}"
        side.customer_email = f"ada@{word}-mail.example"
        lead = api.post(
            "/api/track/lead",
            json={
                "clickId": side.click_id,
                "eventName": "Sign up",
                "customerExternalId": side.customer_external_id,
                "customerName": side.customer_name,
                "customerEmail": side.customer_email,
                "mode": "wait",
            },
        )
        assert lead.status_code == 200, lead.text
        found = api.get("/api/customers", params={"externalId": side.customer_external_id})
        assert found.status_code == 200, found.text
        side.customer_id = found.json()[0]["id"]
        sale = api.post(
            "/api/track/sale",
            json={
                "customerExternalId": side.customer_external_id,
                "amount": 4900,
                "currency": "usd",
                "invoiceId": f"in_{word}_seed",
            },
        )
        assert sale.status_code == 200, sale.text
        with self.server.services.db.transaction() as session:
            side.webhook_event_id = session.scalars(
                select(WebhookEvent.id).where(
                    WebhookEvent.workspace_id == side.workspace_id,
                    WebhookEvent.type == "lead.created",
                )
            ).one()
        self._partner(side)
        side.oauth_access = self.oauth_token(side)
        side.oauth_revoked = self.oauth_token(side)
        with self.server.services.db.transaction() as session:
            found_token = oauth.resolve_access_token(session, side.oauth_revoked)
            assert found_token is not None
            found_token[0].revoked_at = found_token[0].created_at

    def _partner(self, side: Side) -> None:
        """A partner of the side's program, with a link and a manual commission."""
        title = side.word.capitalize()
        side.partner_email = f"partner@{side.word}-mail.example"
        side.partner_name = f"{title} Partner"
        side.partner_tenant_id = f"{side.word}-tenant"
        api = self.api(side)
        made = api.post(
            "/api/partners",
            json={
                "email": side.partner_email,
                "name": side.partner_name,
                "tenantId": side.partner_tenant_id,
            },
        )
        assert made.status_code == 201, made.text
        side.partner_id, side.group_id = made.json()["id"], made.json()["groupId"]
        link = api.post(
            "/api/partners/links",
            json={"partnerId": side.partner_id, "url": f"https://{side.word}-shop.example/p"},
        )
        assert link.status_code == 201, link.text
        side.partner_link_id = link.json()["id"]
        with self.server.services.db.transaction() as session:
            partner = session.get(Partner, side.partner_id)
            assert partner is not None
            portal.set_password(partner, PARTNER_PASSWORD)
        side.commission_description = f"{title} launch bonus"
        side.commission_id = self.fresh_commission(side, side.commission_description)

    def fresh_partner(self, side: Side) -> str:
        """A new partner of the side, for a cell that bans or deactivates one."""
        n = next(_counter)
        made = self.api(side).post(
            "/api/partners", json={"email": f"fresh-{n}@{side.word}-mail.example"}
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def fresh_reward(self, side: Side) -> None:
        """A lead reward of the side's program (set again if a cell deleted it)."""
        made = self.api(side).put("/api/program/rewards/lead", json={"type": "flat", "amount": 500})
        assert made.status_code == 200, made.text

    def fresh_commission(self, side: Side, description: str | None = None) -> str:
        """A new manual commission of the side's partner; its id."""
        n = next(_counter)
        text = description or f"{side.word} fresh bonus {n}"
        api = self.api(side)
        made = api.post(
            "/api/commissions",
            json={
                "type": "custom",
                "partnerId": side.partner_id,
                "amount": 1000 + n,
                "description": text,
            },
        )
        assert made.status_code == 202, made.text
        listed = api.get("/api/commissions", params={"type": "custom", "pageSize": 100}).json()
        return str(next(c["id"] for c in listed if c["description"] == text))

    def ensure_stripe(self, side: Side) -> None:
        """Bind the side's Stripe account with its endpoint secret (cells may unbind it).
        Written straight into the table: how Stripe vouches for a binding has tests of its
        own (tests/stripe/test_integration.py); the matrix needs a bound account."""
        with self.server.services.db.transaction() as session:
            workspace = ws.get_workspace(session, side.slug)
            if stripe_connection.get(session, workspace.id) is None:
                session.add(
                    StripeIntegration(
                        workspace_id=workspace.id,
                        account_id=side.account_id,
                        live=True,
                        test=True,
                        webhook_secret=side.webhook_secret,
                        test_webhook_secret=side.webhook_secret,
                        connected_via="dashboard",
                    )
                )

    def oauth_token(self, side: Side) -> str:
        """An OAuth access token the side's owner granted the matrix's app (consent over
        HTTP, then the code exchanged)."""
        cookie, csrf = self.session(side)
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        params = {
            "client_id": self.oauth_client_id,
            "redirect_uri": OAUTH_REDIRECT,
            "response_type": "code",
            "state": "matrix",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with httpx.Client(base_url=self.server.base) as client:
            decided = client.post(
                "/oauth/authorize",
                data={
                    **params,
                    "csrf_token": csrf,
                    "workspace_id": side.workspace_id,
                    "decision": "allow",
                },
                headers={"Cookie": cookie},
            )
            assert decided.status_code == 302, decided.text
            code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
            token = client.post(
                "/api/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": OAUTH_REDIRECT,
                    "client_id": self.oauth_client_id,
                    "client_secret": self.oauth_client_secret,
                    "code_verifier": verifier,
                },
            )
            assert token.status_code == 200, token.text
            return str(token.json()["access_token"])

    # --- per cell ------------------------------------------------------------------------

    def api(self, side: Side) -> httpx.Client:
        """A client of the API with the side's secret key."""
        return self.server.client(side.secret)

    def click(self, key: str) -> str:
        """Visit the short link as a browser; the click id the redirect hands on."""
        visit = self.server.client().get(f"/{key}", headers={"user-agent": BROWSER})
        assert visit.status_code == 302, visit.text
        return parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]

    def session(self, side: Side) -> tuple[str, str]:
        """A new dashboard session of the side's owner: its ``Cookie`` header and the CSRF
        token its forms carry."""
        with self.server.services.db.transaction() as session:
            user = ws.get_user_by_email(session, side.email)
            token = auth.start_session(session, user).token
        return f"cq_session={token}", self.csrf.for_session(token)

    def partner_session(self, side: Side) -> tuple[str, str]:
        """A new partner portal session of the side's partner: its ``Cookie`` header and
        the CSRF token of its forms."""
        with self.server.services.db.transaction() as session:
            partner = session.get(Partner, side.partner_id)
            assert partner is not None
            token = portal.start_session(session, partner).token
        return f"cq_partner={token}", self.csrf.for_session(token)

    def partner_invite(self, partner_id: str) -> str:
        """The token of a partner's portal invitation, as their team hands it out."""
        with self.server.services.db.transaction() as session:
            partner = session.get(Partner, partner_id)
            assert partner is not None
            return portal.invite_token(self.server.services.settings.secret(), partner)

    def login_form(self) -> tuple[str, str]:
        """A pre-session nonce cookie and the sign-in form token that goes with it."""
        nonce = secrets.token_urlsafe(24)
        return f"cq_login={nonce}", self.csrf.for_login(nonce)

    def fresh_payout(self, side: Side) -> str:
        """A new pending payout of the side's partner (no commissions in it): its id."""
        with self.server.services.db.transaction() as session:
            workspace = ws.get_workspace(session, side.slug)
            program = programs.default_program(session, workspace)
            payout = Payout(
                id=new_id("po"),
                workspace_id=workspace.id,
                program_id=program.id,
                partner_id=side.partner_id,
                amount=1_234,
                currency=program.currency,
                status=PayoutStatus.pending.value,
            )
            session.add(payout)
            return payout.id

    def fresh_link(self, side: Side) -> str:
        """A new link of the side, for a cell that deletes or changes one."""
        n = next(_counter)
        created = self.api(side).post("/api/links", json={"url": f"{side.link_url}/fresh-{n}"})
        assert created.status_code == 200, created.text
        return str(created.json()["id"])

    def fresh_domain(self, side: Side) -> str:
        """A new custom domain of the side: its slug."""
        slug = f"go{next(_counter)}.{side.word}-shop.example"
        created = self.api(side).post("/api/domains", json={"slug": slug})
        assert created.status_code == 201, created.text
        return slug

    def fresh_webhook(self, side: Side) -> str:
        """A new webhook of the side: its id."""
        url = f"https://hooks{next(_counter)}.{side.word}-crm.example/codeqr"
        made = self.api(side).post(
            "/api/webhooks", json={"name": "Fresh", "url": url, "triggers": ["link.updated"]}
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def new_webhook_body(self) -> dict[str, object]:
        """A webhook no workspace has yet."""
        url = f"https://hooks{next(_counter)}.matrix-new.example/codeqr"
        return {"name": "New", "url": url, "triggers": ["link.created"]}

    def new_domain_slug(self) -> str:
        """A hostname no workspace holds yet."""
        return f"go{next(_counter)}.matrix-new.example"

    def fresh_customer(self, side: Side) -> str:
        """A new customer of the side."""
        n = next(_counter)
        created = self.api(side).post(
            "/api/customers",
            json={"externalId": f"{side.word}-fresh-{n}", "name": side.customer_name},
        )
        assert created.status_code == 200, created.text
        return str(created.json()["id"])

    def fresh_key(self, side: Side) -> tuple[str, str]:
        """A new secret key of the side: its id and its token."""
        with self.server.services.db.transaction() as session:
            created = ws.create_api_key(session, ws.get_workspace(session, side.slug))
            return created.key.id, created.token

    def stripe_event(self, side: Side) -> bytes:
        """A Stripe event of the side's account that needs no work (an unhandled type)."""
        n = next(_counter)
        event = {
            "id": f"evt_matrix_{side.word}_{n}",
            "object": "event",
            "type": "balance.available",
            "account": side.account_id,
            "livemode": False,
            "created": int(time.time()),
            "data": {"object": {"object": "balance"}},
        }
        return json.dumps(event).encode()
