"""The SQL events store's tables: one row per click, lead and sale.

Leads and sales copy the where-from columns of the click they descend from (domain, key,
country, device, referer…), so analytics group them the same way without a join.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from codeqr.kit.db import Base

click_events = Table(
    "click_events",
    Base.metadata,
    Column("id", String(16), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("link_id", String(40), nullable=False),
    Column("domain", String(190), nullable=False),
    Column("key", String(190), nullable=False),
    Column("url", Text, nullable=False),
    Column("trigger", String(8), nullable=False),
    Column("country", String(2), nullable=False),
    Column("region", String(64), nullable=False),
    Column("city", String(128), nullable=False),
    Column("continent", String(2), nullable=False),
    Column("device", String(32), nullable=False),
    Column("browser", String(64), nullable=False),
    Column("browser_version", String(32), nullable=False),
    Column("os", String(64), nullable=False),
    Column("os_version", String(32), nullable=False),
    Column("engine", String(32), nullable=False),
    Column("ua", Text, nullable=False),
    Column("referer", String(255), nullable=False),
    Column("referer_url", Text, nullable=False),
    Column("identity_hash", String(32), nullable=False),
    Column("ip", String(64), nullable=True),
    # Links are deleted while their clicks stay for analytics, so no foreign key here.
    # Analytics read one workspace over a time range, and often only the link id.
    Index("ix_click_events_workspace_id_timestamp_link_id", "workspace_id", "timestamp", "link_id"),
    Index("ix_click_events_link_id_timestamp", "link_id", "timestamp"),
    # The one-hour dedupe asks "has this visitor clicked lately?" when memory cannot answer.
    # Only on PostgreSQL: on SQLite its random inserts cost a quarter of every redirect, and
    # the click writer keeps its own table of recent visitors instead (``events.sql``).
    Index("ix_click_events_identity_hash", "identity_hash").ddl_if(dialect="postgresql"),
)


def _click_snapshot() -> list[Column[object]]:
    """Columns a lead or sale copies from its click (empty strings when it has none)."""
    return [Column(name, kind, nullable=False, default="") for name, kind in _WHERE_FROM.items()]


_WHERE_FROM: dict[str, type[String] | type[Text] | String] = {
    "domain": String(190),
    "key": String(190),
    "url": Text,
    "trigger": String(8),
    "country": String(2),
    "region": String(64),
    "city": String(128),
    "continent": String(2),
    "device": String(32),
    "browser": String(64),
    "os": String(64),
    "referer": String(255),
    "referer_url": Text,
}
WHERE_FROM = tuple(_WHERE_FROM)
"""The where-from columns of a click that its leads, sales and refunds carry too."""


lead_events = Table(
    "lead_events",
    Base.metadata,
    Column("id", String(16), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("link_id", String(40), nullable=False),
    Column("click_id", String(16), nullable=False),
    Column("customer_id", String(40), nullable=False),
    Column("event_name", String(255), nullable=False),
    Column("event_quantity", Integer, nullable=False, default=1),
    Column("metadata", JSON, nullable=True),
    # Recorded from a Stripe test-mode event: kept out of live figures.
    Column("test", Boolean, nullable=False, default=False),
    *_click_snapshot(),
    # One lead per (customer, event name): the claim that makes retries and races harmless.
    UniqueConstraint("customer_id", "event_name"),
    Index("ix_lead_events_workspace_id_timestamp_link_id", "workspace_id", "timestamp", "link_id"),
    Index("ix_lead_events_link_id_timestamp", "link_id", "timestamp"),
)

sale_events = Table(
    "sale_events",
    Base.metadata,
    Column("id", String(16), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("workspace_id", String(40), nullable=False),
    # A sale whose customer never came through a link is kept as unattributed revenue.
    Column("link_id", String(40), nullable=True),
    Column("click_id", String(16), nullable=True),
    Column("customer_id", String(40), nullable=True),
    Column("event_name", String(255), nullable=False),
    # Amounts are integers in the currency's minor unit (cents, yen, fils), as sent; the
    # reporting amount is NULL (and fx_missing set) when no ECB rate converts it.
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reporting_amount", BigInteger, nullable=True),
    Column("reporting_currency", String(3), nullable=False),
    Column("fx_rate", String(32), nullable=True),
    Column("fx_date", String(10), nullable=True),
    Column("fx_missing", Boolean, nullable=False, default=False),
    Column("payment_processor", String(32), nullable=False),
    Column("invoice_id", String(190), nullable=True),
    Column("metadata", JSON, nullable=True),
    # Stripe's references: the customer (to attribute the sale once they are known) and the
    # payment intent (to find the sale a refunded charge paid).
    Column("stripe_customer_id", String(190), nullable=True),
    Column("payment_intent_id", String(190), nullable=True),
    Column("test", Boolean, nullable=False, default=False),
    *_click_snapshot(),
    # One sale per invoice per workspace, whichever source reports it (API or Stripe).
    UniqueConstraint("workspace_id", "invoice_id"),
    Index("ix_sale_events_workspace_id_timestamp_link_id", "workspace_id", "timestamp", "link_id"),
    Index("ix_sale_events_link_id_timestamp", "link_id", "timestamp"),
    Index("ix_sale_events_customer_id", "customer_id"),
    Index("ix_sale_events_workspace_id_payment_intent_id", "workspace_id", "payment_intent_id"),
    Index("ix_sale_events_workspace_id_stripe_customer_id", "workspace_id", "stripe_customer_id"),
)

refund_events = Table(
    "refund_events",
    Base.metadata,
    Column("id", String(16), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("sale_id", String(16), nullable=False),
    # The sale's attribution at the time of the refund: refunds count against its link.
    Column("link_id", String(40), nullable=True),
    Column("click_id", String(16), nullable=True),
    Column("customer_id", String(40), nullable=True),
    Column("charge_id", String(190), nullable=False),
    # The newly refunded part, in the sale's currency and in the reporting currency.
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reporting_amount", BigInteger, nullable=True),
    Column("reporting_currency", String(3), nullable=False),
    # The charge's cumulative refunded amount after this refund: one row per step, so a
    # redelivered or reordered ``charge.refunded`` adds nothing.
    Column("refunded_total", BigInteger, nullable=False),
    Column("test", Boolean, nullable=False, default=False),
    *_click_snapshot(),
    UniqueConstraint("workspace_id", "charge_id", "refunded_total"),
    Index("ix_refund_events_workspace_id_timestamp", "workspace_id", "timestamp"),
    Index("ix_refund_events_sale_id", "sale_id"),
)

event_outbox = Table(
    "event_outbox",
    Base.metadata,
    # What changed among the events since ClickHouse last received them
    # (``events.shipping``), written in the transaction that changed them: a batch of clicks,
    # a lead, a sale or refund inserted or updated, or every sale or refund of a workspace.
    # Empty unless ``CODEQR_EVENTS_URL`` is set.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(8), nullable=False),
    # Space-separated event ids; NULL with ``workspace_id``: all of its events of the kind.
    Column("ids", Text, nullable=True),
    Column("workspace_id", String(40), nullable=True),
    # The oldest event time among ``ids``: clicks stay in SQL at least until shipped.
    Column("first_ms", BigInteger, nullable=False),
    # The shipment that took the row; the row is deleted once ClickHouse has its events.
    Column("shipment", String(40), nullable=True),
)
