"""Random identifiers: base62 keys, click ids and prefixed object ids."""

from __future__ import annotations

import os
import string

ALPHABET = string.digits + string.ascii_letters
# Bytes 0..247 map onto the alphabet 4 times over; 248..255 are dropped so every character is
# equally likely. translate() does both in C, which matters on the redirect path.
_TO_ALPHABET = bytes(ord(ALPHABET[i % 62]) for i in range(256))
_REJECTED = bytes(range(248, 256))


def base62(length: int) -> str:
    """``length`` characters drawn uniformly from [0-9A-Za-z] by the OS's random source."""
    out = b""
    while len(out) < length:
        out += os.urandom(length + 8).translate(_TO_ALPHABET, _REJECTED)
    return out[:length].decode()


def new_id(prefix: str, length: int = 24) -> str:
    """An object id such as ``link_…`` or ``ws_…``."""
    return f"{prefix}_{base62(length)}"


def click_id() -> str:
    """A click id: 16 base62 characters (about 95 bits)."""
    return base62(16)


def is_base62(value: str) -> bool:
    """Whether every character of a non-empty string is in [0-9A-Za-z]."""
    return bool(value) and all(c in ALPHABET for c in value)
