"""``GET /api/qr`` within bounds: drawing threads, their queue, and the cache of images."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from codeqr.kit.errors import Unprocessable
from codeqr.qr import render
from codeqr.qr.service import REMOTE_LOGO_TTL, QRRequest, QRService
from tests.conftest import LiveServer

from .conftest import LogoHost, bomb, data_url, decode, large_logo, logo_png

URL = "https://example.com/landing"


def _slow(i: int) -> dict[str, str]:
    """A request that takes a while to draw (2048 px, a megapixel logo), distinct per ``i``."""
    return {"url": f"{URL}/{i}", "size": "2048", "logo": data_url(large_logo())}


def _concurrently(server: LiveServer, queries: list[dict[str, str]]) -> list[httpx.Response]:
    client = server.client()
    with ThreadPoolExecutor(len(queries)) as pool:
        return list(pool.map(lambda q: client.get("/api/qr", params=q, timeout=60), queries))


def test_a_decompression_bomb_logo_is_refused_at_once(server: LiveServer) -> None:
    """3 KB of PNG that would decode into 4096 × 4096 pixels: 422 before any is decoded."""
    params = {"url": URL, "logo": data_url(bomb("PNG"))}
    started = time.monotonic()
    response = server.client().get("/api/qr", params=params)
    took = time.monotonic() - started
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unprocessable_entity"
    assert error["message"] == "logo: larger than 1048576 pixels (4096×4096)"
    assert took < 0.5, took  # decoding it takes seconds
    assert server.services.qr.draws == 0


@pytest.mark.parametrize("image_format", ["png", "svg"])
def test_the_largest_image_is_bounded(server: LiveServer, image_format: str) -> None:
    """2048 px at most; the fullest code with the largest logo stays under 1.5 MB."""
    client = server.client()
    too_big = client.get("/api/qr", params={"url": URL, "size": "2049", "format": image_format})
    assert too_big.status_code == 422
    assert "size" in too_big.json()["error"]["message"]
    text = "https://example.com/" + "".join(f"{i * 7919 % 100_000:05d}" for i in range(320))
    largest = client.get(
        "/api/qr",
        params={
            "url": text,
            "size": "2048",
            "format": image_format,
            "level": "Q",
            "logo": data_url(large_logo()),
        },
        timeout=60,
    )
    assert largest.status_code == 200, largest.text
    assert len(largest.content) < 1_500_000
    decoded = decode(largest.content, largest.headers["content-type"])
    assert decoded.text == text
    assert decoded.image.size == (2048, 2048)


def test_at_most_the_drawing_threads_draw_at_once(server: LiveServer) -> None:
    server.services.qr = qr = QRService(workers=2, queue=8)
    responses = _concurrently(server, [_slow(i) for i in range(8)])
    assert [r.status_code for r in responses] == [200] * 8
    assert qr.draws == 8
    assert qr.drawing.peak == 2  # eight asked at once; two drew, six waited their turn


def test_beyond_the_queue_the_answer_is_429_at_once(server: LiveServer) -> None:
    """Two drawing, three waiting: the others are told to retry, holding nothing meanwhile."""
    server.services.qr = qr = QRService(workers=2, queue=3)
    responses = _concurrently(server, [_slow(i) for i in range(12)])
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) >= 5
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == {
        "code": "rate_limit_exceeded",
        "message": "Too many QR codes are waiting for drawing right now; retry in a second.",
        "doc_url": "https://codeqr.dev/docs/api-reference/errors#rate_limit_exceeded",
    }
    assert qr.drawing.peak <= 2
    assert qr.draws == statuses.count(200)


def test_a_repeated_request_is_served_from_the_cache(server: LiveServer) -> None:
    client = server.client()
    params = {"url": URL, "size": "700", "logo": data_url(logo_png())}
    first = client.get("/api/qr", params=params)
    second = client.get("/api/qr", params=params)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert server.services.qr.draws == 1

    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = client.get("/api/qr", params=params, headers={"If-None-Match": header})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        assert unchanged.headers["cache-control"] == "public, max-age=86400"
    changed = client.get("/api/qr", params=params, headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert server.services.qr.draws == 1

    # Parameters that draw the same image are one entry; any difference is another image.
    same = client.get("/api/qr", params={**params, "format": " PNG ", "level": "l"})
    assert same.headers["etag"] == etag
    assert server.services.qr.draws == 1
    other = client.get("/api/qr", params={**params, "bgColor": "#fffffe"})
    assert other.headers["etag"] != etag
    assert server.services.qr.draws == 2


def test_a_code_missing_its_remote_logo_is_drawn_again_each_time(
    server: LiveServer, logo_host: LogoHost
) -> None:
    """Not kept: the logo's host may answer next time."""
    params = {"url": URL, "logo": logo_host.base + "/logo.png"}  # private: never fetched
    for _ in range(2):
        response = server.client().get("/api/qr", params=params)
        assert response.headers["x-codeqr-logo"] == "unavailable"
        assert "etag" not in response.headers
    assert server.services.qr.draws == 2


def test_a_fetched_logo_is_kept_a_few_minutes(logo_host: LogoHost) -> None:
    logo_host.routes["/logo.png"] = (200, {}, logo_png())
    qr = QRService(allow_private=True)
    request = QRRequest(URL, "M", render.Style(), logo=logo_host.base + "/logo.png")
    first = asyncio.run(qr.image(request))
    assert first.image.logo == "drawn"
    assert asyncio.run(qr.image(request)).etag == first.etag
    assert logo_host.hits == ["/logo.png"]
    assert qr.draws == 1
    qr.cache.clock = lambda: time.monotonic() + REMOTE_LOGO_TTL + 1
    assert asyncio.run(qr.image(request)).etag == first.etag
    assert logo_host.hits == ["/logo.png"] * 2
    assert qr.draws == 2


def test_bad_requests_are_refused_before_any_work() -> None:
    qr = QRService(workers=1, queue=0)
    for request in (
        QRRequest("", "L", render.Style()),
        QRRequest("x" * (render.MAX_TEXT + 1), "L", render.Style()),
        QRRequest(URL, "L", render.Style(), image_format="gif"),
        QRRequest(URL, "L", render.Style(fg=(1, 2, 3), bg=(1, 2, 3))),
        QRRequest(URL, "L", render.Style(), logo="ftp://example.com/logo.png"),
        QRRequest(URL, "L", render.Style(), logo="https://example.com/" + "a" * 5000),
    ):
        with pytest.raises(Unprocessable):
            asyncio.run(qr.image(request))
    assert qr.drawing.peak == qr.fetching.peak == 0
