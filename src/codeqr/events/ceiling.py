"""A ceiling on the clicks recorded from one network address on one link in an hour.

The one-hour dedupe knows a visitor by a hash of IP *and* user agent, so a client that
sends a new user agent on every request is a new visitor every time and inflates a link's
clicks at will. This counts the clicks recorded per (address, link) in each clock hour and
stops recording past a ceiling; the redirect itself still answers (SPEC §9: the redirect is
never limited). An IPv6 client is counted by its /64, which one host can fill with
addresses.

Only public addresses are counted. A private, loopback or link-local peer is a reverse
proxy that ``trusted_proxies`` does not name yet, or an internal network: one address
there is many visitors, and a ceiling would silently drop most of their clicks.

The counters are one byte each in a table of fixed size, indexed by a hash of the pair: no
entry is ever added or evicted, so memory stays at ``SLOTS`` bytes however many addresses
come. Two pairs may share a counter; an innocent pair is only refused when it shares one with
a pair that already reached the ceiling (a chance of about heavy pairs / ``SLOTS``).
"""

from __future__ import annotations

from socket import AF_INET6, inet_aton, inet_pton

from codeqr.events.dedupe import WINDOW_MS

SLOTS = 1 << 20
"""Counters (1 MiB)."""
MAX_CEILING = 255
"""What a one-byte counter can hold."""
_V4_MAPPED = bytes(10) + b"\xff\xff"
_V6_LOOPBACK = bytes(15) + b"\x01"


def counted_address(ip: str) -> bytes | None:
    """What a client is counted by: its IPv4 address, or its IPv6 /64; ``None`` for an
    address that is not public (or not an address)."""
    try:
        if ":" in ip:
            packed = inet_pton(AF_INET6, ip)
            if packed[:12] == _V4_MAPPED:  # a dual-stack socket's IPv4 client
                packed = packed[12:]
            else:
                first = packed[0]
                # Unique local fc00::/7, link-local fe80::/10, loopback ::1.
                if first & 0xFE == 0xFC or (first == 0xFE and packed[1] & 0xC0 == 0x80):
                    return None
                return None if packed == _V6_LOOPBACK else packed[:8]
        else:
            packed = inet_aton(ip)
    except OSError:
        return None
    a, b = packed[0], packed[1]
    # 10/8, 127/8, 192.168/16, 172.16/12, 169.254/16, 100.64/10 (carrier-grade NAT).
    if (
        a in (10, 127)
        or (a == 192 and b == 168)
        or (a == 172 and 16 <= b <= 31)
        or (a == 169 and b == 254)
        or (a == 100 and 64 <= b <= 127)
    ):
        return None
    return packed


class ClickCeiling:
    """Per (address, link) click counters of the current clock hour."""

    def __init__(self, ceiling: int, slots: int = SLOTS) -> None:
        if not 1 <= ceiling <= MAX_CEILING:
            raise ValueError(f"ceiling must be within 1..{MAX_CEILING}")
        if slots < 1 or slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        self.ceiling = ceiling
        """Clicks recorded at most per (address, link) an hour."""
        self._mask = slots - 1
        self._counts = bytearray(slots)
        self._hour_ends = 0

    def spend(self, ip: str, link_id: str, now_ms: int) -> bool:
        """Count a click about to be recorded; ``False`` (and nothing counted) once this
        address reached the ceiling on this link this hour."""
        address = counted_address(ip)
        if address is None:
            return True
        if now_ms >= self._hour_ends:
            # A new clock hour: every count starts over (a fresh zeroed table, ~50 µs).
            self._hour_ends = now_ms - now_ms % WINDOW_MS + WINDOW_MS
            self._counts = bytearray(len(self._counts))
        # Python's hash is keyed per process: a client cannot aim at another's counter.
        slot = hash((address, link_id)) & self._mask
        counts = self._counts
        count = counts[slot]
        if count >= self.ceiling:
            return False
        counts[slot] = count + 1
        return True
