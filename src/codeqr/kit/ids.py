"""Random identifiers: base62 keys, click ids and prefixed object ids."""

from __future__ import annotations

import os
import string
import threading
import time
from functools import lru_cache

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


# Same 62 characters in ASCII order, so that fixed-width numbers sort as strings.
_SORTED = string.digits + string.ascii_uppercase + string.ascii_letters[:26]
_TIME_CHARS = 7  # 62**7 ms is 111 years from 1970


@lru_cache(maxsize=4)
def _time_prefix(ms: int) -> str:
    chars = []
    value = ms
    for _ in range(_TIME_CHARS):
        value, digit = divmod(value, 62)
        chars.append(_SORTED[digit])
    return "".join(reversed(chars))


class _RandomChars(threading.local):
    """Random alphabet characters drawn from the OS a kilobyte at a time, per thread.

    A click id is made on every click: one ``getrandom`` call per ~110 ids instead of one
    per id. Per thread, so that two threads never hand out the same characters; dropped in a
    forked child, which must not repeat its parent's.
    """

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Drop the characters in hand (this thread's; in a forked child, the only thread)."""
        self.chars = ""
        self.at = 0

    def take(self, n: int) -> str:
        at = self.at
        if at + n > len(self.chars):
            self.chars = os.urandom(1024).translate(_TO_ALPHABET, _REJECTED).decode()
            at = 0
        self.at = at + n
        return self.chars[at : at + n]


_random = _RandomChars()
os.register_at_fork(after_in_child=_random.forget)


def click_id(ms: int | None = None) -> str:
    """A click id: 16 base62 characters, 7 of time (ms) then 9 random (about 53 bits).

    Ids that sort by time land at the end of the events table's primary-key index instead
    of all over it: one page written per batch of clicks instead of one page per click.
    """
    if ms is None:
        ms = time.time_ns() // 1_000_000
    return _time_prefix(ms) + _random.take(16 - _TIME_CHARS)


def sorted_id(prefix: str, length: int = 24) -> str:
    """An object id as ``new_id`` makes them whose first characters are the time (as a
    click id's): rows of a busy table keyed by it are appended to its primary-key index
    instead of written all over it (a commission's insert and commit took ~45 µs with
    random ids against ~30 µs with these, in SQLite)."""
    return f"{prefix}_{click_id()}{_random.take(length - 16)}"


def click_ms(value: str) -> int | None:
    """The millisecond a click id was made at (its first 7 characters); ``None`` for an id
    not shaped as ``click_id`` makes them."""
    if len(value) != 16 or not is_base62(value):
        return None
    ms = 0
    for char in value[:_TIME_CHARS]:
        ms = ms * 62 + _SORTED.index(char)
    return ms


def is_base62(value: str) -> bool:
    """Whether every character of a non-empty string is in [0-9A-Za-z]."""
    return bool(value) and all(c in ALPHABET for c in value)
