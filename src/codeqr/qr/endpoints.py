"""``GET /api/qr``: a QR code image for any URL (Dub-compatible, public like Dub's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from codeqr.api.deps import ServicesDep, limit_qr
from codeqr.kit.schemas import QueryInt
from codeqr.qr import render
from codeqr.qr.service import QRRequest

router = APIRouter(tags=["qr"])

CACHE_IMAGE = "public, max-age=86400"
# An image missing its logo only because the logo's host failed must not be kept a day.
CACHE_DEGRADED = "no-store"
SVG_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# Bounded: requests per client (``limit_qr``, before any parameter is looked at), logo bytes
# and pixels, image size, and the drawing threads and their queue (``qr.service``).
@router.get(
    "/qr",
    response_class=Response,
    dependencies=[Depends(limit_qr)],
    responses={
        200: {
            "description": "The QR code image.",
            "content": {"image/png": {}, "image/svg+xml": {}},
        },
        304: {"description": "The image named by If-None-Match has not changed."},
    },
)
async def get_qr(
    services: ServicesDep,
    url: Annotated[str, Query(description="The URL (or text) to encode.")],
    size: Annotated[
        QueryInt, Query(ge=render.MIN_SIZE, le=render.MAX_SIZE, description="Side in pixels.")
    ] = render.DEFAULT_SIZE,
    level: Annotated[str, Query(description="Error correction: L, M, Q or H.")] = "L",
    fg_color: Annotated[str, Query(alias="fgColor")] = "#000000",
    bg_color: Annotated[str, Query(alias="bgColor")] = "#FFFFFF",
    margin: Annotated[
        QueryInt, Query(ge=0, le=render.MAX_MARGIN, description="Quiet zone in modules.")
    ] = render.DEFAULT_MARGIN,
    logo: Annotated[str | None, Query(description="http(s) or data:image URL.")] = None,
    hide_logo: Annotated[bool, Query(alias="hideLogo")] = False,
    include_margin: Annotated[bool, Query(alias="includeMargin", deprecated=True)] = True,
    image_format: Annotated[str, Query(alias="format", description="png or svg.")] = "png",
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Retrieve a QR code image for a URL: PNG by default, SVG with ``format=svg``."""
    rendered = await services.qr.image(
        QRRequest(
            url,
            level=render.parse_level(level),
            style=render.Style(
                size=size,
                fg=render.parse_color(fg_color, "fgColor"),
                bg=render.parse_color(bg_color, "bgColor"),
                margin=margin if include_margin else 0,
            ),
            image_format=image_format.strip().lower(),
            logo=None if hide_logo else logo,
        )
    )
    image = rendered.image
    headers = {"Cache-Control": CACHE_IMAGE, "X-Content-Type-Options": "nosniff"}
    if image.logo is not None:
        headers["X-CodeQR-Logo"] = image.logo
    if image.logo == "unavailable":
        headers["Cache-Control"] = CACHE_DEGRADED
    else:
        headers["ETag"] = rendered.etag
        if if_none_match is not None and _matches(if_none_match, rendered.etag):
            return Response(status_code=304, headers=headers)
    if image.media_type == "image/svg+xml":
        # Opened on its own, an SVG is a document of this origin: let it run nothing.
        headers["Content-Security-Policy"] = SVG_POLICY
    return Response(image.body, media_type=image.media_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match list names ``etag`` (weak comparison, as RFC 9110 asks)."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
