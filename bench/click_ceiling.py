"""Micro-benchmark of the per-address click ceiling (``codeqr.events.ceiling``).

``python bench/click_ceiling.py`` prints the nanoseconds ``ClickCeiling.spend`` adds to each
recorded click (it runs only for a new visitor's click, after the dedupe), for distinct
public IPv4 and IPv6 addresses and for loopback (never counted), with fresh address strings
as each request makes them and the loop's own cost taken off. The identity hash that every
recorded click already computes is measured the same way, for scale. Pin it to a quiet core
(``taskset -c 1``): on a busy machine every figure grows alike.
"""

from __future__ import annotations

import random
import timeit
from collections.abc import Callable

from codeqr.events.ceiling import ClickCeiling
from codeqr.events.enrich import IdentityHasher

N = 200_000
NOW_MS = 1_796_540_000_000
LINK = "link_HqqW9vZrgk9VJwi2L3MvhiA8"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0"


def addresses() -> dict[str, list[bytes]]:
    """Raw addresses per case, decoded anew in the loop (a request's string is new)."""
    rand = random.Random(1)
    pick = rand.randrange
    return {
        "IPv4": [f"{pick(1, 224)}.{pick(256)}.{pick(256)}.{pick(256)}".encode() for _ in range(N)],
        "IPv6": [
            ("2a02:" + ":".join(f"{pick(65536):x}" for _ in range(7))).encode() for _ in range(N)
        ],
        "loopback": [b"127.0.0.1"] * N,
    }


def per_click(raw: list[bytes], work: Callable[[str], object]) -> float:
    """Nanoseconds per call of ``work``, loop included (best of nine runs)."""

    def run() -> None:
        for address in raw:
            work(address.decode("latin-1"))

    return min(timeit.repeat(run, number=1, repeat=9)) / len(raw) * 1e9


def main() -> None:
    """Print ns/click of the ceiling and of the identity hash for each kind of address."""
    ceiling = ClickCeiling(255)
    identity = IdentityHasher("bench secret")
    for name, raw in addresses().items():
        loop = per_click(raw, lambda ip: None)
        spend = per_click(raw, lambda ip: ceiling.spend(ip, LINK, NOW_MS)) - loop
        hashed = per_click(raw, lambda ip: identity(ip, UA, NOW_MS)) - loop
        print(f"{name:9} ClickCeiling.spend {spend:6.0f} ns/click   identity hash {hashed:6.0f} ns")


if __name__ == "__main__":
    main()
