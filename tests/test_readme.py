"""The README's first commands do what it says, run as written (issue 18: its first-start
example did not record the click it promised)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.conftest import LiveServer
from tests.factories import make_tenant

README = Path(__file__).parents[1] / "README.md"


def _first_start_commands() -> list[str]:
    """The shell block after "shorten a link and follow it", one command per item."""
    text = README.read_text()
    block = text.split("shorten a link and follow it:", 1)[1].split("```sh\n", 1)[1]
    block = block.split("```", 1)[0]
    lines = (line.strip() for line in block.replace("\\\n", " ").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_first_start_example_records_a_click(server: LiveServer) -> None:
    tenant = make_tenant(server)
    commands = _first_start_commands()
    assert len(commands) == 2
    assert all(c.startswith("curl ") for c in commands)
    answers = []
    for written in commands:
        command = written.replace("localhost:8000", f"127.0.0.1:{server.port}")
        command = command.replace("cq_…", tenant.token)
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
        )
        answers.append(done.stdout)
    link = json.loads(answers[0])
    assert link["key"] == "hello"
    assert re.match(r"HTTP/1\.1 302", answers[1])
    assert "location: https://example.com" in answers[1].lower()
    counted = server.client(tenant.token).get(
        "/api/analytics", params={"event": "clicks", "groupBy": "count", "linkId": link["id"]}
    )
    assert counted.status_code == 200, counted.text
    assert counted.json()["clicks"] == 1
