"""Destination rules: http(s) only, UTM parameters folded in without touching the rest."""

from __future__ import annotations

import pytest

from codeqr.kit.errors import Unprocessable
from codeqr.link.urls import normalize_url, utm_of, with_utm


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
        ("http://example.com", "http://example.com"),
        ("example.com/path", "https://example.com/path"),
        ("  https://example.com  ", "https://example.com"),
        ("HTTPS://Example.com/", "HTTPS://Example.com/"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_accepted_destinations(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("javascript:alert(1)", "only http and https"),
        ("JavaScript://%0Aalert(1)", "only http and https"),
        ("ftp://example.com/file", "only http and https"),
        ("data:text/html,<b>x</b>", "only http and https"),
        ("mailto:someone@example.com", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("https://", "no host"),
        ("https://exa mple.com", "spaces or control"),
        ("https://example.com/\x00", "spaces or control"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
        ("", "must not be empty"),
    ],
)
def test_refused_destinations_name_the_field(given: str, why: str) -> None:
    with pytest.raises(Unprocessable) as exc:
        normalize_url(given, "expiredUrl")
    assert exc.value.message.startswith("expiredUrl: ")
    assert why in exc.value.message


def test_with_utm_rewrites_only_utm_pairs() -> None:
    url = "https://example.com/p?a=1%202&flag&utm_source=old#frag"
    assert (
        with_utm(url, {"utm_source": "new one", "utm_medium": None})
        == "https://example.com/p?a=1%202&flag&utm_source=new+one#frag"
    )
    assert with_utm(url, {}) == url
    assert with_utm("https://example.com", {"utm_term": "x&y"}) == (
        "https://example.com?utm_term=x%26y"
    )


def test_utm_of_reads_the_query() -> None:
    assert utm_of("https://e.com/?utm_source=a+b&utm_medium=&x=1") == {
        "utm_source": "a b",
        "utm_medium": None,
        "utm_campaign": None,
        "utm_term": None,
        "utm_content": None,
    }
    with pytest.raises(Unprocessable, match="utm_content"):
        utm_of("https://e.com/?utm_content=" + "x" * 191)
    with pytest.raises(Unprocessable, match="NUL"):
        utm_of("https://e.com/?utm_source=%00")
