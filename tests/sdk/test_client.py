"""``CodeQR`` (sync) against a live server: links, QR codes; how arguments go on the wire."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from codeqr import CodeQR
from codeqr.sdk import CodeQRError, Link, LinkError, NotFoundError
from codeqr.sdk import operations as ops
from codeqr.sdk.core import finish
from tests.conftest import LiveServer
from tests.factories import make_tenant

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sdk(server: LiveServer) -> Iterator[CodeQR]:
    with CodeQR(token=make_tenant(server).token, base_url=server.base) as client:
        yield client


def test_importing_the_sdk_does_not_import_the_server() -> None:
    code = (
        "import sys, codeqr.sdk\n"
        "from codeqr import CodeQR, AsyncCodeQR\n"
        "print([m for m in ('fastapi', 'sqlalchemy', 'codeqr.app') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_create_get_update_delete(sdk: CodeQR) -> None:
    link = sdk.links.create(
        url="https://example.com/pricing",
        key="spring",
        external_id="crm-1",
        track_conversion=True,
        tag_names=["launch"],
        comments="newsletter",
        expires_at=datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),
        geo={"fr": "https://example.fr/pricing"},
        utm_source="mail",
    )
    assert isinstance(link, Link)
    assert (link.key, link.external_id, link.track_conversion) == ("spring", "crm-1", True)
    assert link.short_link.endswith("/spring")
    assert [t.name for t in link.tags] == ["launch"]
    assert link.expires_at == "2031-05-06T07:08:09.000Z"
    assert link.geo == {"FR": "https://example.fr/pricing"}
    assert link.utm_source == "mail"
    assert link.model_extra is not None
    assert "webhookIds" in link.model_extra  # fields the model does not name are kept

    assert sdk.links.get(link.id).id == link.id
    assert sdk.links.get(external_id="crm-1").id == link.id
    assert sdk.links.get(domain=link.domain, key="SPRING").id == link.id

    changed = sdk.links.update(link.id, title="Spring sale", comments=None)
    assert (changed.title, changed.comments, changed.key) == ("Spring sale", None, "spring")
    assert sdk.links.update("ext_crm-1", archived=True).archived is True

    assert sdk.links.delete(link.id) == link.id
    with pytest.raises(NotFoundError):
        sdk.links.get(link.id)


def test_list_and_count(sdk: CodeQR) -> None:
    made = [sdk.links.create(url=f"https://example.com/{n}", key=f"k{n}") for n in range(3)]
    sdk.links.create(url="https://other.example/", key="apple")

    first = sdk.links.list(page_size=2)
    second = sdk.links.list(page_size=2, page=2)
    assert [x.key for x in first + second] == ["apple", "k2", "k1", "k0"]
    assert [x.key for x in sdk.links.list(search="apple")] == ["apple"]
    oldest_first = sdk.links.list(sort_order="asc")
    assert [x.id for x in oldest_first][:3] == [x.id for x in made]

    assert sdk.links.count() == 4
    assert sdk.links.count(search="apple") == 1
    rows = sdk.links.count_by("domain")
    assert rows == [{"domain": made[0].domain, "_count": 4}]


def test_upsert_updates_the_link_to_the_same_url(sdk: CodeQR) -> None:
    created = sdk.links.upsert(url="https://example.com/a", title="one")
    again = sdk.links.upsert(url="https://example.com/a", title="two")
    assert again.id == created.id
    assert again.title == "two"
    assert sdk.links.count() == 1


def test_bulk_create_update_delete(sdk: CodeQR) -> None:
    results = sdk.links.create_many(
        [
            {"url": "https://example.com/1", "external_id": "b1"},
            {"url": "ftp://example.com/2"},
            {"url": "https://example.com/3", "external_id": "b3"},
        ]
    )
    assert [type(r) for r in results] == [Link, LinkError, Link]
    bad = results[1]
    assert isinstance(bad, LinkError)
    assert bad.code == "unprocessable_entity"
    ids = [r.id for r in results if isinstance(r, Link)]

    updated = sdk.links.update_many(link_ids=ids, utm_campaign="bulk")
    assert sorted(x.id for x in updated) == sorted(ids)
    assert {x.utm_campaign for x in updated} == {"bulk"}
    by_external = sdk.links.update_many(external_ids=["b3"], title="third")
    assert [x.title for x in by_external] == ["third"]

    assert sdk.links.delete_many(ids) == 2
    assert sdk.links.count() == 0


def test_qr_code_png_and_svg(sdk: CodeQR) -> None:
    png = sdk.qr.get(url="https://example.com", size=300, fg_color="#112233", margin=1)
    assert png.startswith(PNG_SIGNATURE)
    svg = sdk.qr.get(url="https://example.com", format="svg")
    assert b"<svg" in svg[:300]


def test_arguments_on_the_wire(server: LiveServer) -> None:
    """camelCase names, ``None`` left out of queries and creates, sent as null in updates."""
    seen: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [seen.append]})
    # A base URL that already ends in /api is taken as meant.
    sdk = CodeQR(token=make_tenant(server).token, base_url=server.base + "/api/", httpx_client=http)

    link = sdk.links.create(url="https://example.com", key_length=9, title=None)
    assert json.loads(seen[-1].content) == {"url": "https://example.com", "keyLength": 9}
    assert len(link.key) == 9
    sdk.links.get(link.id, external_id=None)
    assert seen[-1].url.path == "/api/links/info"
    assert dict(seen[-1].url.params) == {"linkId": link.id}
    sdk.links.list(show_archived=True, tag_ids=["a", "b"], page_size=5)
    assert dict(seen[-1].url.params) == {"showArchived": "true", "tagIds": "a,b", "pageSize": "5"}
    sdk.links.update(link.id, title=None)
    assert json.loads(seen[-1].content) == {"title": None}
    assert seen[-1].headers["authorization"].startswith("Bearer ")

    sdk.close()
    assert not http.is_closed  # a client given to the SDK stays the caller's
    http.close()


def test_analytics_and_events_queries() -> None:
    """The analytics and events calls as built (their answers are read as plain JSON)."""
    call = ops.retrieve_analytics(
        event="sales",
        group_by="timeseries",
        interval="7d",
        timezone="Europe/Paris",
        country=["FR", "DE"],
        link_id="link_1",
        utm_source="mail",
        referer_url="https://news.example/",
    )
    assert (call.method, call.path) == ("GET", "/analytics")
    assert call.params == {
        "event": "sales",
        "groupBy": "timeseries",
        "interval": "7d",
        "timezone": "Europe/Paris",
        "country": "FR,DE",
        "linkId": "link_1",
        "utm_source": "mail",
        "refererUrl": "https://news.example/",
    }
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = ops.list_events(event="leads", start=start, page=2, limit=50, sort_order="asc")
    assert (events.method, events.path) == ("GET", "/events")
    assert events.params == {
        "event": "leads",
        "start": "2026-01-01T00:00:00+00:00",
        "page": "2",
        "limit": "50",
        "sortOrder": "asc",
    }

    request = httpx.Request("GET", "http://codeqr.test/api/analytics")
    count = {"clicks": 3, "leads": 1, "sales": 1, "saleAmount": 4900}
    assert finish(call, httpx.Response(200, json=count, request=request)) == count
    rows = [{"start": "2026-01-01T00:00:00.000Z", "clicks": 3}]
    assert finish(call, httpx.Response(200, json=rows, request=request)) == rows
    assert finish(events, httpx.Response(200, json=[], request=request)) == []


def test_a_success_that_is_not_json_is_an_error() -> None:
    request = httpx.Request("GET", "http://codeqr.test/api/links/count")
    page = httpx.Response(200, text="<html>captive portal</html>", request=request)
    with pytest.raises(CodeQRError) as caught:
        finish(ops.count_links(), page)
    assert (caught.value.status, caught.value.code) == (200, "unexpected_response")
    wrong = httpx.Response(200, json={"id": 1}, request=request)
    with pytest.raises(CodeQRError):
        finish(ops.get_link("x"), wrong)
