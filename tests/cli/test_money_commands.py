"""``codeqr fx update`` and the workspace settings commands, run as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from codeqr.cli.main import app
from codeqr.money.rates import SHIPPED_FILE, Rates, fx_file
from codeqr.settings import Settings
from tests.conftest import free_port
from tests.money.test_fx_update import newer_history, serving

from .test_commands import run, run_json


def test_set_currency_and_hostnames(settings: Settings) -> None:
    email = "hosts@example.com"
    run(settings, "users", "create", "--email", email, "--password", "long enough pw")
    run(settings, "workspaces", "create", "--name", "H", "--slug", "hosts", "--owner", email)
    assert run_json(settings, "workspaces", "set-currency", "hosts", "jpy")["currency"] == "JPY"
    bad = run(settings, "workspaces", "set-currency", "hosts", "xyz", check=False)
    assert bad.returncode == 1
    assert "currency: 'xyz' is not an ISO 4217 currency code" in bad.stderr
    assert "Traceback" not in bad.stderr
    out = run_json(settings, "workspaces", "set-hostnames", "hosts", "Example.com", "*.example.com")
    assert out["allowedHostnames"] == ["example.com", "*.example.com"]
    bad = run(settings, "workspaces", "set-hostnames", "hosts", "https://x.com", check=False)
    assert bad.returncode == 1
    assert "allowedHostnames: 'https://x.com' is not a hostname" in bad.stderr
    assert "Traceback" not in bad.stderr


# ``fx update`` touches no database: driven in-process, it needs no 4-second start-up.


def fx_update(settings: Settings, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        app, ["fx", "update", *args], env={"CODEQR_DATA_DIR": str(settings.data_dir)}
    )
    return result.exit_code, result.stdout, result.stderr


def test_fx_update_from_a_local_server(settings: Settings) -> None:
    body, day = newer_history()
    with serving({"/hist.zip": (200, body)}) as base:
        code, stdout, _ = fx_update(settings, "--url", f"{base}/hist.zip", "--json")
        assert code == 0
        out = json.loads(stdout)
        code, plain, _ = fx_update(settings, "--url", f"{base}/hist.zip")
        assert code == 0
    assert out["lastDate"] == day
    assert out["previousLastDate"] == Rates.from_file(SHIPPED_FILE).last_date.isoformat()
    assert Path(out["path"]) == fx_file(settings.data_dir)
    assert Rates.load(settings.data_dir).last_date.isoformat() == day
    assert plain.startswith(f"Exchange rates now run to {day}")


def test_fx_update_offline_exits_1_with_a_clear_message(settings: Settings) -> None:
    url = f"http://127.0.0.1:{free_port()}/eurofxref-hist.zip"
    code, stdout, stderr = fx_update(settings, "--url", url, "--json")
    assert code == 1
    assert stdout == ""
    shipped = Rates.from_file(SHIPPED_FILE).last_date.isoformat()
    assert stderr.startswith("error: Could not reach the European Central Bank")
    assert f"stay in use (ECB reference rates up to {shipped}" in stderr
    assert not fx_file(settings.data_dir).exists()


def test_fx_update_offline_as_a_real_command(settings: Settings) -> None:
    url = f"http://127.0.0.1:{free_port()}/eurofxref-hist.zip"
    result = run(settings, "fx", "update", "--url", url, check=False)
    assert result.returncode == 1
    assert "Could not reach the European Central Bank" in result.stderr
    assert "Traceback" not in result.stderr
