"""Password and secret hashing: argon2id for what people choose, SHA-256 for random tokens."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from codeqr.kit.errors import RateLimited

_hasher = PasswordHasher()
# Each argon2 hash takes 64 MiB for its run: at most this many at once, so a burst of
# sign-ins or link-password guesses costs time, not memory (80 at once took 1.5 GiB).
HASHING_AT_ONCE = max(2, min(8, os.cpu_count() or 2))
HASHING_WAIT_S = 10.0
_hashing = threading.BoundedSemaphore(HASHING_AT_ONCE)


@contextmanager
def _hash_slot() -> Iterator[None]:
    if not _hashing.acquire(timeout=HASHING_WAIT_S):
        raise RateLimited(
            "Too many password checks at once; retry in a few seconds.",
            headers={"Retry-After": "5"},
        )
    try:
        yield
    finally:
        _hashing.release()


def hash_password(password: str) -> str:
    """An argon2id hash of a password chosen by a person."""
    with _hash_slot():
        return _hasher.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches an argon2 hash; never raises on a mismatch."""
    with _hash_slot():
        try:
            return _hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False


def hash_token(token: str) -> str:
    """SHA-256 of a random, high-entropy token (API keys): fast lookup, nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()
