"""Noting webhook events in the transaction of the change they describe (the outbox).

A link change, a lead or a sale calls ``WebhookOutbox`` (through ``kit.hooks``) before its
transaction commits. When the workspace has an enabled endpoint subscribed to that event
(one indexed read; nothing else happens when it has none), the event's exact JSON body and
one delivery row per endpoint are inserted in that same transaction: a rolled-back change
leaves no event behind, a committed one always has its deliveries, which the worker
(``webhook.delivery``) sends after the commit — never before the caller's answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from codeqr.customer.models import Customer
from codeqr.events.store import Click
from codeqr.kit.clock import from_ms, iso, utcnow
from codeqr.kit.ids import base62, new_id
from codeqr.kit.prepared import prepared
from codeqr.link.models import Link
from codeqr.link.service import after_commit
from codeqr.webhook.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from codeqr.webhook.schemas import LinkScope, Trigger

if TYPE_CHECKING:
    from codeqr.events.store import EventsStore
    from codeqr.link.service import LinkService
    from codeqr.webhook.clicks import ClickSubscriptions

EVENT_ID_PREFIX = "evt_"


def event_id() -> str:
    """A stable event id (``evt_`` and 25 base62 characters): receivers dedupe on it."""
    return EVENT_ID_PREFIX + base62(25)


def encode(envelope: Mapping[str, Any]) -> str:
    """The JSON text of an event as it is signed and sent (compact, UTF-8)."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


class WebhookOutbox:
    """Builds Dub's payloads and notes them for the endpoints subscribed (``EventNotes``)."""

    def __init__(self, links: LinkService, events: EventsStore) -> None:
        self.links = links
        self.events = events
        self.on_noted: Callable[[], None] | None = None
        """Called after a transaction that noted events commits (wakes the worker)."""
        self.subscriptions: ClickSubscriptions | None = None
        """This process's ``link.clicked`` watch list (``webhook.clicks``)."""

    def endpoints_changed(self, session: Session, workspace_id: str) -> None:
        """A workspace's endpoints changed in ``session``: once it commits, the watch list
        of ``link.clicked`` is read again (here, and in the other processes)."""
        subscriptions = self.subscriptions
        if subscriptions is not None:
            after_commit(session, lambda: subscriptions.changed(workspace_id))

    # -- the events ---------------------------------------------------------------------------

    def link_changed(self, session: Session, trigger: str, link: Any) -> None:
        """``link.created|updated|deleted``: the link as the API shows it."""
        assert isinstance(link, Link)
        self.note(
            session,
            link.workspace_id,
            Trigger(trigger),
            lambda: self._link(session, link),
            link_id=link.id,
        )

    def lead_created(self, session: Session, lead: Mapping[str, Any], click: Any) -> None:
        """``lead.created``: event name, customer, click, link and metadata."""
        if lead.get("test"):
            return  # Stripe test-mode data stays out of live figures, and out of here

        def build() -> dict[str, Any]:
            return {
                "eventName": lead["event_name"],
                "customer": self._customer(session, lead["customer_id"]),
                "click": _click(click if isinstance(click, Click) else None, lead),
                "link": self._link_by_id(session, lead["link_id"]),
                "metadata": lead.get("metadata"),
            }

        self.note(session, lead["workspace_id"], Trigger.lead_created, build, lead["link_id"])

    def sale_created(self, session: Session, sale: Mapping[str, Any]) -> None:
        """``sale.created``: event name, customer, click, link, the sale and metadata."""
        if sale.get("test"):
            return

        def build() -> dict[str, Any]:
            click_id = sale.get("click_id")
            click = self.events.get_click(click_id, session) if click_id else None
            customer_id = sale.get("customer_id")
            link_id = sale.get("link_id")
            return {
                "eventName": sale["event_name"],
                "customer": self._customer(session, customer_id) if customer_id else None,
                "click": _click(click, sale) if click_id else None,
                "link": self._link_by_id(session, link_id) if link_id else None,
                "sale": {
                    "amount": sale["amount"],
                    "currency": str(sale["currency"]).lower(),
                    "paymentProcessor": sale["payment_processor"],
                    "invoiceId": sale.get("invoice_id"),
                },
                "metadata": sale.get("metadata"),
            }

        self.note(session, sale["workspace_id"], Trigger.sale_created, build, sale.get("link_id"))

    def partner_enrolled(self, session: Session, workspace_id: str, partner_id: str) -> None:
        """``partner.enrolled``: the enrolled partner as ``GET /api/partners`` shows it."""

        def build() -> dict[str, Any]:
            from codeqr.partner import service as partners  # the partner domain calls here
            from codeqr.partner.schemas import Selector
            from codeqr.workspace.models import Workspace

            workspace = session.get(Workspace, workspace_id)
            assert workspace is not None
            enrollment, partner = partners.find(session, workspace, Selector(partnerId=partner_id))
            shown = partners.out_one(session, self.links, workspace, enrollment, partner)
            data: dict[str, Any] = shown.model_dump(mode="json", by_alias=True)
            return data

        self.note(session, workspace_id, Trigger.partner_enrolled, build)

    def commission_created(
        self, session: Session, workspace_id: str, commission_id: str, link_id: str | None
    ) -> None:
        """``commission.created``: the commission, its partner with totals, link and
        customer; a clawback is a commission with negative ``earnings``."""

        def build() -> dict[str, Any]:
            from codeqr.commission import service as commissions  # calls here
            from codeqr.commission.models import Commission
            from codeqr.partner import repository

            row = session.scalar(
                select(Commission)
                .where(Commission.id == commission_id)
                .execution_options(populate_existing=True)
            )
            assert row is not None
            data: dict[str, Any] = commissions.out_many(session, [row])[0].model_dump(
                mode="json", by_alias=True
            )
            totals = repository.totals(session, workspace_id, row.partner_id)
            data["partner"] |= {
                "payoutsEnabledAt": None,
                "totalClicks": totals.clicks,
                "totalLeads": totals.leads,
                "totalConversions": totals.leads,
                "totalSales": totals.sales,
                "totalSaleAmount": totals.sale_amount,
                "totalCommissions": totals.commissions,
            }
            link = session.get(Link, row.link_id) if row.link_id else None
            data["link"] = (
                {
                    "id": link.id,
                    "shortLink": self.links.ctx.short_link(link.domain, link.key),
                    "domain": link.domain,
                    "key": link.key,
                }
                if link is not None
                else None
            )
            data["userId"] = None
            return data

        self.note(session, workspace_id, Trigger.commission_created, build, link_id)

    # -- the outbox ---------------------------------------------------------------------------

    def note(
        self,
        session: Session,
        workspace_id: str,
        trigger: Trigger,
        build: Callable[[], dict[str, Any]],
        link_id: str | None = None,
    ) -> str | None:
        """Insert the event and its deliveries when an endpoint wants it; its id, if any."""
        endpoints = subscribed(session, workspace_id, trigger, link_id)
        if not endpoints:
            return None
        now = utcnow()
        envelope = {
            "id": event_id(),
            "event": trigger.value,
            "createdAt": iso(now),
            "data": build(),
        }
        event = WebhookEvent(
            id=envelope["id"],
            workspace_id=workspace_id,
            type=trigger.value,
            body=encode(envelope),
            created_at=now,
        )
        session.add(event)
        session.flush()  # the event's row before its deliveries' (no ORM relationship)
        session.add_all(
            WebhookDelivery(
                id=new_id("whd"),
                webhook_id=endpoint,
                event_id=event.id,
                status=DeliveryStatus.pending.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        )
        if self.on_noted is not None:
            after_commit(session, self.on_noted)
        return event.id

    # -- shapes -------------------------------------------------------------------------------

    def _link(self, session: Session, link: Link) -> dict[str, Any]:
        shown: dict[str, Any] = self.links.out(session, link).model_dump(mode="json", by_alias=True)
        return shown

    def _link_by_id(self, session: Session, link_id: str | None) -> dict[str, Any] | None:
        if not link_id:
            return None
        # Fresh from the database: counters were just raised by SQL the ORM did not see.
        link = session.scalar(
            select(Link).where(Link.id == link_id).execution_options(populate_existing=True)
        )
        return self._link(session, link) if link is not None else None

    @staticmethod
    def _customer(session: Session, customer_id: str) -> dict[str, Any] | None:
        customer = session.scalar(
            select(Customer)
            .where(Customer.id == customer_id)
            .execution_options(populate_existing=True)
        )
        if customer is None:
            return None
        return {
            "id": customer.id,
            "externalId": customer.external_id,
            "name": customer.name or customer.email,
            "email": customer.email,
            "avatar": customer.avatar,
            "country": customer.country,
            "sales": customer.sales,
            "saleAmount": customer.sale_amount,
            "firstSaleAt": iso(customer.first_sale_at),
            "createdAt": iso(customer.created_at),
        }


def _click(click: Click | None, event: Mapping[str, Any]) -> dict[str, Any]:
    """Dub's click of a conversion: the stored click, else what the event copied of it."""
    if click is not None:
        return click_data(click)
    return {
        "id": event.get("click_id") or "",
        "timestamp": iso(from_ms(int(event["timestamp"]))),
        "url": event.get("url", ""),
        "country": event.get("country", ""),
        "city": event.get("city", ""),
        "region": event.get("region", ""),
        "continent": event.get("continent", ""),
        "device": event.get("device", ""),
        "browser": event.get("browser", ""),
        "os": event.get("os", ""),
        "trigger": event.get("trigger", ""),
        "ua": None,
        "referer": event.get("referer", ""),
        "refererUrl": event.get("referer_url", ""),
        "qr": event.get("trigger") == "qr",
        "ip": "",
    }


def click_data(click: Click) -> dict[str, Any]:
    """Dub's shape of a stored click (``link.clicked``, and the click of a conversion)."""
    return {
        "id": click.id,
        "timestamp": iso(from_ms(click.timestamp)),
        "url": click.url,
        "country": click.country,
        "city": click.city,
        "region": click.region,
        "continent": click.continent,
        "device": click.device,
        "browser": click.browser,
        "os": click.os,
        "trigger": click.trigger,
        "ua": click.ua,
        "referer": click.referer,
        "refererUrl": click.referer_url,
        "qr": click.trigger == "qr",
        "ip": click.ip or "",
    }


# Read for every event a conversion or a commission makes, webhooks or not: a prepared
# statement (16 µs here against 400 µs through the ORM, on a loaded machine).
_SUBSCRIBED = select(Webhook.id, Webhook.triggers, Webhook.link_scope, Webhook.link_ids).where(
    Webhook.workspace_id == bindparam("workspace_id"), Webhook.disabled_at.is_(None)
)


def subscribed(
    session: Session, workspace_id: str, trigger: Trigger, link_id: str | None
) -> list[str]:
    """Ids of the workspace's enabled endpoints that want this event about this link."""
    rows = prepared(_SUBSCRIBED, session).all(session, {"workspace_id": workspace_id})
    wanted: list[str] = []
    for webhook_id, triggers, scope, link_ids in rows:
        if trigger.value not in (triggers or ()):
            continue
        if scope == LinkScope.links.value and (link_id is None or link_id not in (link_ids or ())):
            continue
        wanted.append(webhook_id)
    return wanted
