"""The CLI contract others script against: every creating command prints JSON with --json."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from codeqr.settings import Settings
from tests.conftest import free_port, wait_until_serving

CODEQR = str(Path(sys.executable).with_name("codeqr"))


def _env(settings: Settings) -> dict[str, str]:
    """The environment of a ``codeqr`` process on the test's data directory and database."""
    env = {**os.environ, "CODEQR_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["CODEQR_DATABASE_URL"] = settings.database_url
    return env


def run(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``codeqr`` with the test's data directory and database."""
    return subprocess.run(
        [CODEQR, *args], env=_env(settings), capture_output=True, text=True, timeout=60, check=check
    )


def serve(settings: Settings, port: int) -> subprocess.Popen[str]:
    """``codeqr serve`` on 127.0.0.1:``port`` as a subprocess, its output on ``stdout``."""
    return subprocess.Popen(
        [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_json(settings: Settings, *args: str) -> dict[str, object]:
    result = run(settings, *args, "--json")
    return dict(json.loads(result.stdout))


def test_scripted_setup_creates_a_working_workspace(settings: Settings) -> None:
    """users → workspaces → keys → links, each answering JSON; the key works over HTTP."""
    user = run_json(
        settings, "users", "create", "--email", "ada@example.com", "--password", "analytical engine"
    )
    assert user["email"] == "ada@example.com"
    ws = run_json(
        settings,
        "workspaces",
        "create",
        "--name",
        "Ada",
        "--slug",
        "ada",
        "--owner",
        "ada@example.com",
        "--plan",
        "business",
    )
    assert ws["plan"] == "business"
    key = run_json(settings, "keys", "create", "--workspace", "ada")
    assert str(key["key"]).startswith("cq_")
    assert not str(key["key"]).startswith("cq_pk_")
    pk = run_json(settings, "keys", "create", "--workspace", "ada", "--publishable")
    assert str(pk["key"]).startswith("cq_pk_")
    link = run_json(
        settings,
        "links",
        "create",
        "--workspace",
        "ada",
        "--url",
        "https://example.com/guide",
        "--key",
        "guide",
        "--track-conversion",
    )
    assert link["key"] == "guide"
    assert link["trackConversion"] is True
    assert str(link["shortLink"]).endswith("/guide")
    moved = run_json(settings, "workspaces", "set-plan", "ada", "pro")
    assert moved["plan"] == "pro"


def test_errors_are_reported_without_a_traceback(settings: Settings) -> None:
    """A duplicate slug or an unknown plan exits 1 with one readable line."""
    run(settings, "users", "create", "--email", "bo@example.com", "--password", "long enough")
    run(
        settings, "workspaces", "create", "--name", "B", "--slug", "bo", "--owner", "bo@example.com"
    )
    dup = run(
        settings,
        "workspaces",
        "create",
        "--name",
        "B",
        "--slug",
        "bo",
        "--owner",
        "bo@example.com",
        check=False,
    )
    assert dup.returncode == 1
    assert "already in use" in dup.stderr
    assert "Traceback" not in dup.stderr
    bad = run(settings, "workspaces", "set-plan", "bo", "platinum", check=False)
    assert bad.returncode == 1
    assert "unknown plan" in bad.stderr


def test_client_sales_are_turned_on_with_a_maximum_and_off(settings: Settings) -> None:
    """``workspaces set-client-sales SLUG on|off [--max N]``; on needs a maximum."""
    run(settings, "users", "create", "--email", "cy@example.com", "--password", "long enough")
    run(
        settings, "workspaces", "create", "--name", "C", "--slug", "cy", "--owner", "cy@example.com"
    )
    refused = run(settings, "workspaces", "set-client-sales", "cy", "on", check=False)
    assert refused.returncode == 1
    assert "clientSaleMax: required" in refused.stderr
    on = run_json(settings, "workspaces", "set-client-sales", "cy", "on", "--max", "50000")
    assert (on["clientSalesEnabled"], on["clientSaleMax"], on["currency"]) == (True, 50000, "USD")
    off = run_json(settings, "workspaces", "set-client-sales", "cy", "off")
    assert (off["clientSalesEnabled"], off["clientSaleMax"]) == (False, 50000)
    wrong = run(settings, "workspaces", "set-client-sales", "cy", "maybe", check=False)
    assert wrong.returncode == 2


@pytest.mark.slow
def test_first_start_prints_credentials_that_work(settings: Settings) -> None:
    """``codeqr serve`` on an empty instance creates an owner, a business workspace and a key."""
    port = free_port()
    proc = serve(settings, port)
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "API key:" in line:
                break
        output = "".join(lines)
        assert f"http://localhost:{port}/" in output
        assert "owner@codeqr.local" in output
        token = next(line.split()[2] for line in lines if "API key:" in line)
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, proc)
        response = httpx.post(
            f"{base}/api/links",
            headers={"Authorization": f"Bearer {token}"},
            json={"url": "https://example.com", "trackConversion": True},
        )
        assert response.status_code == 200, response.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.sqlite_only
def test_the_data_directory_and_database_are_private(settings: Settings) -> None:
    run(settings, "migrate")
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((settings.data_dir / "codeqr.db").stat().st_mode) == 0o600
