"""Where analytics read events from: the relational database (``SqlReader``, with the daily
click rollups) or ClickHouse (``analytics.clickhouse``). The analytics service and the
events list ask every reader the same questions, so both answer every request alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from codeqr.analytics import repository as repo
from codeqr.analytics import rollup_query as rolled
from codeqr.analytics.repository import Kind
from codeqr.analytics.timeframe import Granularity
from codeqr.money.bounds import clamp_total

if TYPE_CHECKING:
    from codeqr.analytics.service import Scoped

Row = tuple[tuple[Any, ...], dict[str, int]]
"""A group's key and its measures."""


class EventsReader(Protocol):
    """Measures of one event kind (clicks count, leads their quantity, sales ``sales`` and
    ``saleAmount``) over the rows a ``Scoped`` request picks. ``session`` is the request's
    relational transaction (links, tags and customers live there whatever the reader)."""

    def total(self, session: Session, scoped: Scoped, kind: Kind) -> dict[str, int]: ...

    def grouped(
        self, session: Session, scoped: Scoped, kind: Kind, columns: Sequence[str]
    ) -> list[Row]:
        """Per distinct value of event ``columns``, empty values (unknown) left out; a key
        may come more than once (the caller adds them up)."""
        ...

    def grouped_by_link(
        self, session: Session, scoped: Scoped, kind: Kind, column: str
    ) -> list[Row]:
        """Per value of a column of the event's link (a UTM tag), empty ones left out."""
        ...

    def per_bucket(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        bounds: Sequence[int],
        granularity: Granularity,
    ) -> dict[int, dict[str, int]]:
        """Per bucket ``n`` over ``[bounds[n], bounds[n + 1])``: local hours, days or months
        (``granularity``) of the request's zone, the first and last clipped by the range."""
        ...

    def event_span(self, session: Session, workspace_id: str) -> tuple[int, int] | None:
        """The workspace's first and last event (ms), ``None`` when it has none."""
        ...

    def page(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        *,
        newest_first: bool,
        offset: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        """One page of stored events of ``kind``, by time then id, each as the SQL store
        holds it (``timestamp`` in ms, ``metadata`` parsed)."""
        ...

    def clicks_by_id(
        self, session: Session, workspace_id: str, ids: Sequence[str]
    ) -> dict[str, Mapping[str, Any]]:
        """The workspace's stored clicks among ``ids``, as the SQL store holds them."""
        ...


def add(into: dict[str, Any], values: dict[str, int]) -> None:
    """``values`` added to ``into`` measure by measure, clamped."""
    for name, value in values.items():
        into[name] = clamp_total(into.get(name, 0) + value)


class SqlReader:
    """Events in the relational database; clicks through the daily rollups where they
    answer exactly (``rollup_query``), everything else raw."""

    def _parts(
        self, session: Session, scoped: Scoped, kind: Kind, columns: Sequence[str]
    ) -> list[rolled.Part]:
        if kind is Kind.clicks:
            return rolled.parts(session, scoped, columns)
        src = repo.source(kind)
        return [(src, scoped.conditions(src))]

    def total(self, session: Session, scoped: Scoped, kind: Kind) -> dict[str, int]:
        out: dict[str, int] = {}
        for src, where in self._parts(session, scoped, kind, ()):
            add(out, repo.total(session, src, where))
        return out

    def grouped(
        self, session: Session, scoped: Scoped, kind: Kind, columns: Sequence[str]
    ) -> list[Row]:
        return [
            row
            for src, where in self._parts(session, scoped, kind, columns)
            for row in repo.grouped(session, src, where, columns)
        ]

    def grouped_by_link(
        self, session: Session, scoped: Scoped, kind: Kind, column: str
    ) -> list[Row]:
        return [
            row
            for src, where in self._parts(session, scoped, kind, ("link_id",))
            for row in repo.grouped_by_link(session, src, where, column)
        ]

    def per_bucket(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        bounds: Sequence[int],
        granularity: Granularity,
    ) -> dict[int, dict[str, int]]:
        if kind is Kind.clicks:
            found: dict[int, dict[str, int]] = {}
            for src, where, ranges in rolled.ranged_parts(session, scoped, bounds):
                for n, values in repo.in_ranges(session, src, where, ranges).items():
                    add(found.setdefault(n, {}), values)
            return found
        src = repo.source(kind)
        per = repo.per_range(session, src, scoped.conditions(src, timed=False), bounds)
        return dict(enumerate(per))

    def event_span(self, session: Session, workspace_id: str) -> tuple[int, int] | None:
        return repo.event_span(session, workspace_id)

    def page(
        self,
        session: Session,
        scoped: Scoped,
        kind: Kind,
        *,
        newest_first: bool,
        offset: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        src = repo.raw_source(kind)
        return repo.page_of_events(
            session,
            src,
            scoped.conditions(src),
            newest_first=newest_first,
            offset=offset,
            limit=limit,
        )

    def clicks_by_id(
        self, session: Session, workspace_id: str, ids: Sequence[str]
    ) -> dict[str, Mapping[str, Any]]:
        return dict(repo.clicks_by_id(session, workspace_id, ids))


SQL = SqlReader()
