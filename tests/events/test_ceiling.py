"""The per-address click ceiling on its own: what counts as one address, and for how long."""

from __future__ import annotations

import pytest

from codeqr.events.ceiling import ClickCeiling, counted_address
from codeqr.events.dedupe import WINDOW_MS

HOUR = 1_796_540_000_000 - 1_796_540_000_000 % WINDOW_MS


def spend(ceiling: ClickCeiling, ip: str, link: str = "link_a", now: int = HOUR) -> list[bool]:
    return [ceiling.spend(ip, link, now) for _ in range(ceiling.ceiling + 2)]


def test_an_address_is_counted_per_link_up_to_the_ceiling() -> None:
    ceiling = ClickCeiling(3)
    assert spend(ceiling, "81.2.69.142") == [True, True, True, False, False]
    assert ceiling.spend("81.2.69.143", "link_a", HOUR)
    assert ceiling.spend("81.2.69.142", "link_b", HOUR)


def test_counts_start_over_each_clock_hour() -> None:
    ceiling = ClickCeiling(2)
    assert spend(ceiling, "81.2.69.142", now=HOUR + WINDOW_MS - 1) == [True, True, False, False]
    assert ceiling.spend("81.2.69.142", "link_a", HOUR + WINDOW_MS)


def test_an_ipv6_host_is_counted_by_its_64() -> None:
    ceiling = ClickCeiling(2)
    assert ceiling.spend("2a02:1234:5678:9abc::1", "link_a", HOUR)
    assert ceiling.spend("2a02:1234:5678:9abc:ffff:1:2:3", "link_a", HOUR)
    assert not ceiling.spend("2a02:1234:5678:9abc::99", "link_a", HOUR)
    assert ceiling.spend("2a02:1234:5678:9abd::1", "link_a", HOUR)


@pytest.mark.parametrize(
    ("ip", "counted"),
    [
        ("81.2.69.142", b"\x51\x02\x45\x8e"),
        ("::ffff:81.2.69.142", b"\x51\x02\x45\x8e"),  # a dual-stack socket's IPv4 client
        ("2a02:1234:5678:9abc:1:2:3:4", bytes.fromhex("2a02123456789abc")),
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("172.16.0.1", None),
        ("172.31.255.1", None),
        ("192.168.1.1", None),
        ("169.254.1.1", None),
        ("100.64.0.1", None),
        ("::1", None),
        ("fd00::1", None),
        ("fe80::1", None),
        ("not an address", None),
    ],
)
def test_what_an_address_is_counted_by(ip: str, counted: bytes | None) -> None:
    assert counted_address(ip) == counted


def test_public_neighbours_of_private_ranges_are_counted() -> None:
    for ip in ("172.15.0.1", "172.32.0.1", "100.63.0.1", "100.128.0.1", "11.0.0.1"):
        assert counted_address(ip) is not None, ip


def test_private_addresses_are_never_refused() -> None:
    ceiling = ClickCeiling(1)
    assert spend(ceiling, "127.0.0.1") == [True, True, True]


def test_memory_stays_the_same_however_many_addresses_come() -> None:
    ceiling = ClickCeiling(20, slots=1024)
    for n in range(50_000):
        ceiling.spend(f"81.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", "link_a", HOUR)
    assert len(ceiling._counts) == 1024
