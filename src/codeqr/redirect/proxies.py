"""Which peers are trusted to tell us the visitor's address and country."""

from __future__ import annotations

import ipaddress


class TrustedProxies:
    """``X-Forwarded-For`` and geo headers count only when the peer is a configured proxy."""

    def __init__(self, networks: list[str], *, trust_geo_headers: bool = False) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.trust_geo_headers = trust_geo_headers

    def _trusted(self, peer: str | None) -> bool:
        if not peer or not self.networks:
            return False
        try:
            addr = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: str) -> str | None:
        """The visitor's address: the right-most untrusted hop behind trusted proxies."""
        if not forwarded_for or not self._trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            if not hop:
                continue
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer
        return peer

    def trusts(self, peer: str | None) -> bool:
        """Whether ``peer`` is a configured proxy (its ``X-Forwarded-*`` headers count)."""
        return self._trusted(peer)

    def believes_geo(self, peer: str | None) -> bool:
        """Whether a ``CF-IPCountry``-style header from this peer is believed."""
        return self.trust_geo_headers or self._trusted(peer)
