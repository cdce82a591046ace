"""Checking ``Stripe-Signature`` on the raw body, with the official library."""

from __future__ import annotations

from collections.abc import Sequence

import stripe

from codeqr.kit.errors import BadRequest


def verify(payload: bytes, header: str | None, secrets: Sequence[str], tolerance: int) -> None:
    """Accept the body when any ``v1`` signature matches one of ``secrets`` within
    ``tolerance`` seconds; 400 otherwise (nothing is stored for a rejected event)."""
    if not header:
        raise BadRequest("Missing Stripe-Signature header.")
    if not secrets:
        raise BadRequest("No webhook signing secret is configured for this endpoint.")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        return
    raise BadRequest(
        "Invalid Stripe-Signature: no v1 signature matches this endpoint's signing secret "
        f"within {tolerance} seconds."
    )
