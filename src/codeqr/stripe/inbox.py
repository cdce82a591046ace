"""The webhook inbox: each verified event stored once, handled at most once.

Storing and handling are two transactions. The row is claimed for handling by an UPDATE
that only matches while it is unhandled, so of two deliveries racing, the second waits for
the first and then finds nothing to do; a failure rolls the effects and the claim back
together and leaves the row for the next delivery or ``codeqr stripe replay``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.db import insert_unless_exists
from codeqr.kit.ids import new_id
from codeqr.stripe.models import StripeEvent


def store(session: Session, workspace_id: str, event: dict[str, Any], payload: bytes) -> str:
    """The inbox id of this event for the workspace, inserting it if it is new."""
    insert_unless_exists(
        session,
        StripeEvent.__table__,  # type: ignore[arg-type]
        {
            "id": new_id("sev"),
            "workspace_id": workspace_id,
            "event_id": event["id"],
            "type": event["type"],
            "livemode": bool(event.get("livemode")),
            "account": event.get("account"),
            "created": int(event.get("created") or 0),
            "payload": payload.decode("utf-8"),
            "received_at": utcnow(),
            "attempts": 0,
        },
        ["workspace_id", "event_id"],
    )
    found = session.scalar(
        select(StripeEvent.id).where(
            StripeEvent.workspace_id == workspace_id, StripeEvent.event_id == event["id"]
        )
    )
    assert found is not None
    return found


def claim(session: Session, inbox_id: str) -> bool:
    """Lock the row for handling; ``False`` when it is already handled."""
    result = session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == inbox_id, StripeEvent.handled_at.is_(None))
        .values(attempts=StripeEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_handled(session: Session, inbox_id: str, outcome: str) -> None:
    """Stamp the event handled, in the transaction that holds its effects."""
    session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == inbox_id)
        .values(handled_at=utcnow(), outcome=outcome, last_error=None)
        .execution_options(synchronize_session=False)
    )


def record_failure(session: Session, inbox_id: str, error: str) -> None:
    """Count a failed attempt and keep why, for the operator (its own transaction)."""
    session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == inbox_id, StripeEvent.handled_at.is_(None))
        .values(attempts=StripeEvent.attempts + 1, last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


def load(session: Session, inbox_id: str) -> tuple[StripeEvent, dict[str, Any]] | None:
    """The stored row and its parsed event."""
    row = session.get(StripeEvent, inbox_id)
    if row is None:
        return None
    return row, json.loads(row.payload)


def unhandled(session: Session, workspace_id: str | None = None) -> list[str]:
    """Inbox ids of events not handled yet, oldest Stripe event first."""
    query = select(StripeEvent.id).where(StripeEvent.handled_at.is_(None))
    if workspace_id is not None:
        query = query.where(StripeEvent.workspace_id == workspace_id)
    return list(session.scalars(query.order_by(StripeEvent.created, StripeEvent.received_at)))
