"""The redirect's link cache: changes made elsewhere reach it within its time to live."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.redirect.helpers import Shortener


def test_a_change_made_by_another_process_is_seen_after_the_ttl(shortener: Shortener) -> None:
    """Another process writing the database sends no invalidation; the TTL bounds staleness."""
    shortener.server.services.cache.ttl_ms = 1500
    link = shortener.link(url="https://example.com/old")
    assert shortener.visit(link).headers["location"] == "https://example.com/old"
    with shortener.server.services.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE links SET url = 'https://example.com/new' WHERE id = :id"),
            {"id": link["id"]},
        )
    # Still cached: nothing told this process about the change.
    assert shortener.visit(link).headers["location"] == "https://example.com/old"
    time.sleep(1.6)
    assert shortener.visit(link).headers["location"] == "https://example.com/new"
