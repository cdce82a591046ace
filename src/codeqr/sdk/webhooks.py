"""Checking that a webhook delivery came from CodeQR (standard library only).

Every delivery carries ``CodeQR-Timestamp`` (Unix seconds) and ``CodeQR-Signature``: the
lowercase hex HMAC-SHA256, keyed with the endpoint's ``whsec_…`` secret (its UTF-8 bytes,
prefix included), of ``<timestamp>.<raw body>``. Verify on the raw bytes received, before
parsing them, and refuse old timestamps (a replayed delivery)::

    from codeqr.sdk.webhooks import verify

    if not verify(secret, request.body, request.headers):
        return 400
    event = json.loads(request.body)  # dedupe on event["id"]
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "CodeQR-Signature"
TIMESTAMP_HEADER = "CodeQR-Timestamp"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``body`` was signed with ``secret`` less than ``tolerance`` seconds ago.

    ``headers`` is looked up case-insensitively when it is a plain ``dict``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    sent = lowered.get(SIGNATURE_HEADER.lower(), "")
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    if not sent or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), sent.strip().lower())
