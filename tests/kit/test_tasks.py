"""kit.tasks: a background task stops even when it swallows a cancellation."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from codeqr.kit.tasks import cancel_and_wait


def test_a_task_that_swallows_its_first_cancellation_is_still_stopped() -> None:
    swallowed = 0

    async def loop_forever() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                # As a client library whose own timeout turned the cancel into its error,
                # caught by a retry loop: the task goes on.
                swallowed += 1
                if swallowed > 1:
                    raise

    async def main() -> tuple[bool, float]:
        task = asyncio.get_running_loop().create_task(loop_forever())
        await asyncio.sleep(0)
        started = asyncio.get_running_loop().time()
        await cancel_and_wait([task], timeout=5)
        return task.cancelled(), asyncio.get_running_loop().time() - started

    cancelled, took = asyncio.run(main())
    assert cancelled
    assert swallowed == 2
    assert took < 2


def test_a_task_that_never_stops_is_left_after_the_timeout_and_logged() -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    async def main() -> float:
        task = asyncio.get_running_loop().create_task(stubborn(), name="stubborn")
        await asyncio.sleep(0)
        started = asyncio.get_running_loop().time()
        await cancel_and_wait([task], timeout=1.2)
        took = asyncio.get_running_loop().time() - started
        assert not task.done()
        task.get_coro().close()  # type: ignore[union-attr]
        return took

    with capture_logs() as logs:
        took = asyncio.run(main())
    assert 1.2 <= took < 2
    assert [entry["event"] for entry in logs] == ["kit.tasks.not_stopped"]
    assert logs[0]["tasks"] == ["stubborn"]


def test_a_task_that_failed_has_its_error_logged_not_raised() -> None:
    async def fails() -> None:
        raise ValueError("broken")

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(fails(), name="fails")
        await asyncio.sleep(0)
        await cancel_and_wait([task])

    with capture_logs() as logs:
        asyncio.run(main())
    assert logs == [
        {
            "event": "kit.tasks.failed",
            "log_level": "error",
            "task": "fails",
            "error": "ValueError('broken')",
        }
    ]
