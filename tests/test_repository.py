"""The repository stands on its own (issue: a plain clone passes ``make test``): no test,
benchmark or module reaches for a path outside the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    path
    for folder in ("src", "tests", "bench", "scripts", ".ci")
    for path in sorted((ROOT / folder).rglob("*"))
    if path.is_file()
    and path.suffix in {".py", ".lua", ".js", ".sh", ""}
    and "fixtures" not in path.parts
    and "vendor" not in path.parts
    and "__pycache__" not in path.parts
]
# ``Path(__file__).resolve().parents[N].parent…`` chains, resolved from the file that writes them.
PARENTS = re.compile(r"__file__\)\.resolve\(\)(?:\.parents\[(\d+)\])?((?:\.parent\b)*)")
OUTSIDE = re.compile(r"""["'](?:\.\./)+shared|/ ["']shared["']|["']/(?:work|root|home)/""")


def test_sources_are_found() -> None:
    assert len(SOURCES) > 100
    assert ROOT / "tests" / "conftest.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_leaves_the_repository(path: Path) -> None:
    text = path.read_text(errors="replace")
    assert not OUTSIDE.findall(text), "names a folder outside the repository"
    for match in PARENTS.finditer(text):
        index, chain = match.groups()
        ups = (int(index) + 1 if index is not None else 0) + chain.count(".parent")
        target = path.resolve()
        for _ in range(ups):
            target = target.parent
        assert target == ROOT or ROOT in target.parents, f"{match.group(0)} leaves the repository"


def test_fixtures_are_committed_byte_for_byte() -> None:
    """The signed Stripe events are signed as stored: git must not rewrite their bytes."""
    attributes = (ROOT / ".gitattributes").read_text()
    assert "tests/fixtures/** -text" in attributes
    event = ROOT / "tests/fixtures/stripe/events/checkout.session.completed.json"
    assert not event.read_bytes().endswith(b"\n")


def _planned(target: str, venv: Path) -> str:
    """What ``make TARGET`` would run on a machine without a virtualenv yet (a dry run)."""
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_serve_installs_the_runtime_only_and_test_everything(tmp_path: Path) -> None:
    """``make serve`` must not pull in pytest, Playwright, mypy and ruff (issue 18)."""
    serve = _planned("serve", tmp_path / "venv")
    sync = [line for line in serve.splitlines() if " sync " in line]
    assert len(sync) == 1, serve
    assert "--no-dev" in sync[0]
    assert "--all-groups" not in sync[0]
    assert f"{tmp_path / 'venv'}/bin/codeqr serve" in serve
    test = _planned("test", tmp_path / "venv")
    assert any(" sync " in line and "--all-groups" in line for line in test.splitlines()), test
