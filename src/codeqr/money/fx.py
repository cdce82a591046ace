"""Refreshing the ECB reference rates (``codeqr fx update``).

The new file is downloaded next to the old one, parsed, and only then moved over it in one
``os.replace``: a server starting meanwhile reads either the old file or the new one, never
half a file, and a failed download leaves the rates in use untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import currency_converter
import httpx

from codeqr.kit.errors import CodeQRError
from codeqr.money.rates import Rates, RatesFileError, fx_file

ECB_HISTORY_URL: str = currency_converter.ECB_URL
"""The ECB's full history of reference rates (a zipped CSV of about 600 kB)."""
MAX_BYTES = 64 * 1024 * 1024


class RatesUnavailable(CodeQRError):
    """The ECB could not be reached or sent something unusable; the old rates stay."""

    status_code = 503
    code = "service_unavailable"


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_rates`` installed."""

    path: Path
    first_date: date
    last_date: date
    """The rates now run to this day."""
    previous_last_date: date
    currencies: int


def _in_use(rates: Rates) -> str:
    origin = "shipped with CodeQR" if rates.shipped else f"from {rates.source}"
    return (
        f"the previous exchange rates stay in use (ECB reference rates up to "
        f"{rates.last_date.isoformat()}, {origin})"
    )


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return str(exc) or type(exc).__name__


def _download(url: str, target: Path, timeout: float) -> None:
    with (
        target.open("wb") as out,
        httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response,
    ):
        if response.status_code != 200:
            raise RatesUnavailable(f"HTTP {response.status_code}")
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise RatesUnavailable(f"the answer is larger than {MAX_BYTES} bytes")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def update_rates(data_dir: Path, url: str = ECB_HISTORY_URL, timeout: float = 20) -> UpdateResult:
    """Download the ECB history to ``<data_dir>/fx/eurofxref-hist.zip``, atomically.

    Raises ``RatesUnavailable`` (saying which rates stay in use) when the ECB cannot be
    reached, answers other than 200, or sends a file that is not a newer-or-equal history.
    Running servers keep the rates they loaded at start until they restart.
    """
    current = Rates.load(data_dir)
    target = fx_file(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".eurofxref-", suffix=".part")
    os.close(fd)
    partial = Path(name)
    try:
        try:
            _download(url, partial, timeout)
        except httpx.HTTPError as exc:
            raise RatesUnavailable(
                f"Could not reach the European Central Bank at {url} ({_reason(exc)}); "
                f"{_in_use(current)}."
            ) from exc
        except RatesUnavailable as exc:
            raise RatesUnavailable(
                f"Could not get the rates from the European Central Bank at {url} "
                f"({exc.message}); {_in_use(current)}."
            ) from exc
        try:
            fresh = Rates.from_file(partial)
        except RatesFileError as exc:
            raise RatesUnavailable(
                f"The file from {url} is not an ECB reference rates history ({exc}); "
                f"{_in_use(current)}."
            ) from exc
        if fresh.last_date < current.last_date:
            raise RatesUnavailable(
                f"The file from {url} runs to {fresh.last_date.isoformat()}, older than the "
                f"rates in use; {_in_use(current)}."
            )
        os.replace(partial, target)
        _sync_dir(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return UpdateResult(
        path=target,
        first_date=fresh.first_date,
        last_date=fresh.last_date,
        previous_last_date=current.last_date,
        currencies=len(fresh.currencies),
    )


def _sync_dir(path: Path) -> None:
    # Make the rename itself durable; not every platform can open a directory.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
