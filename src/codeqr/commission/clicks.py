"""Click rewards, earned in the click writer's own transaction.

Clicks are aggregated: one ``click`` commission per partner link per UTC day, whose
``quantity`` and ``earnings`` grow with every stored click of that link that day. Its
``event_id`` (``{link id}/{yyyymmdd}``) under the commissions' unique
``(program, type, event id)`` key is the claim: the row is made once and then added to,
in the same transaction as the clicks themselves, so a batch that rolls back (or is
retried) takes its additions with it and a click is never counted twice. A click the
dedupe answered with an earlier one is not stored, so it earns nothing.

Only clicks on links with a partner reach this module (the redirect marks them from its
cached route): a batch of plain clicks never runs a statement here. A day's commission
stops growing once it leaves ``pending`` (canceled, marked fraud, or, for a late click
written after midnight, already in a payout): payout runs take a day's row only once the
day is over (``payout.service.run``).

``commission.created`` goes out once per day's row, when the row is made: a batch whose
rows a ``commission.created`` endpoint may want (the watch list of ``webhook.clicks``,
read from memory) looks up which of its new ids were inserted (one primary-key read) and
notes them in a ``webhook_click_batches`` row, in the batch's transaction; the delivery
worker builds the event. Clicks that only grow the day's row send nothing more. Without
such an endpoint, nothing of this runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from codeqr.commission.models import CommissionStatus, CommissionType
from codeqr.events.store import Click
from codeqr.kit.ids import sorted_id
from codeqr.partner.models import EnrollmentStatus
from codeqr.program.models import RewardEvent, RewardType

_EARNERS = (
    "SELECT l.id, l.workspace_id, l.program_id, l.partner_id, r.amount, p.currency "
    "FROM links l "
    "JOIN program_enrollments e ON e.program_id = l.program_id AND e.partner_id = l.partner_id "
    "JOIN rewards r ON r.group_id = e.group_id AND r.event = '{event}' AND r.type = '{flat}' "
    "JOIN programs p ON p.id = l.program_id "
    "WHERE e.status = '{active}' AND l.id IN ({marks})"
)
_COLUMNS = (
    "id, workspace_id, program_id, partner_id, link_id, type, event_id, amount, earnings, "
    "currency, quantity, status, created_at, updated_at"
)
_UPSERT = (
    f"INSERT INTO commissions ({_COLUMNS}) VALUES ({{marks}}) "
    "ON CONFLICT (program_id, type, event_id) DO UPDATE SET "
    "quantity = commissions.quantity + excluded.quantity, "
    "earnings = commissions.earnings + excluded.earnings, "
    "updated_at = excluded.updated_at "
    f"WHERE commissions.status = '{CommissionStatus.pending.value}' "
    "AND commissions.payout_id IS NULL"
)


class CommissionWatch(Protocol):
    """Which links' new commissions a ``commission.created`` endpoint may want."""

    def announces_commission(self, workspace_id: str, link_id: str) -> bool: ...


class ClickEarnings:
    """Writes click commissions through the click writer's DB-API cursor."""

    def __init__(self, *, sqlite: bool) -> None:
        self.sqlite = sqlite
        self._mark = "?" if sqlite else "%s"
        self._upsert = _UPSERT.format(marks=", ".join(self._mark for _ in _COLUMNS.split(",")))
        self._note = (
            "INSERT INTO webhook_click_batches (click_ids, first_ms) "
            f"VALUES ({self._mark}, {self._mark})"
        )

    def _earners_sql(self, count: int) -> str:
        return _EARNERS.format(
            event=RewardEvent.click.value,
            flat=RewardType.flat.value,
            active=EnrollmentStatus.active.value,
            marks=", ".join(self._mark for _ in range(count)),
        )

    def write(
        self, cursor: Any, clicks: Sequence[Click], watch: CommissionWatch | None = None
    ) -> int:
        """Add the stored ``clicks`` (on partner links) to their links' commissions of the
        day; how many clicks earned. Links whose partner is not active, or whose program
        has no click reward, earn nothing. Rows made now that ``watch`` says an endpoint
        may want are noted for ``commission.created``."""
        if not clicks:
            return 0
        link_ids = sorted({c.link_id for c in clicks})
        cursor.execute(self._earners_sql(len(link_ids)), link_ids)
        earners = {row[0]: row for row in cursor.fetchall()}
        if not earners:
            return 0
        # (link, day) -> [clicks, first ms, last ms]
        days: dict[tuple[str, str], list[int]] = {}
        for click in clicks:
            if click.link_id not in earners:
                continue
            day = datetime.fromtimestamp(click.timestamp / 1000, tz=UTC).strftime("%Y%m%d")
            seen = days.get((click.link_id, day))
            if seen is None:
                days[(click.link_id, day)] = [1, click.timestamp, click.timestamp]
            else:
                seen[0] += 1
                seen[1] = min(seen[1], click.timestamp)
                seen[2] = max(seen[2], click.timestamp)
        rows = []
        firsts: dict[str, int] = {}
        # In one order everywhere, as the links' counters are (no deadlocks between batches).
        for (link_id, day), (count, first, last) in sorted(days.items()):
            _, workspace_id, program_id, partner_id, reward, currency = earners[link_id]
            firsts[commission_id := sorted_id("cm")] = first
            rows.append(
                (
                    commission_id,
                    workspace_id,
                    program_id,
                    partner_id,
                    link_id,
                    CommissionType.click.value,
                    f"{link_id}/{day}",
                    0,
                    int(reward) * count,
                    currency,
                    count,
                    CommissionStatus.pending.value,
                    self._time(first),
                    self._time(last),
                )
            )
        cursor.executemany(self._upsert, rows)
        if watch is not None:
            self._announce(cursor, rows, firsts, watch)
        return sum(row[10] for row in rows)

    def _announce(
        self,
        cursor: Any,
        rows: list[tuple[Any, ...]],
        firsts: dict[str, int],
        watch: CommissionWatch,
    ) -> None:
        """Note the rows this batch inserted (not those it added to) when wanted: a row
        keeps the id it was made with, so the new ids found are the rows made now."""
        wanted = [row[0] for row in rows if watch.announces_commission(row[1], row[4])]
        if not wanted:
            return
        marks = ", ".join(self._mark for _ in wanted)
        cursor.execute(f"SELECT id FROM commissions WHERE id IN ({marks})", wanted)
        made = sorted(str(found[0]) for found in cursor.fetchall())
        if made:
            cursor.execute(self._note, (" ".join(made), min(firsts[i] for i in made)))

    def _time(self, ms: int) -> object:
        when = datetime.fromtimestamp(ms / 1000, tz=UTC)
        # SQLite keeps datetimes as text: bound the way SQLAlchemy writes them.
        return when.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else when
