"""Checking ``Stripe-Signature`` with the official library: on a webhook's raw body, and on
what the Stripe App's UI signs for its backend (``fetchStripeSignature``)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import stripe

from codeqr.kit.errors import BadRequest, Forbidden


class BadSignature(BadRequest):
    """400: the event's signature is missing, wrong, stale, or cannot be checked."""


def verify(payload: bytes, header: str | None, secrets: Sequence[str], tolerance: int) -> None:
    """Accept the body when any ``v1`` signature matches one of ``secrets`` within
    ``tolerance`` seconds either side of now; 400 otherwise (nothing is stored for a
    rejected event). The body must already be known to be UTF-8 (``shape.text``)."""
    if not header:
        raise BadSignature("Missing Stripe-Signature header.")
    if not secrets:
        raise BadSignature("No webhook signing secret is configured for this endpoint.")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        _not_ahead(header, tolerance)
        return
    raise BadSignature(
        "Invalid Stripe-Signature: no v1 signature matches this endpoint's signing secret "
        f"within {tolerance} seconds."
    )


def _not_ahead(header: str, tolerance: int) -> None:
    """Refuse a signature dated more than ``tolerance`` seconds ahead: the library only
    refuses old ones, and a signature made for the future would replay for as long."""
    # The library verified the header, so its first ``t`` is an integer; it is the one the
    # library signed with (it reads the first one too).
    items = [item.split("=", 2) for item in header.split(",")]
    stamp = int(next(item[1] for item in items if item[0] == "t"))
    if stamp > time.time() + tolerance:
        raise BadSignature(
            f"Invalid Stripe-Signature: its timestamp is more than {tolerance} seconds in the "
            "future."
        )


def verify_app_user(
    header: str | None, user_id: str | None, account_id: str, secret: str | None, tolerance: int
) -> None:
    """403 unless ``header`` is the Stripe App's signature, made by Stripe with the app's
    signing secret, of ``{"user_id": …, "account_id": …}``: proof that a user signed in to
    ``account_id``'s Stripe Dashboard sent the request (an OAuth token alone proves only who
    consented on CodeQR's side, not which Stripe account is theirs)."""
    if not secret:
        raise Forbidden(
            "The Stripe App cannot bind accounts here: CODEQR_STRIPE_APP_SIGNING_SECRET "
            "is not configured."
        )
    if not header or not user_id:
        raise Forbidden(
            "The Stripe App binds an account with stripeUserId and the Stripe-Signature "
            "header its fetchStripeSignature() returned."
        )
    payload = json.dumps({"user_id": user_id, "account_id": account_id}, separators=(",", ":"))
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        _not_ahead(header, tolerance)
    except (stripe.SignatureVerificationError, BadSignature):
        raise Forbidden(
            f"Stripe-Signature does not show that Stripe user {user_id} signed in to "
            f"{account_id} sent this request (or it is older than {tolerance} seconds)."
        ) from None
