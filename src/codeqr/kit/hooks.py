"""Where a domain's writes tell outbound webhooks what happened, without importing them.

The app puts its ``EventNotes`` in the ``info`` of every session of its database
(``Database.share``); links, conversions, partners and commissions call it after their
change, in the same transaction, so the event and its deliveries commit or roll back with
the change itself. Sessions without it (tools, tests of one domain) note nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

WEBHOOKS_KEY = "codeqr.webhooks"
"""``Session.info`` key of the app's ``EventNotes``."""


class EventNotes(Protocol):
    """What link and conversion writes report (``webhook.outbox.WebhookOutbox``)."""

    def link_changed(self, session: Session, trigger: str, link: Any) -> None:
        """``link.created``, ``link.updated`` or ``link.deleted`` (before the row goes)."""

    def lead_created(self, session: Session, lead: Mapping[str, Any], click: Any) -> None:
        """A new lead row, and the click it came from."""

    def sale_created(self, session: Session, sale: Mapping[str, Any]) -> None:
        """A new sale row."""

    def partner_enrolled(self, session: Session, workspace_id: str, partner_id: str) -> None:
        """A partner just enrolled in the workspace's program (rows flushed)."""

    def commission_created(
        self, session: Session, workspace_id: str, commission_id: str, link_id: str | None
    ) -> None:
        """A new commission row, clawbacks (negative earnings) included."""


def notes(session: Session) -> EventNotes | None:
    """The session's ``EventNotes``, if the app installed one."""
    found: EventNotes | None = session.info.get(WEBHOOKS_KEY)
    return found
