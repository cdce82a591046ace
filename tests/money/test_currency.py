"""ISO 4217 codes and Stripe's minor units."""

from __future__ import annotations

import pytest

from codeqr.kit.errors import Unprocessable
from codeqr.money.currency import format_minor, minor_units, normalize_currency, to_major


@pytest.mark.parametrize(("given", "code"), [("usd", "USD"), ("EUR", "EUR"), (" jpy ", "JPY")])
def test_codes_are_upper_cased(given: str, code: str) -> None:
    assert normalize_currency(given) == code


@pytest.mark.parametrize("bad", ["xyz", "", "US", "dollars", "€", "usd1"])
def test_unknown_codes_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        normalize_currency(bad)
    assert caught.value.message == f"currency: {bad!r} is not an ISO 4217 currency code"
    assert caught.value.status_code == 422


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(Unprocessable, match=r"^amountCurrency: 'abc'"):
        normalize_currency("abc", field="amountCurrency")


@pytest.mark.parametrize(
    "code",
    [
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
        "jpy",
    ],
)
def test_zero_decimal_currencies(code: str) -> None:
    assert minor_units(code) == 0


@pytest.mark.parametrize("code", ["BHD", "JOD", "KWD", "OMR", "TND", "kwd"])
def test_three_decimal_currencies(code: str) -> None:
    assert minor_units(code) == 3


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "ISK", "HUF", "TWD", "CHF"])
def test_other_currencies_have_two_decimals(code: str) -> None:
    # ISK, HUF and TWD are Stripe "special cases" but still two-decimal on the API.
    assert minor_units(code) == 2


def test_to_major_is_exact() -> None:
    assert str(to_major(4980, "JPY")) == "4980"
    assert str(to_major(1234, "KWD")) == "1.234"
    assert str(to_major(5, "USD")) == "0.05"


@pytest.mark.parametrize(
    ("amount", "code", "shown"),
    [
        (4980, "JPY", "¥4,980"),
        (1234, "KWD", "KWD 1.234"),
        (123456789, "usd", "$1,234,567.89"),
        (-50, "EUR", "-€0.50"),
        (7, "GBP", "£0.07"),
        (100000, "CHF", "CHF 1,000.00"),
    ],
)
def test_format_minor(amount: int, code: str, shown: str) -> None:
    assert format_minor(amount, code) == shown
