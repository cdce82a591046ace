"""A fixed, seeded data set of links, tags, customers, clicks, leads and sales, written
straight into the tables, and kept in memory for the tests' own answers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from codeqr.customer.models import Customer
from codeqr.events.models import WHERE_FROM, click_events, lead_events, sale_events
from codeqr.kit.clock import from_ms
from codeqr.link.models import Link, LinkTag, Tag
from tests.conftest import LiveServer
from tests.factories import Tenant

PLACES = {
    "US": ("NA", [("NY", "New York"), ("CA", "San Francisco")]),
    "FR": ("EU", [("IDF", "Paris")]),
    "IN": ("AS", [("MH", "Mumbai"), ("KA", "Bengaluru")]),
    "DE": ("EU", [("BE", "Berlin")]),
    "": ("", [("", "")]),
}
DEVICES = ["Desktop", "Mobile", "Tablet"]
BROWSERS = ["Chrome", "Safari", "Firefox"]
OSES = ["Windows", "iOS", "Android", "Mac OS X"]
REFERERS = [
    ("(direct)", ""),
    ("google.com", "https://google.com/search"),
    ("news.ycombinator.com", "https://news.ycombinator.com/item?id=1"),
]
WINDOW = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))
# Hours packed with clicks: the US DST changes (07:00 and 06:00 UTC) and an IST midnight.
CLUSTERS = [
    (datetime(2026, 3, 8, 3, tzinfo=UTC), 10),
    (datetime(2026, 11, 1, 3, tzinfo=UTC), 8),
    (datetime(2026, 6, 15, 17, tzinfo=UTC), 3),
]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class Dataset:
    """What was written for one workspace (events as plain dicts of their columns)."""

    tenant: Tenant
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    """Tag ids per link id."""
    tag_ids: list[str] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    clicks: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    sales: list[dict[str, Any]] = field(default_factory=list)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return {"clicks": self.clicks, "leads": self.leads, "sales": self.sales}[kind]


def _links(rng: random.Random, ws: str, prefix: str, count: int) -> list[dict[str, Any]]:
    sources = ["newsletter", "twitter", None, "google"]
    mediums = ["email", "social", None]
    campaigns = ["spring", "launch", None]
    out = []
    for n in range(count):
        out.append(
            {
                "id": f"{prefix}_link{n}",
                "workspace_id": ws,
                "domain": "go.example" if n % 3 else "cq.test",
                "key": f"{prefix}k{n}",
                "key_lower": f"{prefix}k{n}".lower(),
                "url": f"https://shop.example/{prefix}/p{n}",
                "external_id": f"{prefix}-ext-{n}" if n % 2 == 0 else None,
                "tenant_id": ["t1", "t2", None][n % 3],
                "title": f"Link {n}",
                "utm_source": sources[n % len(sources)],
                "utm_medium": mediums[n % len(mediums)],
                "utm_campaign": campaigns[n % len(campaigns)],
                "utm_term": "shoes" if n % 4 == 1 else None,
                "utm_content": rng.choice(["hero", "footer", None]),
                "created_at": datetime(2025, 12, 1, tzinfo=UTC) + timedelta(hours=n),
            }
        )
    return out


def click_row(
    rng: random.Random, n: int, prefix: str, link: dict[str, Any], at: int
) -> dict[str, Any]:
    country = rng.choice(list(PLACES))
    continent, places = PLACES[country]
    region, city = rng.choice(places)
    referer, referer_url = rng.choice(REFERERS)
    return {
        "id": f"{prefix}c{n:014d}",
        "timestamp": at,
        "workspace_id": link["workspace_id"],
        "link_id": link["id"],
        "domain": link["domain"],
        "key": link["key"],
        "url": link["url"] if rng.random() < 0.8 else link["url"] + "?v=2",
        "trigger": "qr" if rng.random() < 0.25 else "link",
        "country": country,
        "region": region,
        "city": city,
        "continent": continent,
        "device": rng.choice(DEVICES),
        "browser": rng.choice(BROWSERS),
        "browser_version": "1",
        "os": rng.choice(OSES),
        "os_version": "1",
        "engine": "Blink",
        "ua": f"Mozilla/5.0 test-{n}",
        "referer": referer,
        "referer_url": referer_url,
        "identity_hash": f"h{n:015d}",
        "ip": None if n % 5 == 0 else f"10.0.{n % 250}.0",
    }


def build(
    tenant: Tenant,
    *,
    seed: int,
    prefix: str,
    links: int,
    clicks: int,
    leads: int,
    sales: int,
    gone_link: bool = False,
) -> Dataset:
    """Generate a workspace's data (in memory); ``write`` stores it."""
    rng = random.Random(seed)
    ws = tenant.workspace_id
    data = Dataset(tenant)
    for link in _links(rng, ws, prefix, links):
        data.links[link["id"]] = link
    data.tag_ids = [f"{prefix}_tag_launch", f"{prefix}_tag_promo"]
    link_ids = list(data.links)
    tagged = [[data.tag_ids[0]], list(data.tag_ids), [data.tag_ids[1]]]
    data.tags = dict(zip(link_ids, tagged, strict=False))
    targets = [data.links[i] for i in link_ids]
    if gone_link:  # clicks of a deleted link stay in analytics
        targets.append({**targets[0], "id": f"{prefix}_gone", "key": f"{prefix}gone"})
    start, end = ms(WINDOW[0]), ms(WINDOW[1])
    times = [rng.randrange(start, end) for _ in range(clicks)]
    for at, hours in CLUSTERS:
        times += [rng.randrange(ms(at), ms(at) + hours * 3_600_000) for _ in range(clicks // 20)]
    for n, at in enumerate(sorted(times)):
        data.clicks.append(click_row(rng, n, prefix, rng.choice(targets), at))
    chosen = rng.sample(data.clicks, leads)
    for n, click in enumerate(chosen):
        again = n % 7 == 3 and data.leads
        customer_id = data.leads[-1]["customer_id"] if again else f"{prefix}_cus{n}"
        if customer_id not in data.customers:
            data.customers[customer_id] = {
                "id": customer_id,
                "workspace_id": ws,
                "external_id": f"{prefix}-user-{n}",
                "name": f"User {n}",
                "email": f"user{n}@{prefix}.example",
                "click_id": click["id"],
                "link_id": click["link_id"],
                "clicked_at": from_ms(click["timestamp"]),
                "created_at": from_ms(click["timestamp"]),
            }
        data.leads.append(
            {
                "id": f"{prefix}l{n:014d}",
                "timestamp": min(click["timestamp"] + rng.randrange(60_000, 3 * 86_400_000), end),
                "workspace_id": ws,
                "link_id": click["link_id"],
                "click_id": click["id"],
                "customer_id": customer_id,
                "event_name": "Trial" if again else "Sign up",
                "event_quantity": 2 if n % 11 == 5 else 1,
                "metadata": {"n": n},
                **{name: click[name] for name in WHERE_FROM},
            }
        )
    for n in range(sales):
        lead = rng.choice(data.leads)
        amount = rng.randrange(100, 50_000)
        currency = rng.choice(["USD", "USD", "EUR", "JPY"])
        missing = n % 9 == 4
        unattributed = n % 13 == 6
        data.sales.append(
            {
                "id": f"{prefix}s{n:014d}",
                "timestamp": min(lead["timestamp"] + rng.randrange(60_000, 9 * 86_400_000), end),
                "workspace_id": ws,
                "link_id": None if unattributed else lead["link_id"],
                "click_id": None if unattributed else lead["click_id"],
                "customer_id": None if unattributed else lead["customer_id"],
                "event_name": rng.choice(["Purchase", "Upgrade"]),
                "amount": amount,
                "currency": currency,
                "reporting_amount": None if missing else amount * (2 if currency == "EUR" else 1),
                "reporting_currency": "USD",
                "fx_rate": None if missing else "1",
                "fx_date": None if missing else "2026-01-01",
                "fx_missing": missing,
                "payment_processor": "stripe" if n % 2 else "custom",
                "invoice_id": f"{prefix}-inv-{n}" if n % 5 else None,
                "metadata": None,
                **{name: ("" if unattributed else lead[name]) for name in WHERE_FROM},
            }
        )
    return data


def write(server: LiveServer, data: Dataset) -> None:
    """Store the data set's rows."""
    with server.services.db.transaction() as session:
        for link in data.links.values():
            session.add(Link(**link))
        for n, tag_id in enumerate(data.tag_ids):
            session.add(
                Tag(id=tag_id, workspace_id=data.tenant.workspace_id, name=f"tag{n}", color="blue")
            )
        session.flush()
        for link_id, tag_ids in data.tags.items():
            for tag_id in tag_ids:
                session.add(LinkTag(link_id=link_id, tag_id=tag_id))
        for customer in data.customers.values():
            session.add(Customer(**customer))
        session.flush()
        for table, rows in (
            (click_events, data.clicks),
            (lead_events, data.leads),
            (sale_events, data.sales),
        ):
            if rows:
                session.execute(table.insert(), rows)
