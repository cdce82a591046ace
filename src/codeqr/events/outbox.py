"""The events outbox: what ClickHouse has yet to receive, noted where the events change.

With ``CODEQR_EVENTS_URL`` set, every transaction that inserts or updates events notes what it
changed in ``event_outbox``, in the same transaction: a batch of clicks, a lead, a sale, a
refund, or every sale or refund of a workspace (a currency change re-converts them all).
Nothing rolled back is ever noted, nothing committed is ever left out; ``events.shipping``
sends what is noted to ClickHouse. Without ClickHouse nothing is noted and nothing is paid.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import insert

from codeqr.events.models import event_outbox
from codeqr.kit.db import OUTBOX_KEY

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ENABLED = OUTBOX_KEY
"""The key of ``Session.info`` that says whether sessions of this database note changes."""


class Changed(StrEnum):
    """What an outbox row names."""

    clicks = "clicks"
    leads = "leads"
    sales = "sales"
    refunds = "refunds"
    refunds_of = "sale_ref"
    """Refunds by the id of their sale (a sale attributed late carries its refunds along)."""


_STATEMENT = insert(event_outbox)


def note(
    session: Session,
    kind: Changed,
    ids: Iterable[str] = (),
    *,
    workspace_id: str | None = None,
    first_ms: int = 0,
) -> None:
    """Note in ``session``'s transaction that these events (or, with ``workspace_id`` and no
    ids, all of the workspace's of this kind) changed; nothing when the outbox is off."""
    if not session.info.get(ENABLED):
        return
    joined = " ".join(ids) or None
    if joined is None and workspace_id is None:
        return
    session.execute(
        _STATEMENT,
        {"kind": kind.value, "ids": joined, "workspace_id": workspace_id, "first_ms": first_ms},
    )
