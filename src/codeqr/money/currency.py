"""ISO 4217 codes and the minor units amounts are counted in (as Stripe and Dub count them)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache

import pycountry

from codeqr.kit.errors import Unprocessable

# Stripe's zero-decimal currencies: an amount of 4980 JPY is ¥4,980, not ¥49.80.
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
# Stripe's three-decimal currencies: 1234 KWD is 1.234 dinars (fils).
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Stripe's "special cases" (ISK, HUF, TWD) still take two-decimal amounts on the API, so
# they fall under the default of 2.

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@cache
def _iso_codes() -> frozenset[str]:
    # Built once: pycountry's own lookup is slower and this runs on every sale.
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def normalize_currency(code: str, field: str = "currency") -> str:
    """The upper-case ISO 4217 code of ``code`` (``"usd"`` → ``"USD"``); 422 when unknown.

    ``field`` names the offending field in the error message.
    """
    normalized = code.strip().upper()
    if normalized not in _iso_codes():
        raise Unprocessable(f"{field}: {code!r} is not an ISO 4217 currency code")
    return normalized


def minor_units(code: str) -> int:
    """How many decimals an amount of ``code`` carries in the API: 0, 2 or 3."""
    upper = code.upper()
    if upper in ZERO_DECIMAL:
        return 0
    if upper in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount: int, code: str) -> Decimal:
    """An integer amount in minor units as an exact decimal amount of the currency."""
    return Decimal(amount).scaleb(-minor_units(code))


def format_minor(amount: int, code: str) -> str:
    """A display string: ``¥4,980``, ``$12.34``, ``-€0.50``, ``KWD 1.234``."""
    upper = code.upper()
    units = minor_units(upper)
    number = f"{abs(to_major(amount, upper)):,.{units}f}"
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(upper)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{upper} {number}"


def parse_major(text: str, code: str, field: str = "amount") -> int:
    """A positive amount typed in major units (``"1,000.50"`` dollars) as minor units of
    ``code``; 422 naming ``field`` for anything else, or more decimals than the currency has."""
    units = minor_units(code)
    cleaned = text.strip().replace(",", "").replace("_", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or len(cleaned) > 30:
        raise Unprocessable(f"{field}: {text!r} is not a positive amount of {code.upper()}")
    minor = amount.scaleb(units)
    if minor != minor.to_integral_value():
        raise Unprocessable(f"{field}: {code.upper()} amounts have at most {units} decimals")
    return int(minor)
