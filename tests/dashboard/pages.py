"""Every dashboard page the browser tests visit: screenshots, the phone checks and axe-core
all walk this one list. A new page is one more ``(label, path)`` row; a page that draws
itself with a script after loading also gets a row in ``READY``.

Paths are under ``/dashboard/<slug>`` and may name ``{link_id}`` (the seeded link),
``{webhook_id}``, ``{partner_id}``, ``{today}`` and ``{week_ago}`` (UTC dates):
``path.format(**ids(server, seeded))``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer

from .helpers import Seeded

PAGES = [
    ("links", "/links"),
    ("link", "/links/{link_id}"),
    ("link-edit", "/links/{link_id}?tab=edit"),
    ("new-link", "/links/new"),
    ("link-delete", "/links/{link_id}/delete"),
    ("analytics", "/analytics?interval=24h"),
    ("analytics-range", "/analytics?start={week_ago}&end={today}"),
    ("events", "/events"),
    ("customers", "/customers"),
    ("program", "/program"),
    ("program-commissions", "/program/commissions"),
    ("program-payouts", "/program/payouts"),
    ("program-partner", "/program/partners/{partner_id}"),
    ("links-by-clicks", "/links?sort=clicks&days=7&conversion=on"),
    ("settings", "/settings"),
    ("settings-domains", "/settings/domains"),
    ("settings-keys", "/settings/keys"),
    ("settings-members", "/settings/members"),
    ("settings-stripe", "/settings/stripe"),
    ("settings-usage", "/settings/usage"),
    ("webhooks", "/webhooks"),
    ("webhook-detail", "/webhooks/{webhook_id}"),
]

# label -> (selector, attribute, value) that says the page has finished drawing itself.
READY = {
    "analytics": ("#analytics", "data-state", "ready"),
    "analytics-range": ("#analytics", "data-state", "ready"),
    "link": ("#analytics", "data-state", "ready"),
    "events": ("#stream-status", "data-state", "live"),
}


def open_page(page: Page, url: str, label: str) -> None:
    """Go to ``url`` and wait until the page ``label`` has drawn what it loads by script."""
    page.goto(url)
    if label in READY:
        selector, attribute, value = READY[label]
        expect(page.locator(selector)).to_have_attribute(attribute, value)


def ids(server: LiveServer, seeded: Seeded) -> dict[str, str]:
    """What the paths name: the seeded link, and a webhook and a partner made for them."""
    api = server.client(seeded.token)
    hook = api.post(
        "/api/webhooks",
        json={"name": "CRM", "url": "https://crm.example/hooks", "triggers": ["sale.created"]},
    )
    assert hook.status_code == 201, hook.text
    partner = api.post(
        "/api/partners",
        json={"email": "ada@partners.example", "name": "Ada Lovelace", "linkProps": {}},
    )
    assert partner.status_code == 201, partner.text
    today = datetime.now(UTC).date()
    return {
        "today": today.isoformat(),
        "week_ago": (today - timedelta(days=7)).isoformat(),
        "link_id": seeded.link_id,
        "webhook_id": hook.json()["id"],
        "partner_id": partner.json()["id"],
    }
