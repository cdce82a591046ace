"""The QR images ``GET /api/qr`` serves: checked, fetched, drawn and cached within bounds.

Anyone may ask for an image, so the work one request can start is bounded on every side:

- cheap rules first (``render.check``): a bad request is refused before anything is queued;
- a repeated request is answered from a cache of rendered bytes (``CACHE_BYTES`` in all);
- remote logos are fetched by at most ``FETCH_WORKERS`` threads at once (bounded bytes and
  time per fetch, see ``render.fetch_logo``), so slow logo hosts never hold the drawing
  threads;
- decoding logos and drawing run on at most ``RENDER_WORKERS`` threads at once (a draw at
  2048 px with a megapixel logo holds about 47 MB; threads beyond the cores add memory, not
  speed), and when the last of them finishes, the memory they freed is handed back;
- each of the two stages lets a bounded number of requests wait; beyond that it answers 429
  ``rate_limit_exceeded`` with ``Retry-After`` at once, holding no memory for them.

Caching. Keys are a digest of the normalized parameters. An image with a fetched logo is kept
``REMOTE_LOGO_TTL`` seconds (the logo at that address may change; no fetched logo is kept on
its own); an image whose remote logo could not be had is not kept, so the next request tries
the logo again.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread

from codeqr.kit.errors import RateLimited
from codeqr.qr import render
from codeqr.qr.cache import RenderCache

T = TypeVar("T")

RENDER_WORKERS = max(1, min(4, len(os.sched_getaffinity(0))))
RENDER_QUEUE = 64
FETCH_WORKERS = 8
FETCH_QUEUE = 16
CACHE_BYTES = 32 * 1024 * 1024
CACHE_ENTRY_BYTES = 2 * 1024 * 1024
REMOTE_LOGO_TTL = 300.0
RETRY_AFTER = "1"


def _malloc_trim() -> Callable[[], object] | None:
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None
    return lambda: trim(0)


release_memory = _malloc_trim()
"""Hand the C heap's free pages back to the system (glibc), or ``None`` where there is no
such call.

Drawing threads free tens of megabytes each; glibc keeps much of it in per-thread arenas
(Pillow's 16 MB blocks fall under its raised mmap threshold), so a burst of drawing would
leave the process hundreds of megabytes larger for good."""


@dataclass(frozen=True)
class QRRequest:
    """The normalized parameters of one image; equal requests draw equal images."""

    text: str
    level: str
    style: render.Style
    image_format: str = "png"
    logo: str | None = None

    def key(self) -> bytes:
        """A digest of every parameter, the cache key (a logo may be a megabyte of data)."""
        fields = (self.text, self.level, self.style, self.image_format, self.logo)
        return hashlib.blake2b(repr(fields).encode(), digest_size=20).digest()


@dataclass(frozen=True)
class Rendered:
    """An image and its entity tag (a digest of its bytes)."""

    image: render.QRImage
    etag: str


class Stage:
    """Runs calls on worker threads, ``workers`` at once, ``queue`` more waiting, 429 beyond.

    ``running`` and ``peak`` count calls inside their thread now and at most so far.
    """

    def __init__(
        self,
        name: str,
        *,
        workers: int,
        queue: int,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.on_idle = on_idle
        """Called on the worker thread whose call leaves the stage with none running."""
        self.workers = workers
        self.queue = queue
        self.running = 0
        self.peak = 0
        self._admitted = 0  # running or waiting; changed on the event loop only
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()

    async def run(self, func: Callable[[], T]) -> T:
        """``func()`` on a worker thread once one of this stage's places is free."""
        if self._admitted >= self.workers + self.queue:
            raise RateLimited(
                f"Too many QR codes are waiting for {self.name} right now; retry in a second.",
                headers={"Retry-After": RETRY_AFTER},
            )
        if self._limiter is None:  # made on the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.workers)
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(self._call, func, limiter=self._limiter)
        finally:
            self._admitted -= 1

    def _call(self, func: Callable[[], T]) -> T:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return func()
        finally:
            with self._lock:
                self.running -= 1
                idle = self.running == 0
            if idle and self.on_idle is not None:
                self.on_idle()


class QRService:
    """Every image ``GET /api/qr`` serves comes through here; one per app."""

    def __init__(
        self,
        *,
        workers: int = RENDER_WORKERS,
        queue: int = RENDER_QUEUE,
        fetchers: int = FETCH_WORKERS,
        fetch_queue: int = FETCH_QUEUE,
        cache_bytes: int = CACHE_BYTES,
        allow_private: bool = False,
    ) -> None:
        self.drawing = Stage("drawing", workers=workers, queue=queue, on_idle=release_memory)
        self.fetching = Stage("their logos", workers=fetchers, queue=fetch_queue)
        self.cache: RenderCache[Rendered] = RenderCache(
            max_bytes=cache_bytes, max_entry_bytes=min(cache_bytes, CACHE_ENTRY_BYTES)
        )
        self.allow_private = allow_private
        self.draws = 0
        """Images drawn (cache misses), for tests and metrics."""

    async def image(self, request: QRRequest) -> Rendered:
        """The image ``request`` asks for: from the cache, or fetched and drawn within bounds."""
        render.check(
            request.text,
            style=request.style,
            image_format=request.image_format,
            logo_url=request.logo,
        )
        key = request.key()
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        logo: render.Logo | None = None
        url = request.logo
        if url and render.is_remote_logo(url):
            logo = await self.fetching.run(
                lambda: render.read_logo(url, allow_private=self.allow_private)
            )
        rendered = await self.drawing.run(lambda: self._draw(request, logo))
        self.draws += 1
        image = rendered.image
        if image.logo != "unavailable":
            ttl = REMOTE_LOGO_TTL if logo is not None else None
            self.cache.put(key, rendered, len(image.body), ttl=ttl)
        return rendered

    @staticmethod
    def _draw(request: QRRequest, logo: render.Logo | None) -> Rendered:
        # On a drawing thread: an inline logo is decoded here, not on the event loop.
        if request.logo and logo is None:
            logo = render.read_logo(request.logo)
        image = render.draw(
            request.text,
            level=request.level,
            style=request.style,
            image_format=request.image_format,
            logo=logo,
        )
        etag = '"' + hashlib.blake2b(image.body, digest_size=16).hexdigest() + '"'
        return Rendered(image, etag)
