"""Structured logs: one configuration, plain tracebacks.

structlog's default console renderer draws tracebacks with every frame's locals through
``rich``, which takes seconds for a deep ASGI stack; an unexpected error would hold its 500
answer (and the event loop) that long. Plain tracebacks cost microseconds.
"""

from __future__ import annotations

import logging

import structlog


def configure(level: int = logging.INFO) -> None:
    """Log key-value lines with ISO times and plain tracebacks, from ``level`` up."""
    structlog.configure(
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
