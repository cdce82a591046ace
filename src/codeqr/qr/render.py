"""QR images: the symbol from segno, drawn as PNG (Pillow) or SVG, with an optional logo.

Geometry. ``size`` is the whole image in pixels. Every module gets the same whole number of
pixels (``size // (modules + 2 * margin)``) so edges stay crisp for scanners; the pixels left
over widen the quiet zone, so ``margin`` is a minimum, in modules.

Logos. A logo sits centred on a pad of the background colour whose side covers at most
``LOGO_FRACTION`` (20 %) of the symbol's width, on whole modules. Every module under the pad is
lost to the decoder, so a code with a logo is made at level Q at least (the requested level
when it is higher): with the pad's whole area read wrongly, Q and H still decode at every
version, L does not (see ``tests/qr/test_render.py``). Logos are raster images (PNG, JPEG,
GIF, WebP, BMP, ICO) of at most ``LOGO_MAX_BYTES``, given as ``data:image/…;base64,`` or
fetched over http(s) from a public address only (the endpoint is unauthenticated, so a logo
URL must not reach the instance's own network).
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import socket
import struct
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import segno
import structlog
from PIL import Image, ImageOps, PngImagePlugin

from codeqr.kit.errors import Unprocessable

LEVELS = "LMQH"
DEFAULT_SIZE = 600
MIN_SIZE = 64
MAX_SIZE = 2048
DEFAULT_MARGIN = 2
MAX_MARGIN = 40
LOGO_FRACTION = 0.2
LOGO_MIN_LEVEL = "Q"
FORMATS = ("png", "svg")
MAX_TEXT = 7089
"""The most characters any QR code holds (digits, version 40, level L): longer is refused
before the encoder is asked."""
LOGO_MAX_BYTES = 1_000_000
LOGO_MAX_PIXELS = 1024 * 1024
"""A logo is drawn at most 20 % of 2048 px wide; a megapixel is ample and decodes into 4 MB as
RGBA. A few kilobytes of PNG can declare 4096 × 4096 pixels (64 MB decoded)."""
LOGO_MAX_URL = 4096
LOGO_TIMEOUT = 3.0
LOGO_MAX_REDIRECTS = 3
LOGO_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "ICO")

log = structlog.get_logger(__name__)

# Pillow inflates PNG text chunks (zTXt, iTXt) while opening, up to 64 MB per file by default;
# a 200 KB logo could cost that much before its size is known. A logo's text is never used.
PngImagePlugin.MAX_TEXT_MEMORY = 1 << 20

Matrix = Sequence[Sequence[bool]]
RGB = tuple[int, int, int]


class LogoUnavailable(Exception):
    """A remote logo could not be used (unreachable, refused, too large, not an image)."""


@dataclass(frozen=True)
class Style:
    """How to draw a code: image side in pixels, colours, quiet zone in modules."""

    size: int = DEFAULT_SIZE
    fg: RGB = (0, 0, 0)
    bg: RGB = (255, 255, 255)
    margin: int = DEFAULT_MARGIN


# -- parameters ------------------------------------------------------------------------------


def parse_color(value: str, field: str) -> RGB:
    """``#RGB`` or ``#RRGGBB`` (the ``#`` may be left out) as an RGB triple; 422 otherwise."""
    text = value.strip().removeprefix("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise Unprocessable(f"{field}: {value!r} is not a hex colour like #000000 or #fff")
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


def hex_color(color: RGB) -> str:
    """An RGB triple as ``#rrggbb``."""
    return "#{:02x}{:02x}{:02x}".format(*color)


def parse_level(value: str) -> str:
    """The error correction level ``L``, ``M``, ``Q`` or ``H`` (any case); 422 otherwise."""
    level = value.strip().upper()
    if len(level) != 1 or level not in LEVELS:
        raise Unprocessable(f"level: {value!r} is not one of L, M, Q, H")
    return level


def logo_level(level: str) -> str:
    """The level a code with a logo is made at: the requested one, but at least Q."""
    return max(level, LOGO_MIN_LEVEL, key=LEVELS.index)


# -- the symbol ------------------------------------------------------------------------------


def make_matrix(text: str, level: str) -> list[list[bool]]:
    """The modules of the smallest QR code (not Micro QR) holding ``text`` at ``level``.

    ``True`` is dark. The level is kept as asked (segno would otherwise raise it when the
    version has room), so what a caller requests is what a scanner reports.
    """
    if not text:
        raise Unprocessable("url: must not be empty")
    try:
        qr = segno.make_qr(text, error=level.lower(), boost_error=False)
    except segno.DataOverflowError as exc:
        raise Unprocessable(
            f"url: too long for a QR code at level {level} ({len(text)} characters); "
            "use a shorter URL or a lower level"
        ) from exc
    except ValueError as exc:  # text that no QR encoding can carry (lone surrogates)
        raise Unprocessable("url: contains characters a QR code cannot carry") from exc
    return [[bool(module) for module in row] for row in qr.matrix_iter(scale=1, border=0)]


def layout(modules: int, style: Style) -> tuple[int, int]:
    """Pixels per module and the offset of the first module; 422 if ``size`` is too small."""
    total = modules + 2 * style.margin
    scale = style.size // total
    if scale < 1:
        raise Unprocessable(
            f"size: {style.size} px cannot hold this code ({total} modules with the margin); "
            f"use a size of at least {total} or a smaller margin"
        )
    return scale, (style.size - modules * scale) // 2


def logo_box(modules: int) -> tuple[int, int]:
    """First module and side, in modules, of the centred pad a logo is drawn on."""
    side = max(1, int(modules * LOGO_FRACTION))
    if (modules - side) % 2:  # keep the pad centred on whole modules
        side -= 1
    return (modules - side) // 2, side


def _logo_pixels(modules: int, scale: int, offset: int) -> tuple[int, int, int]:
    """Top-left pixel and side of the pad, and the inset of the logo inside it."""
    start, side = logo_box(modules)
    pad = side * scale
    return offset + start * scale, pad, max(1, pad // 10)


def _fitted_logo(logo: Image.Image, box: int) -> Image.Image:
    """The logo scaled to fit a ``box`` square, aspect kept, centred on a transparent square."""
    fitted = ImageOps.contain(logo, (box, box), Image.Resampling.LANCZOS)
    square = Image.new("RGBA", (box, box), (0, 0, 0, 0))
    square.paste(fitted, ((box - fitted.width) // 2, (box - fitted.height) // 2))
    return square


# -- drawing ---------------------------------------------------------------------------------


def render_png(matrix: Matrix, style: Style, logo: Image.Image | None = None) -> bytes:
    """The code as a ``size`` × ``size`` PNG; two colours exactly when there is no logo."""
    n = len(matrix)
    scale, offset = layout(n, style)
    mask = Image.frombytes("L", (n, n), bytes(255 if m else 0 for row in matrix for m in row))
    mask = mask.resize((n * scale, n * scale), Image.Resampling.NEAREST)
    image = Image.new("P", (style.size, style.size), 0)
    image.putpalette([*style.bg, *style.fg])
    image.paste(1, (offset, offset, offset + n * scale, offset + n * scale), mask)
    if logo is not None:
        image = image.convert("RGBA")
        at, pad, inset = _logo_pixels(n, scale, offset)
        image.paste((*style.bg, 255), (at, at, at + pad, at + pad))
        inner = pad - 2 * inset
        if inner > 0:
            image.alpha_composite(_fitted_logo(logo, inner), (at + inset, at + inset))
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_svg(matrix: Matrix, style: Style, logo: Image.Image | None = None) -> bytes:
    """The code as SVG on the same pixel grid as the PNG; a logo is embedded as PNG data.

    Only values this module formats itself (numbers, ``#rrggbb``, base64) go into the markup.
    """
    n = len(matrix)
    scale, offset = layout(n, style)
    size = style.size
    path: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            width = (x - start) * scale
            path.append(f"M{offset + start * scale} {offset + y * scale}h{width}v{scale}h-{width}z")
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        'shape-rendering="crispEdges">',
        f'<rect width="{size}" height="{size}" fill="{hex_color(style.bg)}"/>',
        f'<path fill="{hex_color(style.fg)}" d="{"".join(path)}"/>',
    ]
    if logo is not None:
        at, pad, inset = _logo_pixels(n, scale, offset)
        parts.append(
            f'<rect x="{at}" y="{at}" width="{pad}" height="{pad}" fill="{hex_color(style.bg)}"/>'
        )
        inner = pad - 2 * inset
        if inner > 0:
            data = io.BytesIO()
            _fitted_logo(logo, inner).save(data, format="PNG")
            href = "data:image/png;base64," + base64.b64encode(data.getvalue()).decode()
            parts.append(
                f'<image x="{at + inset}" y="{at + inset}" width="{inner}" height="{inner}" '
                f'xlink:href="{href}"/>'
            )
    parts.append("</svg>")
    return "".join(parts).encode()


# -- logos -----------------------------------------------------------------------------------


def open_logo(data: bytes) -> Image.Image:
    """Decode logo bytes into an RGBA image; ``LogoUnavailable`` when they are not one.

    Sizes are checked before any pixel is decoded: a small file can declare a huge canvas.
    """
    if len(data) > LOGO_MAX_BYTES:
        raise LogoUnavailable(f"larger than {LOGO_MAX_BYTES} bytes")
    for width, height in declared_sizes(data):
        if width * height > LOGO_MAX_PIXELS:
            raise LogoUnavailable(f"larger than {LOGO_MAX_PIXELS} pixels ({width}×{height})")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and goes on) past 89 million pixels while opening; the size check
            # below refuses far earlier, so the warning is only noise, or an error where
            # warnings are errors.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=LOGO_FORMATS)
        with opened as image:
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise LogoUnavailable(
                    f"larger than {LOGO_MAX_PIXELS} pixels ({image.width}×{image.height})"
                )
            image.load()  # the first frame only: GIF, WebP and APNG animations stay unread
            return image.convert("RGBA")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise LogoUnavailable("not a PNG, JPEG, GIF, WebP, BMP or ICO image") from exc


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def declared_sizes(data: bytes) -> list[tuple[int, int]]:
    """The canvases an ICO or WebP file declares, read from its headers.

    Pillow decodes an ICO's largest frame while opening it, at the size that frame's own PNG
    or BMP header gives (the directory's 256 × 256 at most is not binding), and sets up a WebP
    decoder for the whole canvas; both happen before ``size`` can be looked at. Other formats
    decode nothing until ``load``. Malformed headers are left for Pillow to refuse.
    """
    sizes: list[tuple[int, int]] = []
    if data[:4] == b"\0\0\1\0":  # ICO: a directory of 16-byte entries after 6 bytes
        for i in range(int.from_bytes(data[4:6], "little")):
            entry = data[6 + 16 * i : 22 + 16 * i]
            if len(entry) < 16:
                break
            frame = data[int.from_bytes(entry[12:16], "little") :][:24]
            if frame[:8] == PNG_SIGNATURE and len(frame) >= 24:
                sizes.append(struct.unpack(">II", frame[16:24]))  # IHDR width, height
            elif frame[:4] == b"\x0c\0\0\0" and len(frame) >= 8:  # BITMAPCOREHEADER
                width, height = struct.unpack("<HH", frame[4:8])
                sizes.append((width, height // 2))  # XOR image and AND mask, stacked
            elif len(frame) >= 12:  # BITMAPINFOHEADER and its successors
                width, height = struct.unpack("<ii", frame[4:12])
                sizes.append((abs(width), abs(height) // 2))
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8X":  # extended (alpha, animation): canvas size minus one, 24 bits
            sizes.append(
                (
                    1 + int.from_bytes(data[24:27], "little"),
                    1 + int.from_bytes(data[27:30], "little"),
                )
            )
        elif chunk == b"VP8L":  # lossless: 14-bit sizes minus one after a signature byte
            bits = int.from_bytes(data[21:25], "little")
            sizes.append((1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)))
        elif chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
            sizes.append(
                (
                    int.from_bytes(data[26:28], "little") & 0x3FFF,
                    int.from_bytes(data[28:30], "little") & 0x3FFF,
                )
            )
    return sizes


def is_data_url(url: str) -> bool:
    """Whether a logo is given inline rather than by address; 422 for any other scheme."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        return True
    if scheme in ("http", "https"):
        return False
    raise Unprocessable("logo: must be an http(s) URL or a data:image/…;base64, URL")


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:image/…;base64,`` URL; 422 when it is malformed."""
    header, sep, payload = url.partition(",")
    media = header[5:].lower()
    if not sep or not media.startswith("image/") or not media.endswith(";base64"):
        raise Unprocessable("logo: a data URL must look like data:image/png;base64,…")
    if len(payload) > LOGO_MAX_BYTES * 4 // 3 + 4:
        raise Unprocessable(f"logo: larger than {LOGO_MAX_BYTES} bytes")
    try:
        # A '+' written unescaped in a query string arrives as a space; base64 has no spaces.
        return base64.b64decode(payload.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable("logo: the data URL is not valid base64") from exc


def _public_address(host: str, port: int) -> str:
    """An address of ``host`` to connect to, refused unless every address is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise LogoUnavailable(f"cannot resolve {host}") from exc
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        # Loopback, private, link-local (cloud metadata), shared and reserved ranges alike.
        if not address.is_global or address.is_multicast:
            raise LogoUnavailable(f"{host} is not a public address")
        addresses.append(str(address))
    if not addresses:
        raise LogoUnavailable(f"cannot resolve {host}")
    return addresses[0]


def fetch_logo(
    url: str,
    *,
    timeout: float = LOGO_TIMEOUT,
    max_bytes: int = LOGO_MAX_BYTES,
    allow_private: bool = False,
) -> bytes:
    """GET a logo over http(s): ``timeout`` seconds in all (name lookups aside), ``max_bytes``
    at most.

    The connection goes to the address that was checked (no second DNS answer can point it
    elsewhere), redirects are followed by hand and checked the same way. ``allow_private``
    lifts the public-address rule (tests, intranet deployments).
    """
    deadline = time.monotonic() + timeout
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise LogoUnavailable("not a valid URL") from exc
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(LOGO_MAX_REDIRECTS + 1):
            if time.monotonic() > deadline:
                raise LogoUnavailable("too slow")
            if target.scheme not in ("http", "https") or not target.host:
                raise LogoUnavailable("only http(s) URLs with a host")
            host = target.raw_host.decode("ascii")  # IDNA already applied
            port = target.port or (443 if target.scheme == "https" else 80)
            request_url, extensions = target, {}
            if not allow_private:
                request_url = target.copy_with(host=_public_address(host, port))
                extensions = {"sni_hostname": host}
            request = client.build_request(
                "GET",
                request_url,
                headers={"Host": target.netloc.decode("ascii"), "Accept": "image/*"},
                extensions=extensions,
                timeout=max(0.05, deadline - time.monotonic()),
            )
            try:
                response = client.send(request, stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        try:
                            target = target.join(response.headers["location"])
                        except httpx.InvalidURL as exc:
                            raise LogoUnavailable("redirected to an invalid URL") from exc
                        continue
                    if response.status_code != 200:
                        raise LogoUnavailable(f"answered {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise LogoUnavailable(f"larger than {max_bytes} bytes")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise LogoUnavailable(f"larger than {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise LogoUnavailable("too slow")
                    return bytes(body)
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                raise LogoUnavailable(f"fetch failed: {type(exc).__name__}") from exc
    raise LogoUnavailable("too many redirects")


# -- the whole image -------------------------------------------------------------------------


@dataclass(frozen=True)
class QRImage:
    """An encoded image; ``logo`` says what became of a requested logo (``None``: none asked)."""

    body: bytes
    media_type: str
    logo: str | None = None


@dataclass(frozen=True)
class Logo:
    """A logo's bytes as given: inline, or fetched (``data`` is ``None`` when that failed)."""

    data: bytes | None
    remote: bool


def is_remote_logo(url: str) -> bool:
    """Whether a logo is fetched (http(s)) or inline (data:); 422 for anything else."""
    if is_data_url(url):
        return False
    if len(url) > LOGO_MAX_URL:
        raise Unprocessable(f"logo: a logo URL has at most {LOGO_MAX_URL} characters")
    try:
        valid = bool(httpx.URL(url).host)
    except httpx.InvalidURL:
        valid = False
    if not valid:
        raise Unprocessable("logo: not a valid http(s) URL")
    return True


def check(text: str, *, style: Style, image_format: str, logo_url: str | None = None) -> None:
    """Every rule that needs no work, so a bad request is refused before any is done."""
    if image_format not in FORMATS:
        raise Unprocessable(f"format: {image_format!r} is not one of png, svg")
    if style.fg == style.bg:
        raise Unprocessable("fgColor and bgColor must differ, or the code cannot be read")
    if not text:
        raise Unprocessable("url: must not be empty")
    if len(text) > MAX_TEXT:
        raise Unprocessable(
            f"url: too long for a QR code ({len(text)} characters, at most {MAX_TEXT})"
        )
    if logo_url:
        is_remote_logo(logo_url)


def read_logo(url: str, *, allow_private: bool = False) -> Logo:
    """The bytes of a logo: inline data decoded (422 when malformed), or fetched.

    A remote logo that cannot be had gives ``Logo(None, remote=True)``: the code is then drawn
    without it (see ``qr_image``).
    """
    if not is_remote_logo(url):
        return Logo(decode_data_url(url), remote=False)
    try:
        return Logo(fetch_logo(url, allow_private=allow_private), remote=True)
    except LogoUnavailable as exc:
        log.info("qr.logo.unavailable", reason=str(exc))
        return Logo(None, remote=True)


def load_logo(url: str, *, allow_private: bool = False) -> Image.Image:
    """The logo a URL names: inline data (422 when unusable) or fetched (``LogoUnavailable``)."""
    if not is_remote_logo(url):
        return _inline_logo(decode_data_url(url))
    return open_logo(fetch_logo(url, allow_private=allow_private))


def _inline_logo(data: bytes) -> Image.Image:
    """An inline logo decoded; the caller sent it, so an unusable one is its error (422)."""
    try:
        return open_logo(data)
    except LogoUnavailable as exc:
        raise Unprocessable(f"logo: {exc}") from exc


def draw(text: str, *, level: str, style: Style, image_format: str, logo: Logo | None) -> QRImage:
    """Decode the logo (if any) and draw the code: the CPU- and memory-heavy part."""
    image: Image.Image | None = None
    if logo is not None and logo.data is not None:
        if logo.remote:
            try:
                image = open_logo(logo.data)
            except LogoUnavailable as exc:
                log.info("qr.logo.unavailable", reason=str(exc))
        else:
            image = _inline_logo(logo.data)
    status = None if logo is None else "drawn" if image is not None else "unavailable"
    matrix = make_matrix(text, logo_level(level) if image is not None else level)
    if image_format == "svg":
        return QRImage(render_svg(matrix, style, image), "image/svg+xml", status)
    return QRImage(render_png(matrix, style, image), "image/png", status)


def qr_image(
    text: str,
    *,
    level: str,
    style: Style,
    image_format: str = "png",
    logo_url: str | None = None,
    allow_private: bool = False,
) -> QRImage:
    """The QR image of ``text`` with every rule applied, all on the calling thread.

    A remote logo that cannot be had leaves the code without one (``logo="unavailable"``)
    rather than failing the image: ``qrCode`` URLs sit in ``<img>`` tags where an error shows
    as a broken picture, and a plain code still scans. An inline logo that cannot be used is
    the caller's error (422).
    """
    check(text, style=style, image_format=image_format, logo_url=logo_url)
    logo = read_logo(logo_url, allow_private=allow_private) if logo_url else None
    return draw(text, level=level, style=style, image_format=image_format, logo=logo)
