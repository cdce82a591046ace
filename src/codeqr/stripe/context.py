"""One Stripe event being handled: its workspace, connection, Stripe access and what was
read for it, shared by the handlers and the attribution rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from codeqr.events.store import Click
from codeqr.kit.clock import utcnow
from codeqr.services import Services
from codeqr.stripe import service as connection
from codeqr.stripe.client import StripeApi
from codeqr.stripe.models import StripeIntegration
from codeqr.workspace.models import Workspace


class Waiting(Exception):
    """The event needs another one first; it is kept unhandled, and settled by that one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


WAITING_DAYS = 7
"""How long a refund waits for its sale before only ``codeqr stripe replay`` looks at it."""


@dataclass
class Context:
    """One event being handled for one workspace."""

    services: Services
    workspace: Workspace
    integration: StripeIntegration | None
    api: StripeApi
    event: dict[str, Any]
    prefetched: dict[str, Any] = field(default_factory=dict)
    clicks: dict[str, Click | None] = field(default_factory=dict)

    def click(self, session: Session, click_id: str) -> Click | None:
        """A click by id, read once per event."""
        if click_id not in self.clicks:
            self.clicks[click_id] = self.services.events.get_click(click_id, session)
        return self.clicks[click_id]

    @property
    def test(self) -> bool:
        return not self.event.get("livemode", False)

    @property
    def counted(self) -> bool:
        """Whether this event's rows move the links' and customers' figures."""
        return not self.test or connection.counts_test_data(self.integration)

    @property
    def at_ms(self) -> int:
        created = self.event.get("created")
        return int(created) * 1000 if created else int(utcnow().timestamp() * 1000)

    @property
    def obj(self) -> dict[str, Any]:
        data: dict[str, Any] = self.event["data"]["object"]
        return data


def ref_id(value: Any) -> str | None:
    """An expandable Stripe reference as its id."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None
