"""Refreshing the ECB rates: served by a local HTTP server, and really offline."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codeqr.money.fx import RatesUnavailable, update_rates
from codeqr.money.rates import SHIPPED_FILE, Rates, fx_file
from tests.conftest import free_port

Routes = dict[str, tuple[int, bytes]]


@contextmanager
def serving(routes: Routes) -> Iterator[str]:
    """A local HTTP server answering ``path → (status, body)``; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            thread.join(timeout=10)


def zipped(csv_text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref-hist.csv", csv_text)
    return buffer.getvalue()


def newer_history(days: int = 3) -> tuple[bytes, str]:
    """The shipped history with one more day on top; the new day's ISO date."""
    with zipfile.ZipFile(SHIPPED_FILE) as archive:
        header, latest, rest = archive.read(archive.namelist()[0]).decode().split("\n", 2)
    last = latest.split(",", 1)
    day = (Rates.from_file(SHIPPED_FILE).last_date + timedelta(days=days)).isoformat()
    text = "\n".join([header, f"{day},{last[1]}", latest, rest])
    return zipped(text), day


def leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in fx_file(data_dir).parent.glob("*") if p.name.endswith(".part"))


def test_the_shipped_file_served_locally_installs(tmp_path: Path) -> None:
    with serving({"/hist.zip": (200, SHIPPED_FILE.read_bytes())}) as base:
        result = update_rates(tmp_path, f"{base}/hist.zip")
    shipped = Rates.from_file(SHIPPED_FILE)
    assert result.last_date == result.previous_last_date == shipped.last_date
    assert result.path == fx_file(tmp_path)
    assert fx_file(tmp_path).read_bytes() == SHIPPED_FILE.read_bytes()
    assert Rates.load(tmp_path).source == fx_file(tmp_path)
    assert leftovers(tmp_path) == []


def test_newer_rates_are_used_from_then_on(tmp_path: Path) -> None:
    body, day = newer_history()
    with serving({"/hist.zip": (200, body)}) as base:
        result = update_rates(tmp_path, f"{base}/hist.zip")
    assert result.last_date.isoformat() == day
    loaded = Rates.load(tmp_path)
    assert loaded.last_date.isoformat() == day
    conversion = loaded.convert(100, "EUR", "USD", result.last_date + timedelta(days=1))
    assert conversion is not None
    assert conversion.rate_date.isoformat() == day


def test_offline_says_the_ecb_is_unreachable_and_which_rates_stay(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/eurofxref-hist.zip"  # nothing listens there
    with pytest.raises(RatesUnavailable) as caught:
        update_rates(tmp_path, url, timeout=5)
    message = caught.value.message
    shipped = Rates.from_file(SHIPPED_FILE).last_date.isoformat()
    assert message.startswith(f"Could not reach the European Central Bank at {url} (")
    assert "stay in use" in message
    assert f"up to {shipped}, shipped with CodeQR" in message
    assert not fx_file(tmp_path).exists()
    assert leftovers(tmp_path) == []


def test_a_name_that_does_not_resolve_is_reported_the_same_way(tmp_path: Path) -> None:
    with pytest.raises(RatesUnavailable, match="Could not reach the European Central Bank"):
        update_rates(tmp_path, "http://ecb.invalid/eurofxref-hist.zip", timeout=5)


def test_a_failed_update_keeps_the_previous_refresh(tmp_path: Path) -> None:
    body, day = newer_history()
    with serving({"/hist.zip": (200, body), "/junk.zip": (200, b"<html>maintenance</html>")}) as b:
        update_rates(tmp_path, f"{b}/hist.zip")
        with pytest.raises(RatesUnavailable) as missing:
            update_rates(tmp_path, f"{b}/gone.zip")
        with pytest.raises(RatesUnavailable) as junk:
            update_rates(tmp_path, f"{b}/junk.zip")
    assert "HTTP 404" in missing.value.message
    assert "not an ECB reference rates history" in junk.value.message
    for message in (missing.value.message, junk.value.message):
        assert f"up to {day}, from {fx_file(tmp_path)}" in message
    assert fx_file(tmp_path).read_bytes() == body
    assert leftovers(tmp_path) == []


def test_an_older_history_does_not_replace_newer_rates(tmp_path: Path) -> None:
    old = zipped("Date,USD,JPY,\n2020-01-02,1.1,120,\n")
    with serving({"/old.zip": (200, old)}) as base, pytest.raises(RatesUnavailable) as caught:
        update_rates(tmp_path, f"{base}/old.zip")
    assert "runs to 2020-01-02, older than the rates in use" in caught.value.message
    assert not fx_file(tmp_path).exists()
