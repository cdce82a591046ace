"""Random identifiers: base62 keys, click ids and prefixed object ids."""

from __future__ import annotations

import os
import string

ALPHABET = string.digits + string.ascii_letters
_ALPHABET_BYTES = ALPHABET.encode()
# 248 = 4 * 62: bytes at or above it are dropped so every character is equally likely.
_LIMIT = 248


def base62(length: int) -> str:
    """``length`` characters drawn uniformly from [0-9A-Za-z] by the OS's random source."""
    out = bytearray()
    while len(out) < length:
        for byte in os.urandom(length + 8):
            if byte < _LIMIT:
                out.append(_ALPHABET_BYTES[byte % 62])
                if len(out) == length:
                    break
    return out.decode()


def new_id(prefix: str, length: int = 24) -> str:
    """An object id such as ``link_…`` or ``ws_…``."""
    return f"{prefix}_{base62(length)}"


def click_id() -> str:
    """A click id: 16 base62 characters (about 95 bits)."""
    return base62(16)


def is_base62(value: str) -> bool:
    """Whether every character of a non-empty string is in [0-9A-Za-z]."""
    return bool(value) and all(c in ALPHABET for c in value)
