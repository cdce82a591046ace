from __future__ import annotations

from typing import Any

import httpx
import pytest
from dub import Dub
from PIL import Image, ImageChops
from sqlalchemy import text

from tests.conftest import LiveServer
from tests.factories import make_tenant

from .conftest import LogoHost, data_url, decode, logo_png, module_pixels

URL = "https://example.com/landing?utm_source=qr"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _get(server: LiveServer, **params: Any) -> httpx.Response:
    return server.client().get("/api/qr", params=params)


def test_defaults_are_a_600px_png_at_level_l(server: LiveServer) -> None:
    response = _get(server, url=URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert "x-codeqr-logo" not in response.headers
    decoded = decode(response.content)
    assert decoded.text == URL
    assert decoded.level == "L"
    assert decoded.image.size == (600, 600)
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
    quiet, module = module_pixels(decoded.image, (255, 255, 255))
    assert decoded.image.getpixel((quiet, quiet)) == (0, 0, 0)
    assert quiet >= 2 * module


@pytest.mark.parametrize(
    "params",
    [
        {"format": "png", "size": "64", "level": "L", "margin": "0"},
        {"format": "png", "size": "250.0", "level": "M", "margin": "1.0"},  # SDK floats
        {"format": "png", "size": "777", "level": "q", "fgColor": "#0d47a1", "margin": "4"},
        {"format": "png", "size": "2048", "level": "H", "bgColor": "#FFF3E0", "margin": "8"},
        {"format": "svg", "size": "128", "level": "L", "margin": "0"},
        {"format": "svg", "size": "500", "level": "M", "fgColor": "#2E7D32", "bgColor": "#f1f8e9"},
        {"format": "SVG", "size": "900", "level": "Q", "fgColor": "#fff", "bgColor": "#222"},
        {"format": "svg", "size": "1500", "level": "H", "margin": "10"},
    ],
)
@pytest.mark.parametrize("with_logo", [False, True])
def test_every_variant_decodes_to_its_url(
    server: LiveServer, params: dict[str, str], with_logo: bool
) -> None:
    query = dict(params, url=URL)
    if with_logo:
        query["logo"] = data_url(logo_png((255, 0, 0)))
    response = server.client().get("/api/qr", params=query)
    assert response.status_code == 200, response.text
    svg = params["format"].lower() == "svg"
    assert response.headers["content-type"] == ("image/svg+xml" if svg else "image/png")
    assert response.headers["cache-control"] == "public, max-age=86400"
    decoded = decode(response.content, response.headers["content-type"])
    assert decoded.text == URL
    size = int(float(params["size"]))
    assert decoded.image.size == (size, size)
    level = params["level"].upper()
    assert decoded.level == (max(level, "Q", key="LMQH".index) if with_logo else level)
    fg = _rgb(params.get("fgColor", "#000000"))
    bg = _rgb(params.get("bgColor", "#FFFFFF"))
    assert decoded.image.getpixel((0, 0)) == bg
    quiet, module = module_pixels(decoded.image, bg)
    assert decoded.image.getpixel((quiet + module // 2, quiet + module // 2)) == fg
    assert quiet >= int(float(params.get("margin", "2"))) * module
    colors = {color for _, color in decoded.image.getcolors(size * size)}
    if with_logo:
        assert response.headers["x-codeqr-logo"] == "drawn"
        left, top, right, bottom = _box_of(decoded.image, (255, 0, 0))
        assert abs((left + right) - size) <= 3  # centred, to the pixel
        assert abs((top + bottom) - size) <= 3
        assert right - left <= size * 0.2
    else:
        assert colors == {fg, bg}


def _box_of(image: Image.Image, color: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """Bounding box (right and bottom exclusive) of the pixels of exactly ``color``."""
    masks = [
        band.point(lambda v, want=want: 255 if v == want else 0)
        for band, want in zip(image.split(), color, strict=True)
    ]
    box = ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2]).getbbox()
    assert box is not None, f"no pixel of {color}"
    return box


def _rgb(value: str) -> tuple[int, int, int]:
    text = value.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


def test_svg_is_served_as_an_inert_document(server: LiveServer) -> None:
    response = _get(server, url=URL, format="svg")
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.content.startswith(b"<svg ")
    assert b"<script" not in response.content


def test_inline_logo_survives_an_unescaped_plus(server: LiveServer) -> None:
    logo = data_url(logo_png((255, 0, 0), (97, 61)))
    assert "+" in logo or "/" in logo
    # Written by hand into the query string: '+' unescaped, so the server reads a space.
    raw = f"/api/qr?url=https%3A%2F%2Fexample.com%2Fp&logo={logo.replace('/', '%2F')}"
    response = server.client().get(raw)
    assert response.status_code == 200, response.text
    assert response.headers["x-codeqr-logo"] == "drawn"
    assert decode(response.content).text == "https://example.com/p"


@pytest.mark.parametrize(
    "query",
    [
        "url=%00%01%02",
        "url=%ff%fe",
        "url=https://a.com&url=https://b.com",
        "url=x&size=1e3",
        "url=x&size=nan",
        "url=x&size=inf",
        "url=x&margin=1e400",
        "url=x&level=%00",
        "url=x&fgColor=%23%00%00%00",
        "url=x&logo=%00",
        "url=x&logo=data:",
        "url=x&logo=http://%5B::1%5D:0/",
        "url=x&format=",
        "url=x&hideLogo=",
    ],
)
def test_odd_queries_never_fail_on_the_server(server: LiveServer, query: str) -> None:
    response = server.client().get("/api/qr?" + query)
    if response.status_code == 200:
        assert response.headers["content-type"].startswith("image/")
    else:
        assert 400 <= response.status_code < 500
        assert response.json()["error"]["code"] in ("bad_request", "unprocessable_entity")


def test_hide_logo_draws_none(server: LiveServer) -> None:
    response = _get(server, url=URL, logo=data_url(logo_png()), hideLogo="true")
    assert response.status_code == 200
    assert "x-codeqr-logo" not in response.headers
    decoded = decode(response.content)
    assert decoded.text == URL
    assert decoded.level == "L"
    assert (255, 0, 0) not in {color for _, color in decoded.image.getcolors(600 * 600)}


def test_include_margin_false_drops_the_quiet_zone(server: LiveServer) -> None:
    response = _get(server, url=URL, size=300, margin=4, includeMargin="false")
    decoded = decode(response.content)
    quiet, module = module_pixels(decoded.image, (255, 255, 255))
    assert quiet < module  # only the pixels that do not make a whole module


def test_logo_on_the_instances_own_network_is_not_fetched(
    server: LiveServer, logo_host: LogoHost
) -> None:
    """The endpoint is public: a logo URL must not make the server call private addresses.
    The code still comes, without the logo, and is not cached."""
    logo_host.routes["/logo.png"] = (200, {"Content-Type": "image/png"}, logo_png())
    response = _get(server, url=URL, logo=logo_host.base + "/logo.png", level="M")
    assert response.status_code == 200
    assert response.headers["x-codeqr-logo"] == "unavailable"
    assert response.headers["cache-control"] == "no-store"
    decoded = decode(response.content)
    assert decoded.text == URL
    assert decoded.level == "M"
    assert logo_host.hits == []


def test_link_qr_code_encodes_the_short_link_and_a_scan_is_a_qr_click(
    server: LiveServer,
) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    created = api.post("/api/links", json={"url": "https://example.com/x"})
    assert created.status_code == 200, created.text
    link = created.json()
    assert link["qrCode"].startswith(server.base + "/api/qr?")

    image = server.client().get(link["qrCode"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    scanned = decode(image.content).text
    assert scanned == link["shortLink"] + "?qr=1"

    visitor = server.client()
    scan = visitor.get(scanned, headers={"User-Agent": CHROME})
    assert scan.status_code == 302
    assert scan.headers["location"] == "https://example.com/x"  # qr is stripped
    typed = visitor.get(link["shortLink"], headers={"User-Agent": FIREFOX})
    assert typed.status_code == 302

    with server.services.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT trigger, ua FROM click_events WHERE link_id = :id"),
            {"id": link["id"]},
        ).all()
    assert sorted((trigger, ua) for trigger, ua in rows) == [("link", FIREFOX), ("qr", CHROME)]


def test_the_dub_sdk_gets_a_qr_code(server: LiveServer) -> None:
    tenant = make_tenant(server)
    request = {"url": URL, "size": 300, "level": "Q", "fg_color": "#004d40", "margin": 3}
    # The SDK hands back ``response.text``; a client whose text is Latin-1 keeps every byte.
    with (
        httpx.Client(default_encoding="latin-1", follow_redirects=True) as http,
        Dub(token=tenant.token, server_url=server.base + "/api", client=http) as dub,
    ):
        body = dub.qr_codes.get(request=request)
    decoded = decode(body.encode("latin-1"))
    assert decoded.text == URL
    assert decoded.level == "Q"
    assert decoded.image.size == (300, 300)
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
    quiet, module = module_pixels(decoded.image, (255, 255, 255))
    assert decoded.image.getpixel((quiet, quiet)) == (0, 0x4D, 0x40)
    assert quiet >= 3 * module
    # With its own default client the call succeeds too (the SDK decodes the PNG as UTF-8).
    with Dub(token=tenant.token, server_url=server.base + "/api") as dub:
        assert "PNG" in dub.qr_codes.get(request={"url": URL})[:8]


# -- bad input -------------------------------------------------------------------------------

LONG = "https://example.com/" + "a" * 3000


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": LONG}, "url"),
        ({"url": "https://example.com/" + "b" * 1300, "level": "H"}, "url"),
        ({"url": URL, "size": "10"}, "size"),
        ({"url": URL, "size": "4096"}, "size"),
        ({"url": URL, "size": "big"}, "size"),
        ({"url": URL, "size": "600.5"}, "size"),
        ({"url": "https://example.com/" + "c" * 600, "size": "64"}, "size"),
        ({"url": URL, "level": "X"}, "level"),
        ({"url": URL, "fgColor": "red"}, "fgColor"),
        ({"url": URL, "fgColor": "#12345"}, "fgColor"),
        ({"url": URL, "bgColor": "#GGGGGG"}, "bgColor"),
        ({"url": URL, "fgColor": "#abc", "bgColor": "#AABBCC"}, "bgColor"),
        ({"url": URL, "margin": "-1"}, "margin"),
        ({"url": URL, "margin": "1000"}, "margin"),
        ({"url": URL, "format": "gif"}, "format"),
        ({"url": URL, "hideLogo": "perhaps"}, "hideLogo"),
        ({"url": URL, "logo": "ftp://example.com/logo.png"}, "logo"),
        ({"url": URL, "logo": "javascript:alert(1)"}, "logo"),
        ({"url": URL, "logo": "data:text/html;base64,PGgxPmhpPC9oMT4="}, "logo"),
        ({"url": URL, "logo": "data:image/png;base64,%%%"}, "logo"),
        ({"url": URL, "logo": data_url(b"not an image at all")}, "logo"),
        ({"url": URL, "logo": "http://[::1"}, "logo"),
        ({"url": URL, "logo": "https:///logo.png"}, "logo"),
    ],
)
def test_bad_input_is_422_in_the_envelope(
    server: LiveServer, params: dict[str, str], field: str
) -> None:
    response = server.client().get("/api/qr", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "unprocessable_entity"
    assert field in error["message"]
    assert error["doc_url"].endswith("#unprocessable_entity")


def test_bad_input_through_the_dub_sdk_is_its_typed_error(server: LiveServer) -> None:
    from dub.models import errors

    tenant = make_tenant(server)
    with (
        Dub(token=tenant.token, server_url=server.base + "/api") as dub,
        pytest.raises(errors.UnprocessableEntity) as raised,
    ):
        dub.qr_codes.get(request={"url": URL, "fg_color": "not-a-colour"})
    assert "fgColor" in raised.value.data.error.message


def test_other_methods_are_not_allowed(server: LiveServer) -> None:
    response = server.client().post("/api/qr", params={"url": URL})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
