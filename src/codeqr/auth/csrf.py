"""CSRF tokens for dashboard forms, derived with HMAC so nothing more has to be stored.

A signed-in form carries ``HMAC(key, session token)``: only a page served to the holder of
the session cookie can know it. The sign-in form, which has no session yet, carries
``HMAC(key, nonce)`` where the nonce sits in a cookie of its own (a signed double submit):
another site can neither read that cookie nor compute the token without the server's key,
so it cannot sign a visitor into an account of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

_SESSION = b"codeqr.csrf.session\0"
_LOGIN = b"codeqr.csrf.login\0"


class CsrfKeys:
    """Makes and checks the two kinds of form token from the instance's secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"codeqr.auth.csrf\0" + secret.encode()).digest()

    def _mac(self, purpose: bytes, value: str) -> str:
        return hmac.new(self._key, purpose + value.encode(), hashlib.sha256).hexdigest()

    def for_session(self, session_token: str) -> str:
        """The token that forms of a signed-in session carry."""
        return self._mac(_SESSION, session_token)

    def check_session(self, session_token: str, submitted: str) -> bool:
        """Whether a submitted form token belongs to this session."""
        return hmac.compare_digest(self.for_session(session_token), submitted)

    def for_login(self, nonce: str) -> str:
        """The token of the sign-in form shown to the browser holding ``nonce``."""
        return self._mac(_LOGIN, nonce)

    def check_login(self, nonce: str, submitted: str) -> bool:
        """Whether a submitted sign-in form was served to the browser holding ``nonce``."""
        return bool(nonce) and hmac.compare_digest(self.for_login(nonce), submitted)


def new_nonce() -> str:
    """A random value for the pre-session cookie."""
    return secrets.token_urlsafe(24)


@lru_cache(maxsize=8)
def csrf_keys(secret: str) -> CsrfKeys:
    """The keys of an instance secret, derived once."""
    return CsrfKeys(secret)
