"""Who is limited how much (SPEC §9): one table of quotas and the checks the routes call.

Every check answers 429 ``rate_limit_exceeded`` with ``Retry-After`` and ``X-RateLimit-*``
when refused. Clients are told apart by their address as ``TrustedProxies`` reads it, IPv6
by its /64 (what one subscriber is given). The redirect itself is never limited.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import MutableMapping
from typing import Any

from codeqr.kit.clock import now_ms
from codeqr.kit.ratelimit import Decision, Quota, RateLimitStore

API_WINDOW_S = 60
"""API keys: the plan's ``api_rate_per_minute`` over a sliding minute."""
LOGIN_PER_CLIENT = Quota(30, 600)
"""Sign-in attempts from one client, whatever account they name."""
LOGIN_PER_ACCOUNT = Quota(10, 900)
"""Sign-in attempts naming one account, from anywhere: ~1,000 guesses a day at most."""
LINK_PASSWORD_PER_CLIENT = Quota(10, 60)
"""Password guesses on one link from one client."""
LINK_PASSWORD_PER_LINK = Quota(100, 60)
"""Password guesses on one link from everywhere (a botnet's total)."""
CLIENT_TRACKING_PER_VISITOR = Quota(60, 60)
"""Client-side tracking calls from one visitor (a page makes a handful)."""
QR_PER_CLIENT = Quota(120, 60)
"""QR renders for one client (a dashboard page of links makes a few dozen)."""
STATE_KEY = "codeqr.rate_limit"
"""Where a request's last API-key decision waits for ``RateLimitHeaders``."""
RULES = ("api_key", "login_client", "login_account", "link_password", "client_tracking", "qr")
"""The rules refusals are counted by (``RateLimits.refused``, ``/metrics``)."""


def client_key(ip: str | None) -> str:
    """The client's address as a limit key: IPv4 whole, IPv6 by its /64."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _api_message(per_minute: int) -> str:
    return f"Too many requests: this API key's plan allows {per_minute} a minute"


class RateLimits:
    """The quotas of this deployment over one store (in-process, or shared by processes)."""

    def __init__(self, store: RateLimitStore) -> None:
        self.store = store
        self.refused = dict.fromkeys(RULES, 0)
        """Hits refused (each a 429 answered), by rule."""
        self._counting = threading.Lock()  # refusals come from worker threads too

    def _count(self, rule: str, decision: Decision) -> Decision:
        if not decision.allowed:
            with self._counting:
                self.refused[rule] += 1
        return decision

    def close(self) -> None:
        """Let go of the store's connections, if it has any."""
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def api_key(self, key_id: str, per_minute: int, state: MutableMapping[str, Any]) -> None:
        """Count one API call of a key against its plan's rate; the decision's headers go
        out on the answer (``RateLimitHeaders``). From a worker thread."""
        quota = Quota(per_minute, API_WINDOW_S)
        decision = self._count("api_key", self.store.hit(f"api:{key_id}", quota, now_ms()))
        state[STATE_KEY] = decision
        decision.raise_if_refused(_api_message(per_minute))

    async def api_key_async(
        self, key_id: str, per_minute: int, state: MutableMapping[str, Any]
    ) -> None:
        """``api_key`` from the event loop."""
        quota = Quota(per_minute, API_WINDOW_S)
        decision = self._count("api_key", await self.store.ahit(f"api:{key_id}", quota, now_ms()))
        state[STATE_KEY] = decision
        decision.raise_if_refused(_api_message(per_minute))

    def login(self, client_ip: str | None, email: str) -> None:
        """Count a sign-in attempt against its client, then against the account it names
        (a refused client does not use up the account's attempts)."""
        now = now_ms()
        client = f"login:client:{client_key(client_ip)}"
        decision = self._count("login_client", self.store.hit(client, LOGIN_PER_CLIENT, now))
        decision.raise_if_refused("Too many sign-in attempts from this client")
        account = f"login:account:{email.strip().lower()[:320]}"
        decision = self._count("login_account", self.store.hit(account, LOGIN_PER_ACCOUNT, now))
        decision.raise_if_refused("Too many sign-in attempts for this account")

    async def link_password(self, link_id: str, client_ip: str | None) -> Decision:
        """Count a password guess on a link, against the client and against the link."""
        now = now_ms()
        client = f"link_password:{link_id}:{client_key(client_ip)}"
        decision = await self.store.ahit(client, LINK_PASSWORD_PER_CLIENT, now)
        if decision.allowed:
            decision = await self.store.ahit(
                f"link_password:{link_id}", LINK_PASSWORD_PER_LINK, now
            )
        return self._count("link_password", decision)

    async def client_tracking(self, visitor_ip: str | None) -> None:
        """Count a client-side tracking call against the visitor (the key's own rate is
        counted by ``api_key``)."""
        decision = await self.store.ahit(
            f"client:{client_key(visitor_ip)}", CLIENT_TRACKING_PER_VISITOR, now_ms()
        )
        self._count("client_tracking", decision)
        decision.raise_if_refused("Too many client-side tracking calls from this visitor")

    async def qr(self, client_ip: str | None) -> Decision:
        """Count a QR render for the client."""
        decision = await self.store.ahit(f"qr:{client_key(client_ip)}", QR_PER_CLIENT, now_ms())
        return self._count("qr", decision)
