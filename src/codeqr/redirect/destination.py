"""Where a click goes: device and geo targets, the visitor's query, the click id (SPEC §3.2)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from codeqr.redirect.cache import Route

RESERVED = frozenset({"cq_id", "client_reference_id", "codeqr_client_reference_id", "qr"})
PAYMENT_LINK_MARKER = "codeqr_client_reference_id"
CLIENT_REFERENCE_PREFIX = "codeqr_id_"


def target_url(route: Route, mobile_os: str | None, country: str | None) -> str | None:
    """The device or geo target that applies, or ``None`` for the link's own URL."""
    if mobile_os == "ios" and route.ios:
        return route.ios
    if mobile_os == "android" and route.android:
        return route.android
    if route.geo and country and country in route.geo:
        return route.geo[country]
    return None


def build_location(
    route: Route, target: str | None, visitor_query: str, click_id: str | None
) -> str:
    """The ``Location`` of the 302.

    The visitor's parameters are merged on top of the destination's own (visitor wins) but
    never the reserved ones; with a click id, a Stripe Payment Link marker turns into
    ``client_reference_id=codeqr_id_<id>``, anything else gets ``cq_id=<id>``.
    """
    if target is None:
        if not visitor_query:
            if click_id is None:
                return route.url
            if not any(name in RESERVED for name, _ in route.query):
                # The common tracked click: append the id to the destination as written.
                joiner = "&" if route.raw_query else ""
                location = f"{route.base}?{route.raw_query}{joiner}cq_id={click_id}"
                return f"{location}#{route.fragment}" if route.fragment else location
        base, pairs, fragment = route.base, list(route.query), route.fragment
    else:
        parts = urlsplit(target)
        base = parts._replace(query="", fragment="").geturl()
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        fragment = parts.fragment
    # Lists keep a destination's repeated parameters (``?size=s&size=m``) intact.
    merged: dict[str, list[str]] = {}
    marker = False
    for name, value in pairs:
        if name == PAYMENT_LINK_MARKER:
            marker = marker or value == "1"
            continue
        if name in RESERVED and click_id is not None:
            continue
        merged.setdefault(name, []).append(value)
    if visitor_query:
        visitor: dict[str, list[str]] = {}
        for name, value in parse_qsl(visitor_query, keep_blank_values=True):
            if name not in RESERVED:
                visitor.setdefault(name, []).append(value)
        merged.update(visitor)
    if click_id is not None:
        if marker:
            merged["client_reference_id"] = [CLIENT_REFERENCE_PREFIX + click_id]
        else:
            merged["cq_id"] = [click_id]
    elif marker:
        merged[PAYMENT_LINK_MARKER] = ["1"]
    location = base
    if merged:
        location += "?" + urlencode(merged, doseq=True)
    if fragment:
        location += "#" + fragment
    return location
