"""Structured logs: one configuration, plain tracebacks, console or JSON lines.

structlog's default console renderer draws tracebacks with every frame's locals through
``rich``, which takes seconds for a deep ASGI stack; an unexpected error would hold its 500
answer (and the event loop) that long. Plain tracebacks cost microseconds.

Whatever is bound with ``structlog.contextvars`` (the API's request id, ``api.requestid``)
is added to every line logged in that context, worker threads included.

With JSON lines, what other libraries log through the standard ``logging`` module (uvicorn's
own warnings, for one) is rendered as JSON on the same stream too, with its logger's name, so
a log shipper reads one format.
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
        _route_stdlib_logging(level, stream or sys.stdout, renderer)
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


def _route_stdlib_logging(level: int, stream: TextIO, renderer: list[Processor]) -> None:
    """Render the standard library's log records (warnings and up) with ``renderer`` on
    ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    # Their warnings and errors: httpx alone logs a line per request at INFO.
    root.setLevel(max(level, logging.WARNING))
