"""Destination URL rules: only http(s), UTM parameters folded into the query."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from codeqr.kit.errors import Unprocessable

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def normalize_url(value: str, field: str = "url") -> str:
    """A destination with a scheme; 422 for anything but an http(s) URL with a host."""
    value = value.strip()
    if not value:
        raise Unprocessable(f"{field}: must not be empty")
    if "://" not in value and ":" not in value.split("/", 1)[0]:
        value = "https://" + value
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise Unprocessable(f"{field}: {value!r} is not a valid URL") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise Unprocessable(f"{field}: only http and https URLs are allowed, got {parts.scheme!r}")
    if not parts.hostname or any(c.isspace() for c in value):
        raise Unprocessable(f"{field}: {value!r} is not a valid URL")
    return value


def with_utm(url: str, utm: dict[str, str | None]) -> str:
    """``url`` with the given UTM parameters set (``None`` removes one)."""
    if not utm:
        return url
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in utm]
    pairs += [(k, v) for k, v in utm.items() if v]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def utm_of(url: str) -> dict[str, str | None]:
    """The UTM parameters a destination carries."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return {name: query.get(name) for name in UTM_FIELDS}
