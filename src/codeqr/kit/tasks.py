"""Stopping background tasks for sure."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]], *, timeout: float = 5.0) -> None:
    """Cancel ``tasks`` and wait until they have ended, at most ``timeout`` seconds.

    One cancellation is not always enough: on Python 3.11 a cancel that lands as an
    ``asyncio.timeout`` expires becomes a ``TimeoutError``, which a client library turns into
    its own error and a retry loop catches, so the task goes on as if never cancelled. A task
    still running is cancelled again every half second; one still running at ``timeout`` is
    left behind (logged), so a process's stop cannot hang on it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            names = sorted(task.get_name() for task in pending)
            log.error("kit.tasks.not_stopped", tasks=names, seconds=timeout)
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.5, left))
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("kit.tasks.failed", task=task.get_name(), error=repr(error))
