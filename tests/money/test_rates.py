"""Conversions at ECB reference rates, checked against the shipped CSV read independently."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest

from codeqr.money.rates import SHIPPED_FILE, Conversion, Rates, RatesFileError, fx_file

FRIDAY = date(2024, 3, 15)


@cache
def ecb_table() -> dict[date, dict[str, str]]:
    """The shipped history as ``{day: {currency: rate}}``, parsed with the csv module."""
    with zipfile.ZipFile(SHIPPED_FILE) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    table: dict[date, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        day = date.fromisoformat(row.pop("Date"))
        table[day] = {k.strip(): v.strip() for k, v in row.items() if k and v not in ("N/A", "")}
    return table


def ecb(currency: str, day: date) -> Fraction:
    """Units of ``currency`` per euro on ``day``, as the ECB published it."""
    return Fraction(1) if currency == "EUR" else Fraction(ecb_table()[day][currency])


@pytest.fixture(scope="module")
def rates() -> Rates:
    return Rates.from_file(SHIPPED_FILE)


def test_the_test_day_is_a_published_friday() -> None:
    assert FRIDAY.weekday() == 4
    assert FRIDAY in ecb_table()
    assert FRIDAY + timedelta(days=1) not in ecb_table()


def test_eur_to_usd(rates: Rates) -> None:
    converted = rates.convert(10_000, "EUR", "USD", FRIDAY)
    assert converted is not None
    assert converted.amount == round(10_000 * ecb("USD", FRIDAY))
    assert Fraction(converted.rate) == ecb("USD", FRIDAY)
    assert converted.rate_date == FRIDAY


def test_zero_decimal_yen_to_dollar_cents(rates: Rates) -> None:
    # 4980 JPY is ¥4,980 (not ¥49.80): in cents that is 4980 / (JPY per EUR) * (USD per EUR) * 100.
    converted = rates.convert(4980, "JPY", "USD", FRIDAY)
    assert converted is not None
    expected = round(4980 * ecb("USD", FRIDAY) / ecb("JPY", FRIDAY) * 100)
    assert converted.amount == expected
    assert 2_000 < converted.amount < 6_000  # tens of dollars, not cents
    back = rates.convert(converted.amount, "USD", "JPY", FRIDAY)
    assert back is not None
    assert abs(back.amount - 4980) <= 1


def test_usd_to_eur(rates: Rates) -> None:
    converted = rates.convert(12_345, "USD", "EUR", FRIDAY)
    assert converted is not None
    assert converted.amount == round(12_345 / ecb("USD", FRIDAY))
    assert converted.rate_date == FRIDAY


def test_cross_rate_between_two_non_euro_currencies(rates: Rates) -> None:
    converted = rates.convert(99_999, "GBP", "CHF", FRIDAY)
    assert converted is not None
    assert converted.amount == round(99_999 * ecb("CHF", FRIDAY) / ecb("GBP", FRIDAY))


def test_lower_case_codes(rates: Rates) -> None:
    assert rates.convert(500, "usd", "eur", FRIDAY) == rates.convert(500, "USD", "EUR", FRIDAY)


@pytest.mark.parametrize("offset", [1, 2])
def test_a_weekend_uses_fridays_rate(rates: Rates, offset: int) -> None:
    weekend = FRIDAY + timedelta(days=offset)
    converted = rates.convert(10_000, "EUR", "USD", weekend)
    assert converted == rates.convert(10_000, "EUR", "USD", FRIDAY)
    assert converted is not None
    assert converted.rate_date == FRIDAY


def test_a_datetime_counts_as_its_day(rates: Rates) -> None:
    from datetime import UTC, datetime

    moment = datetime(2024, 3, 16, 13, 30, tzinfo=UTC)
    assert rates.convert(100, "EUR", "USD", moment) == rates.convert(100, "EUR", "USD", FRIDAY)


def test_after_the_last_published_day_the_last_rate_is_used(rates: Rates) -> None:
    last = max(ecb_table())
    assert rates.last_date == last
    converted = rates.convert(10_000, "EUR", "USD", last + timedelta(days=400))
    assert converted is not None
    assert converted.rate_date == last
    assert converted.amount == round(10_000 * ecb("USD", last))


def test_before_the_first_published_day_there_is_no_rate(rates: Rates) -> None:
    first = min(ecb_table())
    assert rates.first_date == first
    assert rates.convert(100, "EUR", "USD", first - timedelta(days=1)) is None
    assert rates.convert(100, "EUR", "USD", first) is not None


@pytest.mark.parametrize(("src", "dst"), [("USD", "KWD"), ("KWD", "USD"), ("XYZ", "EUR")])
def test_currencies_the_ecb_does_not_publish_have_no_rate(rates: Rates, src: str, dst: str) -> None:
    assert rates.convert(1234, src, dst, FRIDAY) is None


def test_a_discontinued_currency_has_no_rate_after_its_last_day(rates: Rates) -> None:
    # The ECB stopped publishing RUB on 2022-03-01; a later sale must not use that rate.
    assert rates.convert(100_000, "RUB", "EUR", date(2022, 3, 1)) is not None
    assert rates.convert(100_000, "RUB", "EUR", date(2024, 3, 15)) is None


@pytest.mark.parametrize("code", ["USD", "JPY", "KWD", "XYZ"])
def test_the_same_currency_converts_exactly_any_day(rates: Rates, code: str) -> None:
    converted = rates.convert(4980, code, code.lower(), date(1990, 1, 1))
    assert converted == Conversion(amount=4980, rate=Decimal(1), rate_date=date(1990, 1, 1))


def _history(tmp_path: Path, text: str, name: str = "rates.csv") -> Rates:
    path = tmp_path / name
    path.write_text(text)
    return Rates.from_file(path)


def test_three_decimal_currencies_count_in_fils(tmp_path: Path) -> None:
    rates = _history(tmp_path, "Date,USD,KWD,\n2024-03-15,1.0890,0.3346,\n")
    # 10.00 EUR = 3.346 KWD = 3346 fils; 1.000 KWD = 3.25 USD (to the cent).
    fils = rates.convert(1_000, "EUR", "KWD", FRIDAY)
    assert fils is not None
    assert fils.amount == 3_346
    usd = rates.convert(1_000, "KWD", "USD", FRIDAY)
    assert usd is not None
    assert usd.amount == round(Fraction(1000, 1000) * Fraction("1.0890") / Fraction("0.3346") * 100)


def test_rounding_is_half_even(tmp_path: Path) -> None:
    rates = _history(tmp_path, "Date,USD,\n2024-03-15,1.5,\n")
    amounts = {cents: rates.convert(cents, "EUR", "USD", FRIDAY) for cents in (1, 3, 5)}
    assert {c: v.amount for c, v in amounts.items() if v} == {1: 2, 3: 4, 5: 8}


def test_a_file_that_is_not_ecb_rates_is_refused(tmp_path: Path) -> None:
    for text in ["", "hello,world\n", "Date,USD,\n", "Date,USD,\nnot-a-date,1.1,\n"]:
        with pytest.raises(RatesFileError):
            _history(tmp_path, text)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(RatesFileError):
        Rates.from_file(broken)


def _zip(path: Path, csv_text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("eurofxref-hist.csv", csv_text)


def test_load_prefers_a_refreshed_copy(tmp_path: Path, rates: Rates) -> None:
    assert Rates.load(tmp_path).shipped
    later = rates.last_date + timedelta(days=3)
    _zip(fx_file(tmp_path), f"Date,USD,JPY,\n{later.isoformat()},1.2,160,\n")
    loaded = Rates.load(tmp_path)
    assert loaded.last_date == later
    assert loaded.source == fx_file(tmp_path)
    assert not loaded.shipped


def test_load_ignores_a_refreshed_copy_older_than_the_shipped_file(tmp_path: Path) -> None:
    # After an upgrade the shipped file can be newer than an old refresh.
    _zip(fx_file(tmp_path), "Date,USD,\n2020-01-02,1.1,\n")
    assert Rates.load(tmp_path).shipped


def test_load_falls_back_to_the_shipped_file_when_the_copy_is_unreadable(tmp_path: Path) -> None:
    fx_file(tmp_path).parent.mkdir(parents=True)
    fx_file(tmp_path).write_bytes(b"garbage")
    assert Rates.load(tmp_path).shipped


def test_conversions_are_fast(rates: Rates) -> None:
    # Every sale converts once; the target is well above 2,000 sales a second.
    days = [FRIDAY - timedelta(days=i % 400) for i in range(20_000)]
    started = time.perf_counter()
    for day in days:
        rates.convert(4980, "JPY", "USD", day)
    assert time.perf_counter() - started < 2.0
