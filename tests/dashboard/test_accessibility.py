"""Accessibility rules axe-core checks, kept by plain tests: text contrast of the grey used
for secondary text, and a skip link as the first stop of the keyboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import LiveServer

from .helpers import dash

CSS = Path(__file__).parents[2] / "src/codeqr/dashboard/static/dashboard.css"
# The backgrounds grey text sits on: the page, cards, table heads, disabled fields, chips.
BACKGROUNDS = ["var(--bg)", "var(--card)", "#fafbfc", "#f8fafc", "#f1f5f9", "#eef2ff"]


def _luminance(color: str) -> float:
    hex_digits = color.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_helper_knows_the_reported_failure() -> None:
    assert 4.44 <= contrast("#64748b", "#f6f7fb") < 4.45  # issue 18: axe-core said 4.44:1


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_grey_text_reaches_aa_contrast(background: str) -> None:
    css = CSS.read_text()
    variables = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{3,6})", css))
    colour = variables[background[6:-1]] if background.startswith("var(") else background
    ratio = contrast(variables["muted"], colour)
    assert ratio >= 4.5, f"--muted on {background}: {ratio:.2f}:1"


def test_the_first_thing_a_keyboard_reaches_is_a_skip_link(server: LiveServer) -> None:
    owner = dash(server)
    for path in ("/links", "/analytics", "/settings"):
        html = owner.get(path).text
        body = html.split("<body", 1)[1].split(">", 1)[1]
        first = re.search(r"<(a|button|input|select|textarea)\b[^>]*>", body)
        assert first is not None
        assert 'href="#main"' in first.group(0), first.group(0)
        assert 'id="main"' in html
