"""The repository stands on its own (issue: a plain clone passes ``make test``): no test,
benchmark or module reaches for a path outside the checkout."""

from __future__ import annotations

import re
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
