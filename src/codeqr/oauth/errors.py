"""OAuth failures, in the shapes RFC 6749 prescribes rather than the API's error envelope.

::

    OAuthError           the token endpoint's ``{"error", "error_description"}``, 400
    └── InvalidClient    ``invalid_client``, 401
    AuthorizeError       sent back to the client's redirect URI (RFC 6749 §4.1.2.1)
    ClientRejected       unknown client or unregistered redirect URI: an error page, never
                         a redirect (the URI could be anyone's)
"""

from __future__ import annotations

from typing import Any


class OAuthError(Exception):
    """An RFC 6749 §5.2 error of the token endpoint."""

    status_code = 400

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {"error": self.error, "error_description": self.description}


class InvalidClient(OAuthError):
    """Client authentication failed (unknown client, wrong or missing secret)."""

    status_code = 401

    def __init__(self, description: str = "Client authentication failed.") -> None:
        super().__init__("invalid_client", description)


class AuthorizeError(Exception):
    """An authorization request error the client hears about at its redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class ClientRejected(Exception):
    """The client or its redirect URI cannot be trusted: shown to the user, not redirected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
