"""The webhook inbox: each verified event stored once, handled at most once.

An event is stored and stamped handled in the transaction that applies its effects, so it
is either handled whole or not at all. When handling fails, that transaction rolls back and
a second one keeps the event unhandled with the error, for the next delivery or
``codeqr stripe replay``.
"""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from codeqr.kit.clock import utcnow
from codeqr.kit.db import insert_unless_exists
from codeqr.kit.ids import new_id
from codeqr.kit.prepared import insert_unless_exists as prepared_insert
from codeqr.kit.prepared import prepared
from codeqr.stripe import shape
from codeqr.stripe.models import StripeEvent


def claim(session: Session, workspace_id: str, event: dict[str, Any]) -> str | None:
    """Claim the event for handling in this transaction: insert it stamped handled (undone
    with everything else if handling fails), or take the stored row while it is unhandled.

    ``None`` when it is already handled. Of two deliveries racing, the second waits on the
    row the first wrote and finds it handled once the first commits.
    """
    inbox_id = new_id("sev")
    inserted = prepared_insert(
        session,
        StripeEvent.__table__,  # type: ignore[arg-type]
        {
            **_row(workspace_id, event),
            "id": inbox_id,
            "handled_at": utcnow(),
            "attempts": 1,
        },
        ("workspace_id", "event_id"),
    )
    if inserted:
        return inbox_id
    found = session.execute(
        update(StripeEvent)
        .where(
            StripeEvent.workspace_id == workspace_id,
            StripeEvent.event_id == event["id"],
            StripeEvent.handled_at.is_(None),
        )
        .values(handled_at=utcnow(), attempts=StripeEvent.attempts + 1)
        .returning(StripeEvent.id)
    ).first()
    return found[0] if found else None


def keep(
    session: Session,
    workspace_id: str,
    event: dict[str, Any],
    *,
    error: str | None = None,
) -> None:
    """Store the event unhandled (a failed attempt, or one put off), noting why."""
    insert_unless_exists(
        session,
        StripeEvent.__table__,  # type: ignore[arg-type]
        {**_row(workspace_id, event), "id": new_id("sev"), "attempts": 0},
        ["workspace_id", "event_id"],
    )
    if error is not None:
        session.execute(
            update(StripeEvent)
            .where(
                StripeEvent.workspace_id == workspace_id,
                StripeEvent.event_id == event["id"],
                StripeEvent.handled_at.is_(None),
            )
            .values(attempts=StripeEvent.attempts + 1, last_error=error[:2000])
            .execution_options(synchronize_session=False)
        )


def refuse(session: Session, workspace_id: str, event: dict[str, Any], reason: str) -> None:
    """Store the event settled with no effects: handled, the reason as outcome and error,
    so neither a redelivery, ``codeqr stripe replay`` nor a waiting refund takes it up."""
    now = utcnow()
    said = {"outcome": f"Refused: {reason}"[:2000], "last_error": reason[:2000]}
    inserted = insert_unless_exists(
        session,
        StripeEvent.__table__,  # type: ignore[arg-type]
        {
            **_row(workspace_id, event),
            "id": new_id("sev"),
            "attempts": 1,
            "handled_at": now,
            **said,
        },
        ["workspace_id", "event_id"],
    )
    if not inserted:  # stored before (a failed or waiting attempt): settle that row
        session.execute(
            update(StripeEvent)
            .where(
                StripeEvent.workspace_id == workspace_id,
                StripeEvent.event_id == event["id"],
                StripeEvent.handled_at.is_(None),
            )
            .values(handled_at=now, attempts=StripeEvent.attempts + 1, **said)
            .execution_options(synchronize_session=False)
        )


def set_outcome(session: Session, inbox_id: str, outcome: str) -> None:
    """Say what handling did, in the transaction that did it."""
    prepared(_SET_OUTCOME, session).run(session, {"inbox_id": inbox_id, "said": outcome})


_events = cast(Table, StripeEvent.__table__)
_SET_OUTCOME = (
    update(_events)
    .where(_events.c.id == bindparam("inbox_id"))
    .values(outcome=bindparam("said"), last_error=None)
)


def wait(session: Session, inbox_id: str, reason: str) -> None:
    """Undo the claim: the event stays unhandled (waiting for another), saying why."""
    session.connection().execute(
        update(_events)
        .where(_events.c.id == inbox_id)
        .values(handled_at=None, outcome=reason, attempts=_events.c.attempts - 1)
    )


def waiting(
    session: Session, workspace_id: str, kind: str, since: int
) -> list[tuple[str, dict[str, Any]]]:
    """Unhandled events of one type created since ``since`` (Unix seconds), oldest first."""
    params = {"workspace_id": workspace_id, "kind": kind, "since": since}
    cursor = prepared(_WAITING, session).execute(session, params)
    rows = cursor.fetchall()
    cursor.close()
    return [(row[0], json.loads(row[1])) for row in rows]


# Asked on every sale Stripe reports, and nearly always empty: built once.
_WAITING = (
    select(_events.c.id, _events.c.payload)
    .where(
        _events.c.handled_at.is_(None),
        _events.c.workspace_id == bindparam("workspace_id"),
        _events.c.type == bindparam("kind"),
        _events.c.created >= bindparam("since"),
    )
    .order_by(_events.c.created, _events.c.received_at)
)


def settle(session: Session, inbox_id: str, outcome: str) -> None:
    """Stamp a waiting event handled by the event it waited for."""
    session.connection().execute(
        update(_events)
        .where(_events.c.id == inbox_id, _events.c.handled_at.is_(None))
        .values(handled_at=utcnow(), outcome=outcome, attempts=_events.c.attempts + 1)
    )


def _row(workspace_id: str, event: dict[str, Any]) -> dict[str, Any]:
    # What is stored is what handling reads, not the whole body: see ``shape.kept``.
    kept = json.dumps(shape.kept(event), ensure_ascii=False, separators=(",", ":"))
    return {
        "workspace_id": workspace_id,
        "event_id": event["id"],
        "type": event["type"],
        "livemode": bool(event.get("livemode")),
        "account": event.get("account"),
        "created": int(event.get("created") or 0),
        "payload": kept,
        "received_at": utcnow(),
        "handled_at": None,
        "outcome": None,
        "last_error": None,
    }


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
