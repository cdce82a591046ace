"""Does a custom domain's DNS point at this instance? (``codeqr domains verify``)

The check compares addresses: the domain resolves to at least one address of the
instance's host. That holds for a CNAME to the host, an A/AAAA record of its address, and
a provider's flattened CNAME at a zone apex alike, and needs only the system resolver.
The resolver is a plain function, so tests give their own and need no network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

Resolver = Callable[[str], frozenset[str]]
"""A hostname's addresses (empty when it does not resolve)."""


def system_resolver(name: str) -> frozenset[str]:
    """The addresses the operating system's resolver gives for ``name``."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return frozenset()
    return frozenset(str(info[4][0]) for info in infos)


@dataclass(frozen=True)
class Verdict:
    """What the check found for one domain."""

    slug: str
    target: str
    addresses: frozenset[str]
    target_addresses: frozenset[str]

    @property
    def verified(self) -> bool:
        """Whether the domain reaches one of the target's addresses."""
        return bool(self.addresses & self.target_addresses)

    @property
    def target_is_local(self) -> bool:
        """The instance's configured host is only reachable from this machine or network:
        no public DNS name can point at it, so the public URL needs configuring first."""
        return bool(self.target_addresses) and all(
            not ipaddress.ip_address(a.split("%", 1)[0]).is_global for a in self.target_addresses
        )


def _addresses(name: str, resolve: Resolver) -> frozenset[str]:
    try:
        return frozenset({str(ipaddress.ip_address(name))})
    except ValueError:
        return resolve(name)


def check(slug: str, target: str, resolve: Resolver = system_resolver) -> Verdict:
    """Resolve ``slug`` and the instance's host ``target`` and compare their addresses."""
    return Verdict(slug, target, resolve(slug), _addresses(target, resolve))
