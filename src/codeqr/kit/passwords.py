"""Password and secret hashing: argon2id for what people choose, SHA-256 for random tokens."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password chosen by a person."""
    return _hasher.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches an argon2 hash; never raises on a mismatch."""
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """SHA-256 of a random, high-entropy token (API keys): fast lookup, nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()
