"""How large amounts may be (SPEC §9): per event, once converted, and every running total.

Three bounds, each far above real money and far below a signed 64-bit overflow:

- ``AMOUNT_MAX``, one event's amount in minor units of its own currency. It has to fit the
  weakest minor units there are (an Indonesian rupiah sen is about 6·10⁻⁷ US dollars, a
  Vietnamese dong 4·10⁻⁵), so 10¹³ is a sale of about 6 million dollars in rupiah, 400
  million in dong, and 100 billion in US cents: one number that never refuses a real sale.
- ``REPORTING_AMOUNT_MAX``, the same event converted into the workspace's reporting
  currency. Conversion can multiply an amount by about 20,000 (euro cents into rupiah
  sen), so the converted amount is bounded on its own: 10¹⁵.
- ``TOTAL_MAX``, every running total (a link's and a customer's ``saleAmount``, analytics
  sums): 2⁵³ - 1. It is the largest integer every JSON reader keeps exact (JavaScript's
  ``Number.MAX_SAFE_INTEGER``) and the largest SQLite's floating ``total()`` adds exactly,
  and with one more event on top it is still far below 2⁶³.

Totals *saturate* at ``TOTAL_MAX`` rather than refusing the event that would pass it: the
event itself is bounded and kept exactly, while a refusal would let whoever filled a link's
or a customer's total block every later sale of theirs for good.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator
from sqlalchemy import BigInteger, case, cast, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

AMOUNT_MAX = 10**13
REPORTING_AMOUNT_MAX = 10**15
TOTAL_MAX = 2**53 - 1


def clamp_total(value: int | float | Decimal | None) -> int:
    """A stored or summed total as an int within ``±TOTAL_MAX`` (``None`` is 0).

    Reads go through here so that a workspace holding larger values (written before the
    bounds, or by SQLite turning an overflowing sum into a float) still reads.
    """
    if value is None:
        return 0
    if isinstance(value, float) and math.isnan(value):  # nothing sensible was stored
        return 0
    if value >= TOTAL_MAX:
        return TOTAL_MAX
    if value <= -TOTAL_MAX:
        return -TOTAL_MAX
    return int(value)


def _clamped(value: Any) -> Any:
    return clamp_total(value) if isinstance(value, int | float | Decimal) else value


Total = Annotated[int, BeforeValidator(_clamped)]
"""A running total in an answer: whatever the database holds, within ``±TOTAL_MAX``."""


def saturating_add(column: Any, hi: Any, lo: Any, delta: Any) -> Any:
    """``column + delta`` held within ``±TOTAL_MAX``, never computed past it.

    ``hi`` and ``lo`` are ``TOTAL_MAX - delta`` and ``-TOTAL_MAX - delta`` (bound values, so
    that no SQL arithmetic can overflow): a column already past ``hi`` becomes ``TOTAL_MAX``,
    one below ``lo`` becomes ``-TOTAL_MAX``, anything else gets ``delta`` added.
    """
    return case(
        (column > hi, literal(TOTAL_MAX, BigInteger)),
        (column < lo, literal(-TOTAL_MAX, BigInteger)),
        else_=column + delta,
    )


def saturating_bounds(delta: int) -> dict[str, int]:
    """The ``hi`` and ``lo`` a ``saturating_add`` of ``delta`` compares with."""
    return {"hi": TOTAL_MAX - delta, "lo": -TOTAL_MAX - delta}


class money_sum(GenericFunction[int]):
    """``sum()`` of money that cannot fail: SQLite's ``sum()`` raises "integer overflow"
    once a partial sum passes 2⁶³, so there it is ``total()`` (a float, exact up to 2⁵³);
    PostgreSQL's ``sum(bigint)`` is an exact ``numeric``. Read results with ``clamp_total``.
    """

    type = BigInteger()
    inherit_cache = True


@compiles(money_sum)
def _sum(element: money_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


@compiles(money_sum, "sqlite")
def _total(element: money_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"


def clamped_sql(value: Any) -> Any:
    """An SQL total held within ``±TOTAL_MAX``, as a BIGINT (to store a ``money_sum``)."""
    held = case(
        (value > TOTAL_MAX, literal(TOTAL_MAX, BigInteger)),
        (value < -TOTAL_MAX, literal(-TOTAL_MAX, BigInteger)),
        else_=value,
    )
    return cast(held, BigInteger)
