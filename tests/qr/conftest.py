"""QR test helpers: an independent decoder (zxing-cpp, SVG rasterised by cairosvg), logos,
and a small logo host on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cairosvg
import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageOps, PngImagePlugin

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Decoded:
    """What the independent decoder read, and the image it read it from."""

    text: str
    level: str
    image: Image.Image


def rasterize(body: bytes, media_type: str) -> Image.Image:
    """The picture a client would show: PNG as is, SVG drawn by cairo at its own size."""
    if media_type.startswith("image/svg+xml"):
        body = cairosvg.svg2png(bytestring=body)
    else:
        assert media_type.startswith("image/png")
    with Image.open(io.BytesIO(body)) as image:
        return image.convert("RGB")


def decode(body: bytes, media_type: str = "image/png") -> Decoded:
    """Decode exactly one QR code with zxing-cpp (no code from the app involved)."""
    image = rasterize(body, media_type)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"expected one QR code, decoder found {len(found)}"
    assert found[0].valid
    return Decoded(text=found[0].text, level=found[0].ec_level, image=image)


def png_bytes(image: Image.Image) -> bytes:
    """An image as PNG bytes."""
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def logo_png(color: RGB = (255, 0, 0), size: tuple[int, int] = (120, 80)) -> bytes:
    """A plain opaque rectangle: easy to find again in the rendered code."""
    return png_bytes(Image.new("RGB", size, color))


def bomb(fmt: str, side: int = 4096) -> bytes:
    """A flat ``side`` × ``side`` image: a few kilobytes that decode into tens of megabytes."""
    out = io.BytesIO()
    if fmt == "PNG":
        Image.new("RGB", (side, side), (200, 10, 10)).quantize(2).save(out, "PNG", optimize=True)
    elif fmt == "GIF":
        Image.new("P", (side, side)).save(out, "GIF")
    elif fmt == "WEBP":
        Image.new("RGB", (side, side), (200, 10, 10)).save(out, "WEBP", lossless=True)
    elif fmt == "JPEG":
        Image.new("L", (side, side)).save(out, "JPEG", quality=10)
    elif fmt == "ICO":  # a directory that says 16 × 16, pointing at a PNG of any size
        frame = bomb("PNG", side)
        return (
            struct.pack("<HHH", 0, 1, 1)
            + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(frame), 22)
            + frame
        )
    elif fmt == "ICO-BMP":  # the same lie with a bitmap frame (height counts the AND mask)
        header = struct.pack("<IiiHHIIiiII", 40, side, 2 * side, 1, 1, 0, 0, 0, 0, 0, 0)
        frame = header + b"\0" * 1024
        return (
            struct.pack("<HHH", 0, 1, 1)
            + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 1, len(frame), 22)
            + frame
        )
    elif fmt == "PNG-TEXT":  # a tiny picture carrying 64 MB of compressed text
        info = PngImagePlugin.PngInfo()
        for i in range(64):
            info.add_text(f"k{i}", "a" * 1_000_000, zip=True)
        Image.new("RGB", (16, 16)).save(out, "PNG", pnginfo=info)
    else:
        raise AssertionError(fmt)
    return out.getvalue()


def large_logo(side: int = 1024, seed: int = 0) -> bytes:
    """A drawn ``side`` × ``side`` PNG logo of about 40 KB: as large as a logo may be."""
    image = ImageOps.colorize(
        Image.radial_gradient("L").resize((side, side)), (200, 30, 30), (30, 30, 200 - seed % 50)
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((side // 5, side // 5, side * 4 // 5, side * 4 // 5), fill=(250, 250, seed % 256))
    draw.rectangle((side * 2 // 5, side // 10, side * 3 // 5, side * 9 // 10), fill=(0, 120, 0))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def data_url(data: bytes, media: str = "image/png") -> str:
    """``data:<media>;base64,…``."""
    return f"data:{media};base64," + base64.b64encode(data).decode()


def module_pixels(image: Image.Image, bg: RGB) -> tuple[int, int]:
    """Quiet zone and module side, in pixels, measured on the top-left finder pattern.

    The first non-background pixel on the diagonal is the finder's corner; its dark ring is
    seven modules wide along that row.
    """
    first = next(i for i in range(image.width) if image.getpixel((i, i)) != bg)
    fg = image.getpixel((first, first))
    run = 0
    while image.getpixel((first + run, first)) == fg:
        run += 1
    assert run % 7 == 0, f"finder pattern row is {run} px, not 7 equal modules"
    return first, run // 7


@dataclass
class LogoHost:
    """A logo server on 127.0.0.1; ``hits`` and ``hosts``: path and Host of each request."""

    base: str
    routes: dict[str, tuple[int, dict[str, str], bytes]]
    hits: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def logo_host() -> Iterator[LogoHost]:
    """Serves ``routes`` (path → status, headers, body) until the test ends."""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: list[str] = []
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            hosts.append(self.headers.get("Host", ""))
            status, headers, body = routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            headers = {"Content-Length": str(len(body)), **headers}
            for name, value in headers.items():
                if value:  # an empty value leaves the header out (body ends at close)
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host = LogoHost(f"http://127.0.0.1:{httpd.server_address[1]}", routes, hits, hosts)
    yield host
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)
