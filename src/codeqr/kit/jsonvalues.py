"""Bounds on free-form JSON values (metadata, echoed bulk items), checked before anything
else touches them.

A body's JSON parser hands over whatever nesting and numbers the sender chose. What later
writes them back out does not take them all: orjson refuses integers outside 64 bits and
nesting past 254 levels, pydantic's serializer stops a little further down, a recursive
walk meets Python's recursion limit, and NaN and infinity have no JSON spelling. Checked
here, with a loop rather than recursion, such values become a 4xx naming the field instead
of a 500 somewhere later.
"""

from __future__ import annotations

import math
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def problem(
    value: Any, *, max_depth: int, max_items: int | None = None, numbers: bool = True
) -> str | None:
    """Why ``value`` cannot be kept and written back as JSON, or ``None`` when it can.

    Depth counts objects and arrays: ``{}`` is 1 level, ``{"a": [1]}`` 2. With ``numbers``,
    integers must fit in signed 64 bits and numbers must be finite. ``max_items`` ends the
    walk early on a value of more parts than that (a size limit would refuse it anyway).
    """
    pending: list[tuple[Any, int]] = [(value, 0)]  # a value and how many hold it
    seen = 0
    while pending:
        item, outer = pending.pop()
        seen += 1
        if max_items is not None and seen > max_items:
            return f"must have at most {max_items} values"
        if isinstance(item, dict | list):
            if outer + 1 > max_depth:
                return f"must not be nested more than {max_depth} levels deep"
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, outer + 1) for child in children)
        elif not numbers or isinstance(item, bool):
            continue
        elif isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
            return f"integers must be between {INT64_MIN} and {INT64_MAX}"
        elif isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite (not NaN or Infinity)"
    return None
