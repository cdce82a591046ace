"""The links pages: list, search, pagination, create, edit, delete, QR, forms and roles."""

from __future__ import annotations

import re
from io import BytesIO

import zxingcpp
from PIL import Image

from tests.conftest import LiveServer

from .helpers import dash, field_error, seed, viewer_of, wait_for_clicks


def _link_id(location: str) -> str:
    found = re.search(r"/links/([^/?]+)\?done=created$", location)
    assert found, location
    return found.group(1)


def test_an_empty_workspace_invites_to_create_a_link(server: LiveServer) -> None:
    page = dash(server).get("/links")
    assert "No links yet — create your first" in page.text


def test_creating_a_link_then_seeing_it_in_the_list(server: LiveServer) -> None:
    owner = dash(server)
    created = owner.post(
        "/links/new",
        {"url": "https://example.com/launch", "key": "launch", "title": "Launch post"},
    )
    assert created.status_code == 303, created.text
    link_id = _link_id(created.headers["location"])
    detail = owner.client.get(created.headers["location"])
    assert "Link created." in detail.text
    assert f"127.0.0.1:{server.port}/launch" in detail.text
    listing = owner.get("/links")
    assert f'data-link-id="{link_id}"' in listing.text
    assert "Launch post" in listing.text
    redirect = server.client().get("/launch", headers={"user-agent": "Mozilla/5.0 Chrome/131"})
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://example.com/launch"


def test_the_list_shows_counters_and_revenue(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    wait_for_clicks(owner, 3)
    row = owner.get("/links").text
    cells = re.search(rf'data-link-id="{seeded.link_id}">(.*?)</tr>', row, re.S)
    assert cells, row
    numbers = re.findall(r'class="num[^"]*">([^<]*)<', cells.group(1))
    assert numbers == ["3", "1", "1", "$49.00"]


def test_search_and_pages(server: LiveServer) -> None:
    owner = dash(server)
    token = owner.csrf()
    for n in range(27):
        answer = owner.post(
            "/links/new", {"url": f"https://example.com/{n}", "key": f"k{n}"}, token
        )
        assert answer.status_code == 303
    first = owner.get("/links")
    assert first.text.count("data-link-id=") == 25
    assert "?page=2" in first.text
    second = owner.get("/links?page=2")
    assert second.text.count("data-link-id=") == 2
    found = owner.get("/links?q=k26")
    assert found.text.count("data-link-id=") == 1
    none = owner.get("/links?q=nothing-like-this")
    assert "No links match" in none.text


def test_form_errors_are_shown_next_to_the_field(server: LiveServer) -> None:
    owner = dash(server)
    bad_url = owner.post("/links/new", {"url": "ftp://example.com/file", "key": "x1"})
    assert bad_url.status_code == 400
    assert "Only http and https URLs are allowed" in field_error(bad_url.text, "url")
    assert 'value="x1"' in bad_url.text  # what was typed is kept
    reserved = owner.post("/links/new", {"url": "https://example.com", "key": "api"})
    assert "reserved" in field_error(reserved.text, "key")
    owner.post("/links/new", {"url": "https://example.com", "key": "taken"})
    taken = owner.post("/links/new", {"url": "https://example.com", "key": "taken"})
    assert "already exists" in field_error(taken.text, "key")
    empty = owner.post("/links/new", {"url": ""})
    assert empty.status_code == 400
    assert "field-error" in empty.text


def test_conversion_tracking_names_the_plan_it_needs(server: LiveServer) -> None:
    owner = dash(server, plan="free")
    form = owner.get("/links/new")
    assert "Conversion tracking comes with the <strong>Business</strong> plan" in form.text
    refused = owner.post("/links/new", {"url": "https://example.com", "track_conversion": "true"})
    assert refused.status_code == 400
    assert "requires a Business plan" in refused.text
    business = dash(server)
    created = business.post(
        "/links/new", {"url": "https://example.com", "track_conversion": "true"}
    )
    assert created.status_code == 303


def test_editing_and_deleting_a_link(server: LiveServer) -> None:
    owner = dash(server)
    created = owner.post("/links/new", {"url": "https://example.com/a", "key": "edit-me"})
    link_id = _link_id(created.headers["location"])
    saved = owner.post(
        f"/links/{link_id}",
        {"url": "https://example.com/b", "key": "edited", "utm_source": "mail"},
    )
    assert saved.status_code == 303, saved.text
    page = owner.client.get(saved.headers["location"])
    assert "Changes saved." in page.text
    assert "https://example.com/b?utm_source=mail" in page.text
    bad = owner.post(f"/links/{link_id}", {"url": "notaurl with spaces"})
    assert bad.status_code == 400
    assert field_error(bad.text, "url")
    confirm = owner.get(f"/links/{link_id}/delete")
    assert "Delete this link?" in confirm.text
    deleted = owner.post(f"/links/{link_id}/delete", {})
    assert deleted.status_code == 303
    assert "Link deleted" in owner.client.get(deleted.headers["location"]).text
    assert owner.get(f"/links/{link_id}").status_code == 404


def test_qr_codes_decode_to_the_short_link(server: LiveServer) -> None:
    owner = dash(server)
    created = owner.post("/links/new", {"url": "https://example.com", "key": "scan-me"})
    link_id = _link_id(created.headers["location"])
    png = owner.get(f"/links/{link_id}/qr.png?size=400")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(BytesIO(png.content)))
    assert [d.text for d in decoded] == [f"http://127.0.0.1:{server.port}/scan-me?qr=1"]
    svg = owner.get(f"/links/{link_id}/qr.svg?download=true")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["content-disposition"] == 'attachment; filename="qr-scan-me.svg"'
    assert svg.content.lstrip().startswith(b"<")


def test_forms_without_the_session_token_are_refused(server: LiveServer) -> None:
    owner = dash(server)
    forged = owner.post("/links/new", {"url": "https://evil.example"}, csrf="forged")
    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    other = dash(server)
    stolen = owner.post("/links/new", {"url": "https://evil.example"}, csrf=other.csrf())
    assert stolen.status_code == 403
    assert "No links yet" in owner.get("/links").text


def test_a_viewer_sees_links_but_cannot_change_them(server: LiveServer) -> None:
    owner = dash(server)
    created = owner.post("/links/new", {"url": "https://example.com", "key": "look"})
    link_id = _link_id(created.headers["location"])
    viewer = viewer_of(server, owner.account)
    listing = viewer.get("/links")
    assert f'data-link-id="{link_id}"' in listing.text
    assert "view-only access" in listing.text
    assert "Create link" not in listing.text
    detail = viewer.get(f"/links/{link_id}")
    assert "<fieldset disabled>" in detail.text
    assert "Save changes" not in detail.text
    token = viewer.csrf()
    assert viewer.post("/links/new", {"url": "https://x.example"}, token).status_code == 403
    assert viewer.post(f"/links/{link_id}", {"url": "https://x.example"}, token).status_code == 403
    assert viewer.post(f"/links/{link_id}/delete", {}, token).status_code == 403
    assert owner.get(f"/links/{link_id}").status_code == 200


def test_another_workspaces_link_is_not_found(server: LiveServer) -> None:
    mine, theirs = dash(server), dash(server)
    created = theirs.post("/links/new", {"url": "https://example.com", "key": "theirs"})
    link_id = _link_id(created.headers["location"])
    assert mine.get(f"/links/{link_id}").status_code == 404
    assert mine.get(f"/links/{link_id}/qr.png").status_code == 404
    token = mine.csrf()
    assert mine.post(f"/links/{link_id}/delete", {}, token).status_code == 404
    assert mine.post(f"/links/{link_id}", {"url": "https://x.example"}, token).status_code == 404
    assert theirs.get(f"/links/{link_id}").status_code == 200
