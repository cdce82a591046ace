"""The HTTP transport of deliveries: where an endpoint may point is checked when the
connection is made, on the address actually connected to.

Checking a URL's hostname when the webhook is saved is not enough: DNS can answer a public
address then and ``127.0.0.1`` at delivery time (rebinding), or a redirect can point
elsewhere. So the network backend below resolves the name itself, drops every address that
is not globally routable (loopback, private, link-local — the cloud metadata service at
169.254.169.254 among them —, carrier-grade NAT, multicast, reserved, IPv4 inside IPv6) and
connects only to what is left; TLS still checks the certificate against the hostname.
Redirects are not followed. ``CODEQR_WEBHOOKS_ALLOW_PRIVATE=true`` lifts the check (an
operator's endpoints on their own network; the tests' receiver on loopback).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx


class PrivateAddressError(httpcore.ConnectError):
    """The endpoint's host resolves only to addresses deliveries may not reach."""


def is_public(address: str) -> bool:
    """Whether ``address`` is globally routable (IPv4 inside IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedBackend(httpcore.SyncBackend):
    """``httpcore``'s network backend, connecting only to public addresses."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if self.allow_private:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [str(info[4][0]) for info in found]
        allowed = [a for a in dict.fromkeys(addresses) if is_public(a)]
        if not allowed:
            raise PrivateAddressError(
                f"{host} resolves to {', '.join(dict.fromkeys(addresses))}: not a public "
                "address (set CODEQR_WEBHOOKS_ALLOW_PRIVATE=true to allow it)"
            )
        error: Exception | None = None
        for address in allowed:  # the checked address itself: no second lookup
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error


class GuardedTransport(httpx.HTTPTransport):
    """``httpx``'s transport on ``GuardedBackend``; no proxies from the environment (a
    proxy would make the connection, and the check, somewhere else)."""

    def __init__(self, *, allow_private: bool, max_connections: int = 20) -> None:
        context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=context, trust_env=False)
        # httpx takes no network backend; its pool is rebuilt with the guarded one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private=allow_private),
        )
