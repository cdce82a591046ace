"""The links pages: list, search, pagination, create, edit, delete, QR, forms and roles."""

from __future__ import annotations

import re
from io import BytesIO

import zxingcpp
from PIL import Image

from tests.conftest import LiveServer

from .helpers import dash, field_error, seed, viewer_of, wait_for_clicks
from .test_analytics import _copies_of_a_click


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
    assert saved.headers["location"].endswith(f"/links/{link_id}?tab=edit&done=saved")
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
    overview = viewer.get(f"/links/{link_id}")
    assert 'id="analytics"' in overview.text
    assert "Delete" not in overview.text.split('class="link-tabs"')[0]
    detail = viewer.get(f"/links/{link_id}?tab=edit")
    assert ">Settings</a>" in detail.text
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


def test_a_link_page_shows_its_analytics_latest_events_and_the_editor_on_a_tab(
    server: LiveServer,
) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    wait_for_clicks(owner, 3)
    page = owner.get(f"/links/{seeded.link_id}")
    assert page.status_code == 200
    html = page.text
    assert f'data-scope="linkId={seeded.link_id}"' in html
    assert 'data-breakdown="referers"' in html
    # The referers' CSV is this link's alone.
    csv = f"/dashboard/{owner.account.slug}/analytics/data?part=referers&amp;format=csv"
    assert f'data-csv="referers" href="{csv}&amp;linkId={seeded.link_id}"' in html
    assert '<form class="card form"' not in html  # the editor is on its own tab
    assert 'aria-current="page">Overview</a>' in html
    events = re.findall(r'<li class="recent-event" data-kind="(\w+)">', html)
    assert events == ["sale", "lead", "click", "click", "click"]  # newest first
    assert "Sign up" in html
    assert "$49.00" in html
    assert "from news0.example" in html
    editor = owner.get(f"/links/{seeded.link_id}?tab=edit").text
    assert '<form class="card form"' in editor
    assert 'aria-current="page">Edit</a>' in editor
    assert 'id="analytics"' not in editor
    for bad in ("edits", "", "overview\x00", "e" * 500):
        assert owner.get(f"/links/{seeded.link_id}", params={"tab": bad}).status_code == 422
    assert owner.get(f"/links/{seeded.link_id}?interval=forever").status_code == 422
    chosen = owner.get(f"/links/{seeded.link_id}?interval=7d").text
    assert '<option value="7d" selected>' in chosen


def test_a_link_page_lists_only_its_latest_twenty_events_of_that_link(
    server: LiveServer,
) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    wait_for_clicks(owner, 3)
    _copies_of_a_click(
        server, owner.account.workspace_id, referer=[f"r{n}.example" for n in range(25)]
    )
    other = owner.post("/links/new", {"url": "https://example.com/other", "key": "other"})
    other_id = _link_id(other.headers["location"])
    html = owner.get(f"/links/{seeded.link_id}").text
    assert len(re.findall(r'class="recent-event"', html)) == 20
    assert "from r0.example" in html  # the newest copy
    empty = owner.get(f"/links/{other_id}").text
    assert 'class="recent-event"' not in empty
    assert "No clicks yet" in empty
    # Below Business, the page says the list of events needs that plan (as the API does).
    free = dash(server, plan="free")
    mine = free.post("/links/new", {"url": "https://example.com/free", "key": "free"})
    html = free.get(f"/links/{_link_id(mine.headers['location'])}").text
    assert "The list of events comes with the <strong>Business</strong> plan" in html
    assert 'id="analytics"' in html  # the charts are for every plan (within its reach)


def test_the_qr_code_takes_the_colours_size_and_logo_chosen(server: LiveServer) -> None:
    owner = dash(server)
    created = owner.post("/links/new", {"url": "https://example.com", "key": "styled"})
    link_id = _link_id(created.headers["location"])
    short = f"http://127.0.0.1:{server.port}/styled?qr=1"
    styled = owner.get(
        f"/links/{link_id}/qr.png", params={"fg": "#b91c1c", "bg": "#fffbeb", "size": 300}
    )
    assert styled.status_code == 200, styled.text
    image = Image.open(BytesIO(styled.content)).convert("RGB")
    assert image.size == (300, 300)
    colours = {colour for _, colour in image.getcolors(1_000) or []}
    assert colours == {(0xB9, 0x1C, 0x1C), (0xFF, 0xFB, 0xEB)}
    assert [d.text for d in zxingcpp.read_barcodes(image)] == [short]
    plain = owner.get(f"/links/{link_id}/qr.png", params={"size": 600}).content
    logo = owner.get(f"/links/{link_id}/qr.png", params={"size": 600, "logo": "true"})
    assert logo.status_code == 200
    with_logo = Image.open(BytesIO(logo.content)).convert("RGB")
    assert with_logo.tobytes() != Image.open(BytesIO(plain)).convert("RGB").tobytes()
    assert (79, 70, 229) in {c for _, c in with_logo.getcolors(100_000) or []}
    assert [d.text for d in zxingcpp.read_barcodes(with_logo)] == [short]  # still scans
    svg = owner.get(f"/links/{link_id}/qr.svg", params={"fg": "#0f0", "download": "true"})
    assert svg.status_code == 200
    assert b"#00ff00" in svg.content.lower()
    for name, bad in [("fg", "red"), ("bg", "#12345g"), ("fg", "#" + "0" * 400),
                      ("bg", "#fff\x00"), ("logo", "maybe"), ("size", "99999")]:  # fmt: skip
        answer = owner.get(f"/links/{link_id}/qr.png", params={name: bad})
        assert answer.status_code == 422, (name, bad)
        assert name in answer.json()["error"]["message"]
    page = owner.get(f"/links/{link_id}").text
    assert 'id="qr-style"' in page
    assert f'action="/dashboard/{owner.account.slug}/links/{link_id}/qr.png"' in page
