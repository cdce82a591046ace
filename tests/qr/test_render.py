from __future__ import annotations

import io

import pytest
from PIL import Image

from codeqr.kit.errors import Unprocessable
from codeqr.qr import render
from codeqr.qr.render import Style

from .conftest import LogoHost, bomb, data_url, decode, logo_png, module_pixels, png_bytes

URL = "https://127.0.0.1:8000/AbC1234?qr=1"
RED = (255, 0, 0)


def _render(
    text: str = URL,
    *,
    level: str = "L",
    style: Style | None = None,
    image_format: str = "png",
    logo: bytes | None = None,
) -> render.QRImage:
    return render.qr_image(
        text,
        level=level,
        style=style or Style(),
        image_format=image_format,
        logo_url=data_url(logo) if logo else None,
    )


@pytest.mark.parametrize("image_format", ["png", "svg"])
@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
@pytest.mark.parametrize("with_logo", [False, True])
def test_every_level_decodes_to_its_url(image_format: str, level: str, with_logo: bool) -> None:
    image = _render(level=level, image_format=image_format, logo=logo_png() if with_logo else None)
    decoded = decode(image.body, image.media_type)
    assert decoded.text == URL
    # A logo costs modules, so its code is made at Q at least; without one the level is kept.
    expected = {"L": "Q", "M": "Q"}.get(level, level) if with_logo else level
    assert decoded.level == expected
    assert decoded.image.size == (600, 600)
    assert (decoded.image.getpixel((300, 300)) == RED) is with_logo


@pytest.mark.parametrize("image_format", ["png", "svg"])
@pytest.mark.parametrize(
    ("size", "margin"), [(64, 0), (100, 2), (333, 4), (600, 2), (1024, 10), (2048, 1)]
)
def test_sizes_and_margins(image_format: str, size: int, margin: int) -> None:
    style = Style(size=size, margin=margin)
    image = _render("https://x.co/a", style=style, image_format=image_format)
    decoded = decode(image.body, image.media_type)
    assert decoded.text == "https://x.co/a"
    assert decoded.image.size == (size, size)
    quiet, module = module_pixels(decoded.image, (255, 255, 255))
    modules = len(render.make_matrix("https://x.co/a", "L"))
    # Whole pixels per module, as many as fit; what is left over widens the quiet zone.
    assert module == size // (modules + 2 * margin)
    assert margin * module <= quiet <= margin * module + (size - (modules + 2 * margin) * module)


@pytest.mark.parametrize("image_format", ["png", "svg"])
@pytest.mark.parametrize(
    ("fg", "bg"),
    [
        ("#000000", "#FFFFFF"),
        ("#1a237e", "#fff8e1"),
        ("#0F0", "#000"),  # light on dark: scanners invert
        ("7b1fa2", "ffffff"),  # no '#': the SDK's users write both
    ],
)
def test_colours_are_exact(image_format: str, fg: str, bg: str) -> None:
    fg_rgb, bg_rgb = render.parse_color(fg, "fgColor"), render.parse_color(bg, "bgColor")
    style = Style(size=400, fg=fg_rgb, bg=bg_rgb, margin=3)
    image = _render(style=style, image_format=image_format)
    decoded = decode(image.body, image.media_type)
    assert decoded.text == URL
    assert decoded.image.getpixel((0, 0)) == bg_rgb
    quiet, module = module_pixels(decoded.image, bg_rgb)
    assert decoded.image.getpixel((quiet + module // 2, quiet + module // 2)) == fg_rgb
    assert {color for _, color in decoded.image.getcolors()} == {fg_rgb, bg_rgb}


def test_png_without_logo_is_a_two_colour_palette_image() -> None:
    with Image.open(io.BytesIO(_render().body)) as image:
        assert image.format == "PNG"
        assert image.mode == "P"
        assert image.size == (600, 600)


@pytest.mark.parametrize(
    "text",
    [
        "HTTPS://EXAMPLE.COM/UPPER",  # alphanumeric mode
        "https://example.com/café?q=ü",  # Latin-1 bytes
        "https://例え.jp/パス?q=テスト",  # UTF-8 bytes
        "https://example.com/" + "p" * 1200,  # a large version
    ],
)
def test_any_text_decodes_back_exactly(text: str) -> None:
    image = _render(text, style=Style(size=1200))
    assert decode(image.body).text == text


def test_logo_pad_covers_at_most_a_fifth_of_the_code_and_sits_centred() -> None:
    for modules in range(21, 178, 4):
        start, side = render.logo_box(modules)
        assert 1 <= side <= modules * render.LOGO_FRACTION
        assert start * 2 + side == modules


@pytest.mark.parametrize("level", ["Q", "H"])
def test_codes_with_a_logo_survive_losing_the_whole_pad(level: str) -> None:
    """The rule behind ``logo_level``: flip every module under the pad and it still reads."""
    for length in (5, 40, 120, 300, 700, 1100):
        text = "https://example.com/" + "k" * length
        matrix = render.make_matrix(text, level)
        start, side = render.logo_box(len(matrix))
        for y in range(start, start + side):
            for x in range(start, start + side):
                matrix[y][x] = not matrix[y][x]
        body = render.render_png(matrix, Style(size=len(matrix) * 5))
        assert decode(body).text == text, f"version with {len(matrix)} modules"


def test_logo_keeps_its_aspect_and_the_background_pad() -> None:
    wide = logo_png((0, 0, 255), (400, 100))
    decoded = decode(_render(logo=wide, style=Style(size=600, margin=2)).body)
    image = decoded.image
    assert decoded.text == URL
    blue = [x for x in range(600) if image.getpixel((x, 300)) == (0, 0, 255)]
    tall = [y for y in range(600) if image.getpixel((300, y)) == (0, 0, 255)]
    assert 3.5 < len(blue) / len(tall) < 4.5
    # The pad around the logo is background, wider than the logo's margin inside it.
    assert image.getpixel((300, min(tall) - 2)) == (255, 255, 255)


def test_transparent_logo_shows_the_pad_through() -> None:
    logo = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (25, 25, 75, 75))
    decoded = decode(_render(logo=png_bytes(logo)).body)
    assert decoded.image.getpixel((300, 300)) == RED
    # The transparent corners of the logo leave the pad's background colour.
    left = min(x for x in range(600) if decoded.image.getpixel((x, 300)) == RED)
    assert decoded.image.getpixel((left - 3, 300)) == (255, 255, 255)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["red", "#12345", "#GGGGGG", "#1234567", "", "##000"])
def test_bad_colours_are_422(value: str) -> None:
    with pytest.raises(Unprocessable, match="fgColor"):
        render.parse_color(value, "fgColor")


@pytest.mark.parametrize("value", ["X", "", "LL", "low"])
def test_bad_levels_are_422(value: str) -> None:
    with pytest.raises(Unprocessable, match="level"):
        render.parse_level(value)


def test_levels_read_in_any_case() -> None:
    assert [render.parse_level(v) for v in ("l", "m", " q ", "H")] == ["L", "M", "Q", "H"]


def test_text_beyond_the_capacity_of_the_level_is_422() -> None:
    render.make_matrix("a" * 2953, "L")  # version 40-L holds 2953 bytes
    with pytest.raises(Unprocessable, match="too long"):
        render.make_matrix("a" * 2954, "L")
    with pytest.raises(Unprocessable, match="level H"):
        render.make_matrix("a" * 1274, "H")


def test_a_logo_raises_the_level_so_capacity_shrinks() -> None:
    text = "https://example.com/" + "a" * 2000  # fits at L, not at Q
    assert decode(_render(text, style=Style(size=2048)).body).text == text
    with pytest.raises(Unprocessable, match="level Q"):
        _render(text, logo=logo_png(), style=Style(size=2048))


def test_empty_text_and_unencodable_text_are_422() -> None:
    with pytest.raises(Unprocessable, match="empty"):
        render.make_matrix("", "L")
    with pytest.raises(Unprocessable, match="cannot carry"):
        render.make_matrix("https://example.com/\ud800", "L")


def test_size_too_small_for_the_code_is_422() -> None:
    with pytest.raises(Unprocessable, match="size"):
        _render("https://example.com/" + "z" * 300, style=Style(size=64))


def test_same_colours_are_422() -> None:
    with pytest.raises(Unprocessable, match="differ"):
        _render(style=Style(fg=(9, 9, 9), bg=(9, 9, 9)))


def test_unknown_format_is_422() -> None:
    with pytest.raises(Unprocessable, match="format"):
        _render(image_format="gif")


# -- logos -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://example.com/logo.png", "javascript:alert(1)", "file:///etc/passwd", "logo"]
)
def test_logo_schemes_other_than_http_and_data_are_422(url: str) -> None:
    with pytest.raises(Unprocessable, match="logo"):
        render.load_logo(url)


@pytest.mark.parametrize(
    "url",
    [
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,rawbytes",
        "data:image/png;base64,!!notbase64!!",
        data_url(b"GIF89a but not really an image"),
        data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    ],
)
def test_unusable_inline_logos_are_422(url: str) -> None:
    with pytest.raises(Unprocessable, match="logo"):
        render.load_logo(url)


def test_formats_pillow_opens_are_logos() -> None:
    source = Image.new("RGB", (64, 64), RED)
    for fmt in ("JPEG", "GIF", "WEBP", "BMP"):
        out = io.BytesIO()
        source.save(out, format=fmt)
        logo = render.load_logo(data_url(out.getvalue(), f"image/{fmt.lower()}"))
        assert logo.mode == "RGBA"
        assert logo.size == (64, 64)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "JPEG", "ICO", "ICO-BMP"])
def test_logo_canvas_too_large_is_refused_before_decoding(fmt: str) -> None:
    """A few kilobytes can declare 4096 × 4096 pixels: refused without a pixel decoded."""
    huge = bomb(fmt)
    assert len(huge) < render.LOGO_MAX_BYTES
    images = Image.core.get_stats()["new_count"]  # Pillow's count of images it made
    with pytest.raises(render.LogoUnavailable, match=r"pixels \(4096×4096\)"):
        render.open_logo(huge)
    assert Image.core.get_stats()["new_count"] == images
    with pytest.raises(Unprocessable, match="logo: larger than 1048576 pixels"):
        render.load_logo(data_url(huge))


def test_png_text_is_not_inflated_beyond_a_megabyte() -> None:
    with pytest.raises(render.LogoUnavailable, match="not a PNG"):
        render.open_logo(bomb("PNG-TEXT"))


@pytest.mark.parametrize("size", [(1024, 1024), (4096, 256), (1, 1024 * 1024)])
def test_logos_up_to_a_megapixel_are_drawn(size: tuple[int, int]) -> None:
    logo = render.open_logo(png_bytes(Image.new("P", size)))
    assert logo.size == size
    with pytest.raises(render.LogoUnavailable, match="pixels"):
        render.open_logo(png_bytes(Image.new("P", (size[0], size[1] + 1))))


def _saved(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def test_declared_sizes_read_ico_and_webp_headers_as_pillow_does() -> None:
    """The header reading that guards ICO and WebP agrees with what Pillow decodes."""
    rgba = Image.new("RGBA", (300, 200), (255, 0, 0, 128))
    for params in ({}, {"bitmap_format": "bmp"}):
        ico = _saved(rgba, "ICO", sizes=[(64, 64), (32, 32)], **params)
        with Image.open(io.BytesIO(ico)) as image:
            assert max(render.declared_sizes(ico)) == image.size == (64, 43)
    frames = [Image.new("RGB", (300, 200), c) for c in (RED, (0, 0, 255))]
    for webp in (
        _saved(rgba, "WEBP", lossless=True),  # VP8L
        _saved(frames[0], "WEBP", quality=80),  # VP8
        _saved(frames[0], "WEBP", save_all=True, append_images=frames[1:]),  # VP8X
    ):
        with Image.open(io.BytesIO(webp)) as image:
            assert render.declared_sizes(webp) == [image.size] == [(300, 200)]
    assert render.declared_sizes(_saved(frames[0], "PNG")) == []


def test_remote_logo_is_fetched_and_drawn(logo_host: LogoHost) -> None:
    logo_host.routes["/logo.png"] = (200, {"Content-Type": "image/png"}, logo_png())
    logo = render.load_logo(logo_host.base + "/logo.png", allow_private=True)
    body = render.render_png(render.make_matrix(URL, "Q"), Style(), logo)
    decoded = decode(body)
    assert decoded.text == URL
    assert decoded.image.getpixel((300, 300)) == RED


def test_remote_logo_follows_a_few_redirects(logo_host: LogoHost) -> None:
    logo_host.routes["/logo.png"] = (200, {}, logo_png())
    logo_host.routes["/a"] = (302, {"Location": "/b"}, b"")
    logo_host.routes["/b"] = (301, {"Location": logo_host.base + "/logo.png"}, b"")
    logo_host.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    logo_host.routes["/bad"] = (302, {"Location": "http://[::1"}, b"")
    assert render.fetch_logo(logo_host.base + "/a", allow_private=True) == logo_png()
    with pytest.raises(render.LogoUnavailable, match=r"RemoteProtocolError|invalid"):
        render.fetch_logo(logo_host.base + "/bad", allow_private=True)
    with pytest.raises(render.LogoUnavailable, match="redirects"):
        render.fetch_logo(logo_host.base + "/loop", allow_private=True)
    assert logo_host.hits.count("/loop") == render.LOGO_MAX_REDIRECTS + 1


def test_remote_logo_limits(logo_host: LogoHost) -> None:
    big = b"\0" * (render.LOGO_MAX_BYTES + 1)
    logo_host.routes["/declared"] = (200, {}, big)
    logo_host.routes["/streamed"] = (200, {"Content-Length": ""}, big)
    logo_host.routes["/text"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
    for path, reason in [
        ("/declared", "larger"),
        ("/streamed", "larger"),
        ("/missing", "404"),
    ]:
        with pytest.raises(render.LogoUnavailable, match=reason):
            render.fetch_logo(logo_host.base + path, allow_private=True)
    with pytest.raises(render.LogoUnavailable, match="not a PNG"):
        render.load_logo(logo_host.base + "/text", allow_private=True)


def test_remote_logo_on_a_private_address_is_never_contacted(logo_host: LogoHost) -> None:
    logo_host.routes["/logo.png"] = (200, {}, logo_png())
    for url in (
        logo_host.base + "/logo.png",
        logo_host.base.replace("127.0.0.1", "localhost") + "/logo.png",
        "http://10.1.2.3/logo.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/logo.png",
        "http://[::ffff:127.0.0.1]/logo.png",
        "http://0.0.0.0/logo.png",
    ):
        with pytest.raises(render.LogoUnavailable, match=r"public|resolve"):
            render.fetch_logo(url)
    assert logo_host.hits == []


def test_remote_logo_connects_to_the_address_that_was_checked(
    logo_host: LogoHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, checked, and that address is used; the Host header keeps
    the name (so a second, different DNS answer cannot steer the request inward)."""
    checked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> str:
        checked.append((host, port))
        return "127.0.0.1"

    monkeypatch.setattr(render, "_public_address", resolve)
    port = int(logo_host.base.rsplit(":", 1)[1])
    logo_host.routes["/logo.png"] = (200, {}, logo_png())
    moved = f"http://cdn.logo.test:{port}/logo.png"
    logo_host.routes["/moved"] = (302, {"Location": moved}, b"")
    url = f"http://Logo.Test:{port}/moved"
    assert render.fetch_logo(url) == logo_png()
    assert checked == [("logo.test", port), ("cdn.logo.test", port)]
    assert logo_host.hosts == [f"logo.test:{port}", f"cdn.logo.test:{port}"]


def test_remote_logo_that_does_not_answer_is_unavailable() -> None:
    with pytest.raises(render.LogoUnavailable):
        render.fetch_logo("http://127.0.0.1:9/logo.png", allow_private=True, timeout=1)
