"""A request id on every answer but the redirect's, in ``X-Request-ID`` and in each log line
of the request; ``CODEQR_LOG_FORMAT=json`` writes those lines as JSON objects."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from codeqr.settings import LogFormat, Settings
from tests.cli.test_commands import CODEQR, _env
from tests.conftest import LiveServer, free_port, wait_until_serving
from tests.factories import make_tenant
from tests.redirect.helpers import CHROME_WINDOWS

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_api_answers_carry_a_generated_request_id(server: LiveServer) -> None:
    client = server.client()
    first, second = client.get("/healthz"), client.get("/api/nope")
    for answer in (first, second):
        assert GENERATED.fullmatch(answer.headers["x-request-id"]), answer.headers
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "given", ["8d3c1f0e-2b7a-4c55-9e61-0f2d9a7b3c41", "a", "nginx.req:42/x=y+z@h", "9" * 128]
)
def test_a_sane_request_id_is_kept(server: LiveServer, given: str) -> None:
    answer = server.client().get("/healthz", headers={"X-Request-ID": given})
    assert answer.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", ["9" * 129, "two words", 'quote"d', "semi;colon", "comma,list", "tab\there", "é"]
)
def test_an_insane_request_id_is_replaced(server: LiveServer, given: str) -> None:
    answer = server.client().get("/healthz", headers=[(b"X-Request-ID", given.encode("utf-8"))])
    assert GENERATED.fullmatch(answer.headers["x-request-id"]), answer.headers


def test_the_fast_receivers_answer_with_a_request_id(server: LiveServer) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    lead = api.post("/api/track/lead", json={"clickId": "", "eventName": "x"})
    webhook = server.client().post(f"/api/stripe/webhook/{tenant.workspace_id}", content=b"{}")
    for answer in (lead, webhook):
        assert answer.status_code >= 400, answer.text  # refused, with the id all the same
        assert GENERATED.fullmatch(answer.headers["x-request-id"]), answer.headers


def test_the_redirect_answers_without_one(server: LiveServer) -> None:
    tenant = make_tenant(server)
    created = server.client(tenant.token).post("/api/links", json={"url": "https://example.com"})
    key = created.json()["key"]
    visit = server.client().get(f"/{key}", headers={"User-Agent": CHROME_WINDOWS})
    assert visit.status_code == 302
    assert "x-request-id" not in visit.headers
    missing = server.client().get("/no-such-key", headers={"X-Request-ID": "abc"})
    assert missing.status_code == 404
    assert "x-request-id" not in missing.headers


def test_json_log_lines_carry_the_request_id_of_the_answer(
    settings: Settings, tmp_path: Path
) -> None:
    """``codeqr serve`` with JSON logs and Redis out of reach: the readiness probe and a QR
    request each log a warning, as one JSON object with the id their answer carries."""
    port = free_port()
    output = tmp_path / "stdout.log"
    env = {
        **_env(settings),
        "CODEQR_LOG_FORMAT": LogFormat.json.value,
        "CODEQR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    with output.open("w") as out:
        proc = subprocess.Popen(
            [CODEQR, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base)
        probe = httpx.get(f"{base}/readyz", headers={"X-Request-ID": "lb-probe-0001"})
        assert probe.status_code == 503
        qr = httpx.get(f"{base}/api/qr", params={"url": "https://example.com"})
        assert qr.status_code == 200
        # uvicorn's own warning about a request it cannot parse: JSON on the same stream.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"NOT HTTP\r\n\r\n")
            sock.recv(1024)
        lines = _json_lines(
            output,
            wanted={
                "health.unready",
                "ratelimit.redis.unreachable",
                "Invalid HTTP request received.",
            },
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    unready, fell_back = lines["health.unready"], lines["ratelimit.redis.unreachable"]
    assert unready["request_id"] == probe.headers["x-request-id"] == "lb-probe-0001"
    assert unready["level"] == "warning"
    assert unready["failed"] == ["redis"]
    assert fell_back["request_id"] == qr.headers["x-request-id"]
    assert GENERATED.fullmatch(fell_back["request_id"])
    invalid = lines["Invalid HTTP request received."]
    assert (invalid["logger"], invalid["level"]) == ("uvicorn.error", "warning")
    for line in lines.values():
        assert line["timestamp"].endswith("Z")


def _json_lines(output: Path, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The first JSON log line of each wanted event (every log line must parse)."""
    deadline = time.monotonic() + 5
    while True:
        found: dict[str, dict[str, Any]] = {}
        for text in output.read_text().splitlines():
            if not text.startswith("{"):
                continue  # the start-up banner (plain text for the person who started it)
            line = json.loads(text)
            found.setdefault(line["event"], line)
        if wanted <= found.keys():
            return found
        assert time.monotonic() < deadline, (wanted, output.read_text())
        time.sleep(0.05)
