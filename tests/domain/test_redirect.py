"""The redirect's view of custom domains: read again after each change, off the event loop."""

from __future__ import annotations

import threading

import pytest

from codeqr.redirect.cache import DomainInfo
from tests.conftest import LiveServer
from tests.factories import make_tenant

from .test_dub_sdk import visit


def test_the_table_is_read_again_in_a_worker_thread(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = server.services.cache
    loop_thread = server.thread  # uvicorn's event loop runs in the server's thread
    readers: list[threading.Thread] = []
    load = cache.load_domains

    def watched() -> dict[str, DomainInfo]:
        readers.append(threading.current_thread())
        return load()

    monkeypatch.setattr(cache, "load_domains", watched)
    http = server.client(make_tenant(server).token)
    http.post("/api/domains", json={"slug": "go.thread.example"})
    assert cache.domains_stale()
    http.post(
        "/api/links", json={"url": "https://t.example/", "domain": "go.thread.example", "key": "t"}
    )
    assert visit(server, "go.thread.example", "/t").headers["location"] == "https://t.example/"
    assert readers, "the table was not read again"
    assert all(reader is not loop_thread for reader in readers)
    assert not cache.domains_stale()
    before = len(readers)
    visit(server, "go.thread.example", "/t")
    assert len(readers) == before  # kept until the next change
