"""Structured logs: one configuration, plain tracebacks, console or JSON lines.

structlog's default console renderer draws tracebacks with every frame's locals through
``rich``, which takes seconds for a deep ASGI stack; an unexpected error would hold its 500
answer (and the event loop) that long. Plain tracebacks cost microseconds.

Whatever is bound with ``structlog.contextvars`` (the API's request id, ``api.requestid``)
is added to every line logged in that context, worker threads included.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor

CONSOLE = "console"
JSON = "json"


def configure(level: int = logging.INFO, stream: TextIO | None = None, fmt: str = CONSOLE) -> None:
    """Log lines with ISO times and plain tracebacks, from ``level`` up, to ``stream`` (the
    CLI passes stderr: its stdout is for results scripts read): key=value text for
    ``console``, one JSON object a line for ``json``."""
    renderer: list[Processor]
    if fmt == JSON:
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
