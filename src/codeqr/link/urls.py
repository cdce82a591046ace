"""Destination URL rules: only http(s), UTM parameters folded into the query."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlsplit, urlunsplit

from codeqr.kit.errors import Unprocessable

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
UTM_MAX = 190


def normalize_url(value: str, field: str = "url") -> str:
    """A destination with a scheme; 422 for anything but an http(s) URL with a host."""
    value = value.strip()
    if not value:
        raise Unprocessable(f"{field}: must not be empty")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise Unprocessable(f"{field}: must not contain spaces or control characters")
    if "://" not in value and ":" not in value.split("/", 1)[0]:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as exc:
        raise Unprocessable(f"{field}: {value[:100]!r} is not a valid URL ({exc})") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise Unprocessable(
            f"{field}: only http and https URLs are allowed, got {parts.scheme[:20]!r}"
        )
    if not parts.hostname:
        raise Unprocessable(f"{field}: {value[:100]!r} is not a valid URL (no host)")
    return value


def _name(pair: str) -> str:
    return unquote_plus(pair.split("=", 1)[0])


def with_utm(url: str, utm: dict[str, str | None]) -> str:
    """``url`` with the given UTM parameters set (``None`` removes one).

    The rest of the query is kept byte for byte: only the UTM pairs are rewritten.
    """
    if not utm:
        return url
    parts = urlsplit(url)
    pairs = [p for p in parts.query.split("&") if p and _name(p) not in utm]
    pairs += [f"{k}={quote_plus(v)}" for k, v in utm.items() if v]
    return urlunsplit(parts._replace(query="&".join(pairs)))


def utm_of(url: str) -> dict[str, str | None]:
    """The UTM parameters a destination carries; 422 when one is too long to keep."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    out: dict[str, str | None] = {}
    for name in UTM_FIELDS:
        value = query.get(name) or None
        if value is not None and len(value) > UTM_MAX:
            raise Unprocessable(f"url: {name} is longer than {UTM_MAX} characters")
        if value is not None and "\x00" in value:
            raise Unprocessable(f"url: {name} must not contain NUL characters")
        out[name] = value
    return out
