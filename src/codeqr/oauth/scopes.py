"""What an app may be granted; a request without ``scope`` gets all of them."""

from __future__ import annotations

from codeqr.oauth.errors import AuthorizeError

USER_READ = "user.read"
WORKSPACE_READ = "workspace.read"
STRIPE_WRITE = "stripe.write"

SCOPES: dict[str, str] = {
    USER_READ: "See your name and email address",
    WORKSPACE_READ: "See the workspace's name, slug and plan",
    STRIPE_WRITE: "Connect a Stripe account to the workspace and record its payments",
}
"""Every scope and the sentence the consent page shows for it, in display order."""


def parse_scope(value: str | None) -> tuple[str, ...]:
    """The scopes of a space-separated ``scope`` parameter, in canonical order.

    Empty means every scope; an unknown one is ``invalid_scope``.
    """
    asked = set((value or "").split())
    if not asked:
        return tuple(SCOPES)
    unknown = sorted(asked - SCOPES.keys())
    if unknown:
        raise AuthorizeError("invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
    return tuple(name for name in SCOPES if name in asked)
