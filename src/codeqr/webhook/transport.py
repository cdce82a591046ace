"""The HTTP transport of deliveries: where an endpoint may point is checked when the
connection is made, on the address actually connected to.

Checking a URL's hostname when the webhook is saved is not enough: DNS can answer a public
address then and ``127.0.0.1`` at delivery time (rebinding), or a redirect can point
elsewhere. So the connections below resolve the name itself, drops every address that
are not globally routable (loopback, private, link-local — the cloud metadata service at
169.254.169.254 among them —, carrier-grade NAT, multicast, reserved, IPv4 inside IPv6) and
connect only to what is left; TLS still checks the certificate against the hostname.
Redirects are not followed. ``CODEQR_WEBHOOKS_ALLOW_PRIVATE=true`` lifts the check (an
operator's endpoints on their own network; the tests' receiver on loopback).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

KEEP_IDLE_S = 4.0
"""How long an idle connection is kept for the next delivery to its endpoint."""


class PrivateAddressError(OSError):
    """The endpoint's host resolves only to addresses deliveries may not reach."""


def is_public(address: str) -> bool:
    """Whether ``address`` is globally routable (IPv4 inside IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# -- the sender of deliveries -------------------------------------------------------------------


def allowed_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses a delivery to ``host`` may connect to (``PrivateAddressError`` when the
    name resolves only to refused ones); without the check, the name itself."""
    if allow_private:
        return [host]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    allowed = [a for a in addresses if is_public(a)]
    if not allowed:
        raise PrivateAddressError(
            f"{host} resolves to {', '.join(addresses)}: not a public "
            "address (set CODEQR_WEBHOOKS_ALLOW_PRIVATE=true to allow it)"
        )
    return allowed


class _Connection(http.client.HTTPConnection):
    """An HTTP/1.1 connection opened only to an allowed address of its host."""

    def __init__(self, host: str, port: int, timeout: float, allow_private: bool) -> None:
        super().__init__(host, port, timeout=timeout)
        self.allow_private = allow_private

    def connect(self) -> None:
        error: OSError | None = None
        addresses = allowed_addresses(self.host, self.port, allow_private=self.allow_private)
        for address in addresses:  # the checked address itself: no second lookup
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as exc:
                error = exc
        else:
            assert error is not None
            raise error
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TLSConnection(_Connection):
    """``_Connection`` with TLS, the certificate checked against the host's name."""

    def __init__(
        self, host: str, port: int, timeout: float, allow_private: bool, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout, allow_private)
        self.context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


class Sender:
    """POSTs deliveries on kept-alive connections, one pool of idle connections per
    ``(scheme, host, port)``; a connection serves one request at a time.

    ``http.client`` under the guard above rather than ``httpx``: a third of the CPU a
    request, which the event loop of the same process gets back. Each socket operation
    (connect, send, every read) times out after ``timeout``; redirects are not followed; at
    most ``limit`` bytes of an answer are read (a longer one closes its connection)."""

    def __init__(self, *, allow_private: bool, timeout: float, idle_max: int = 32) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.idle_max = idle_max
        self._idle: dict[tuple[str, str, int], list[tuple[float, _Connection]]] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def post(self, url: str, body: bytes, headers: dict[str, str], limit: int) -> tuple[int, bytes]:
        """``(status, start of the answer)``; ``OSError`` or ``HTTPException`` when none came."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (scheme, host, port)
        conn = self._take(key)
        reused = conn is not None
        if conn is None:
            conn = self._open(scheme, host, port)
        try:
            try:
                conn.request("POST", target, body=body, headers=headers)
                answer = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # A kept connection the receiver had closed: once more on a new one.
                conn.close()
                conn = self._open(scheme, host, port)
                conn.request("POST", target, body=body, headers=headers)
                answer = conn.getresponse()
            excerpt = answer.read(limit)
            if answer.isclosed() and not answer.will_close:
                self._give_back(key, conn)
            else:
                conn.close()  # an answer longer than the bound, or a closing receiver
            return answer.status, excerpt
        except BaseException:
            conn.close()
            raise

    def _open(self, scheme: str, host: str, port: int) -> _Connection:
        if scheme == "https":
            if self._context is None:
                self._context = ssl.create_default_context()
            return _TLSConnection(host, port, self.timeout, self.allow_private, self._context)
        if scheme != "http":
            raise http.client.HTTPException(f"unsupported scheme {scheme!r}")
        return _Connection(host, port, self.timeout, self.allow_private)

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        stale: list[_Connection] = []
        found = None
        with self._lock:
            idle = self._idle.get(key) or []
            while idle:
                since, conn = idle.pop()
                if time.monotonic() - since < KEEP_IDLE_S:
                    found = conn
                    break
                stale.append(conn)  # receivers close idle connections after a few seconds
        for conn in stale:
            conn.close()
        return found

    def _give_back(self, key: tuple[str, str, int], conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.idle_max and len(self._idle) <= 1_000:
                idle.append((time.monotonic(), conn))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for _, conn in conns:
                conn.close()
