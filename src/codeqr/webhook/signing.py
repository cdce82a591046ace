"""The headers that sign a delivery (the scheme is ``codeqr.sdk.webhooks``'s, which
receivers use to check it; ``docs/webhooks.md`` describes it)."""

from __future__ import annotations

import hashlib
import hmac
import time

from codeqr.sdk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

EVENT_ID_HEADER = "CodeQR-Event-Id"
EVENT_HEADER = "CodeQR-Event"
DUB_SIGNATURE_HEADER = "Dub-Signature"
"""Dub's header: hex HMAC-SHA256 of the body alone, for receivers written for Dub. It has
no timestamp, so it cannot refuse a replay: prefer ``CodeQR-Signature``."""


def headers_for(
    secret: str, body: bytes, *, event_id: str, event: str, now: float | None = None
) -> dict[str, str]:
    """The headers of one attempt: signed at the time of sending."""
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        "User-Agent": "CodeQR-Webhooks/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        DUB_SIGNATURE_HEADER: hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        EVENT_ID_HEADER: event_id,
        EVENT_HEADER: event,
    }
