"""The feed's pieces without a server: subscriptions that fall behind, and the wire format."""

from __future__ import annotations

import asyncio

import pytest

from codeqr.kit.errors import BadRequest
from codeqr.stream import service
from codeqr.stream.feed import Frame, Subscription


def test_a_client_that_falls_behind_is_cut_off() -> None:
    async def run() -> None:
        sub = Subscription("ws_1", limit=3)
        sub.push([Frame("a", b"1"), Frame("b", b"2")])
        assert await sub.next(0.01) == [Frame("a", b"1"), Frame("b", b"2")]
        assert await sub.next(0.01) == []
        sub.push([Frame(str(i), b"x") for i in range(4)])
        assert sub.ended == "overflow"
        assert await sub.next(1) is None

    asyncio.run(run())


def test_an_event_is_one_sse_message() -> None:
    frame = service.encode("lead", "0ABCDEFghijk1234", {"event": "lead", "eventName": "a\nb"})
    assert frame.data == (
        b'id: 0ABCDEFghijk1234\nevent: lead\ndata: {"event":"lead","eventName":"a\\nb"}\n\n'
    )
    assert service.opening() == b"retry: 3000\n: connected\n\n"


def test_the_resume_point_must_be_an_event_id() -> None:
    assert service.last_event_id(None, None) is None
    assert service.last_event_id("0ABCDEFghijk1234", None) == "0ABCDEFghijk1234"
    assert service.last_event_id(None, "0ABCDEFghijk1234") == "0ABCDEFghijk1234"
    for bad in ("short", "0ABCDEFghijk12-4", "0ABCDEFghijk12345"):
        with pytest.raises(BadRequest):
            service.last_event_id(bad, None)
