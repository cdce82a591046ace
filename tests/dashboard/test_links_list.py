"""The links list: sorting, filters, sparklines, host badges and bulk actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import event, select, update

from codeqr.events.models import click_events
from codeqr.kit.clock import now_ms
from codeqr.kit.ids import click_id
from codeqr.link.models import Link, LinkTag, Tag
from codeqr.link.service import MAX_BULK
from tests.conftest import LiveServer

from .helpers import Dash, dash, viewer_of

DAY = 86_400_000


def _make(owner: Dash, key: str, url: str, **extra: str) -> str:
    answer = owner.post("/links/new", {"url": url, "key": key, **extra})
    assert answer.status_code == 303, answer.text
    found = re.search(r"/links/([^/?]+)\?done=created$", answer.headers["location"])
    assert found
    return found.group(1)


def _clicks(server: LiveServer, owner: Dash, link_id: str, days_ago: list[int]) -> None:
    """Clicks stored straight into the click table, and the link's counters to match."""
    now = now_ms()
    with server.services.db.transaction() as session:
        link = session.get(Link, link_id)
        assert link is not None
        rows = []
        for days in days_ago:
            at = now - days * DAY
            rows.append(
                {
                    "id": click_id(at),
                    "timestamp": at,
                    "workspace_id": link.workspace_id,
                    "link_id": link.id,
                    "domain": link.domain,
                    "key": link.key,
                    "url": link.url,
                    "trigger": "link",
                    **dict.fromkeys(
                        [
                            "country",
                            "region",
                            "city",
                            "continent",
                            "device",
                            "browser",
                            "browser_version",
                            "os",
                            "os_version",
                            "engine",
                            "ua",
                            "referer",
                            "referer_url",
                            "identity_hash",
                        ],
                        "",
                    ),
                }
            )
        session.execute(click_events.insert(), rows)
        last = max(now - d * DAY for d in days_ago)
        session.execute(
            update(Link)
            .where(Link.id == link_id)
            .values(clicks=len(days_ago), last_clicked=datetime.fromtimestamp(last / 1000, UTC))
        )


def _order(html: str) -> list[str]:
    return re.findall(r'<tr data-link-id="([^"]+)"', html)


def _spark(html: str, link_id: str) -> str:
    row = re.search(rf'data-link-id="{link_id}">(.*?)</tr>', html, re.S)
    assert row, html
    found = re.search(r'aria-label="([^"]*clicks in the last[^"]*)"', row.group(1))
    assert found, row.group(1)
    return found.group(1)


def test_sorting_filters_sparklines_and_badges(server: LiveServer) -> None:
    owner = dash(server)
    old = _make(owner, "old", "https://www.alpha.example/a", track_conversion="on")
    busy = _make(owner, "busy", "https://beta.example/b")
    idle = _make(owner, "idle", "https://gamma.example/c")
    _clicks(server, owner, busy, [0, 0, 1, 10, 20])
    _clicks(server, owner, old, [2])
    newest = _order(owner.get("/links").text)
    assert newest == [idle, busy, old]
    assert _order(owner.get("/links?sort=clicks").text) == [busy, old, idle]
    assert _order(owner.get("/links?sort=last_clicked").text) == [busy, old, idle]
    assert _order(owner.get("/links?conversion=on").text) == [old]
    assert _order(owner.get("/links?conversion=off").text) == [idle, busy]
    page = owner.get("/links").text
    # Clicks of the last 30 days, then of the last 7, in one sparkline per row.
    assert _spark(page, busy) == "5 clicks in the last 30 days"
    assert _spark(owner.get("/links?days=7").text, busy) == "3 clicks in the last 7 days"
    assert _spark(page, idle) == "0 clicks in the last 30 days"
    # The destination host with an initial-letter badge, drawn without fetching anything.
    row = re.search(rf'data-link-id="{old}">(.*?)</tr>', page, re.S)
    assert row
    assert 'title="alpha.example">A</span>' in row.group(1)
    assert '<span class="host">alpha.example</span>' in row.group(1)
    assert "<img" not in page
    # Sort and filters survive the pager; out of range values are refused.
    assert owner.get("/links?sort=nope").status_code == 422
    assert owner.get("/links?days=90").status_code == 422


def test_tag_and_domain_filters(server: LiveServer) -> None:
    owner = dash(server)
    one = _make(owner, "t1", "https://example.com/1")
    two = _make(owner, "t2", "https://example.com/2")
    bulk = owner.post("/links/bulk", {"action": "tag", "ids": one, "tag_name": "spring"})
    assert bulk.status_code == 303, bulk.text
    with server.services.db.transaction() as session:
        tag_id = session.scalars(select(Tag.id).where(Tag.name == "spring")).one()
    assert _order(owner.get(f"/links?tag={tag_id}").text) == [one]
    listing = owner.get("/links").text
    assert f'<option value="{tag_id}">spring</option>' in listing
    domain = f"127.0.0.1:{server.port}"
    assert set(_order(owner.get(f"/links?domain={domain}").text)) == {one, two}
    assert _order(owner.get("/links?domain=other.example").text) == []


def test_bulk_archive_tag_and_delete(server: LiveServer) -> None:
    owner = dash(server)
    ids = [_make(owner, f"b{n}", f"https://example.com/{n}") for n in range(3)]
    token = owner.csrf()
    archived = owner.client.post(
        owner.base + "/links/bulk",
        data={"csrf_token": token, "action": "archive", "ids": ids[:2], "back": "sort=clicks&x=1"},
    )
    assert archived.status_code == 303, archived.text
    assert archived.headers["location"] == f"{owner.base}/links?sort=clicks&done=bulk-archive&n=2"
    assert "Links archived." in owner.client.get(archived.headers["location"]).text
    with server.services.db.transaction() as session:
        flags = dict(session.execute(select(Link.id, Link.archived).where(Link.id.in_(ids))).all())
    assert flags == {ids[0]: True, ids[1]: True, ids[2]: False}
    tagged = owner.client.post(
        owner.base + "/links/bulk",
        data={"csrf_token": token, "action": "tag", "ids": ids, "tag_name": "launch"},
    )
    assert tagged.status_code == 303
    again = owner.client.post(
        owner.base + "/links/bulk",
        data={"csrf_token": token, "action": "tag", "ids": ids, "tag_name": "LAUNCH"},
    )
    assert again.status_code == 303
    with server.services.db.transaction() as session:
        assert session.scalar(select(Tag.id).where(Tag.name.ilike("launch"))) is not None
        pairs = session.execute(select(LinkTag.link_id).where(LinkTag.link_id.in_(ids))).all()
    assert len(pairs) == 3  # one tag each, not two
    deleted = owner.client.post(
        owner.base + "/links/bulk", data={"csrf_token": token, "action": "delete", "ids": ids[:2]}
    )
    assert deleted.status_code == 303
    assert _order(owner.get("/links").text) == [ids[2]]


def test_bulk_is_all_or_nothing_bounded_and_for_writers(server: LiveServer) -> None:
    owner = dash(server)
    other = dash(server)
    mine = _make(owner, "mine", "https://example.com/mine")
    theirs = _make(other, "theirs", "https://example.com/theirs")
    token = owner.csrf()

    def post(data: dict[str, object], client: Dash = owner, csrf: str = token) -> int:
        answer = client.client.post(owner.base + "/links/bulk", data={"csrf_token": csrf, **data})
        return answer.status_code

    # Another workspace's link among the ids: nothing changes, not even the own link.
    assert post({"action": "delete", "ids": [mine, theirs]}) == 404
    assert post({"action": "archive", "ids": [mine, "lnk_nope"]}) == 404
    with server.services.db.transaction() as session:
        assert session.get(Link, mine) is not None
        assert session.get(Link, theirs) is not None
        assert session.get(Link, mine).archived is False  # type: ignore[union-attr]
    assert post({"action": "archive", "ids": ["x"] * 0}) == 400
    assert post({"action": "tag", "ids": [mine], "tag_name": " "}) == 400
    assert post({"action": "tag", "ids": [mine], "tag_name": "t" * 65}) == 400
    assert post({"action": "explode", "ids": [mine]}) == 422
    assert post({"action": "archive", "ids": [f"lnk_{n}" for n in range(MAX_BULK + 1)]}) == 400
    assert post({"action": "delete", "ids": [mine]}, csrf="forged") == 403
    viewer = viewer_of(server, owner.account)
    assert post({"action": "delete", "ids": [mine]}, client=viewer, csrf=viewer.csrf()) == 403
    with server.services.db.transaction() as session:
        assert session.get(Link, mine) is not None
    # A viewer sees no checkboxes and no bulk form.
    page = viewer.get("/links").text
    assert 'id="bulk-form"' not in page
    assert "data-bulk-pick" not in page


def test_the_page_costs_the_same_queries_for_two_links_or_twenty_five(server: LiveServer) -> None:
    owner = dash(server)
    engine = server.services.db.engine
    statements: list[str] = []

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    def page_queries() -> tuple[int, int]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", note)
        try:
            assert owner.get("/links").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", note)
        # Only the list's own reads: background workers (rollups, webhooks) share the engine.
        mine = [
            s
            for s in statements
            if s.startswith("SELECT")
            and ("FROM links" in s or "link_tags" in s or "click_events.link_id IN" in s)
        ]
        return sum("click_events" in s for s in mine), len(mine)

    for n in range(2):
        _make(owner, f"few{n}", f"https://example.com/{n}")
    few_clicks, few = page_queries()
    token = owner.csrf()
    for n in range(2, 25):
        owner.post("/links/new", {"url": f"https://example.com/{n}", "key": f"few{n}"}, token)
    many_clicks, many = page_queries()
    assert few_clicks == many_clicks == 1  # every sparkline of the page in one query
    assert many == few
