"""Structured logs: one configuration, plain tracebacks.

structlog's default console renderer draws tracebacks with every frame's locals through
``rich``, which takes seconds for a deep ASGI stack; an unexpected error would hold its 500
answer (and the event loop) that long. Plain tracebacks cost microseconds.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Log key-value lines with ISO times and plain tracebacks, from ``level`` up, to
    ``stream`` (the CLI passes stderr: its stdout is for results scripts read)."""
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
