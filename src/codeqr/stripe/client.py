"""Calls back to Stripe's API, only through the official ``stripe`` library.

An event names objects it does not carry (a customer's metadata, the invoice a payment
intent paid); these read them. Any failure to reach Stripe raises ``StripeUnavailable`` so
the webhook answers 5xx and Stripe delivers the event again later.
"""

from __future__ import annotations

import threading
from typing import Any

import stripe


class StripeUnavailable(Exception):
    """Stripe's API could not be reached or answered with an error other than 404."""


class StripeRefused(Exception):
    """Stripe answered that the key is not valid, or may not see the account asked for."""


class StripeClients:
    """One ``stripe.StripeClient`` (and its connection pool) per API key, closed at shutdown."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._clients: dict[str, tuple[stripe.StripeClient, stripe.HTTPXClient]] = {}
        self._lock = threading.Lock()

    def api(self, api_key: str | None, account: str | None = None) -> StripeApi:
        """Stripe as this key sees it (as ``account`` when set: Connect)."""
        if not api_key:
            return StripeApi(None, None)
        with self._lock:
            if api_key not in self._clients:
                http = stripe.HTTPXClient(timeout=10, allow_sync_methods=True)
                client = stripe.StripeClient(
                    api_key,
                    base_addresses={"api": self.base},
                    max_network_retries=0,
                    http_client=http,
                )
                self._clients[api_key] = (client, http)
            return StripeApi(self._clients[api_key][0], account)

    def account(self, api_key: str, account: str | None = None) -> dict[str, Any]:
        """The Stripe account ``api_key`` belongs to (``GET /v1/account``), or ``account`` as
        that key may see it through Connect (the ``Stripe-Account`` header).

        Raises ``StripeRefused`` when Stripe refuses the key or the account, and
        ``StripeUnavailable`` when it cannot be asked. The key is an outsider's until Stripe
        vouches for it, so its client is made for this one call and closed, never kept.
        """
        http = stripe.HTTPXClient(timeout=10, allow_sync_methods=True)
        client = stripe.StripeClient(
            api_key, base_addresses={"api": self.base}, max_network_retries=0, http_client=http
        )
        try:
            found = client.v1.accounts.retrieve_current(
                options={"stripe_account": account} if account else {}
            )
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            raise StripeRefused(exc.user_message or str(exc)) from exc
        except stripe.InvalidRequestError as exc:
            if exc.http_status in (403, 404):
                raise StripeRefused(exc.user_message or str(exc)) from exc
            raise StripeUnavailable(str(exc)) from exc
        except stripe.StripeError as exc:
            raise StripeUnavailable(str(exc)) from exc
        finally:
            http.close()  # type: ignore[no-untyped-call]
        data: dict[str, Any] = found.to_dict()
        return data

    def close(self) -> None:
        with self._lock:
            for _, http in self._clients.values():
                http.close()  # type: ignore[no-untyped-call]
            self._clients.clear()


class StripeApi:
    """Read-only access to one Stripe account (a connected account through the platform
    key when ``account`` is set); ``available`` is false without a key to call with."""

    def __init__(self, client: stripe.StripeClient | None, account: str | None) -> None:
        self.available = client is not None
        self._account = account
        self._given = client

    @property
    def _client(self) -> stripe.StripeClient:
        if self._given is None:
            raise StripeUnavailable("No Stripe API key is configured for this workspace.")
        return self._given

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer object, or ``None`` when Stripe has no such (or a deleted) customer."""
        try:
            found = self._client.v1.customers.retrieve(customer_id, options=self._options())
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None
            raise StripeUnavailable(str(exc)) from exc
        except stripe.StripeError as exc:
            raise StripeUnavailable(str(exc)) from exc
        data = found.to_dict()
        return None if data.get("deleted") else data

    def invoice_paid_by(self, payment_intent: str) -> str | None:
        """The id of the invoice a payment intent paid, through Stripe's invoice payments."""
        try:
            page = self._client.v1.invoice_payments.list(
                {"payment": {"type": "payment_intent", "payment_intent": payment_intent}},
                options=self._options(),
            )
        except stripe.StripeError as exc:
            raise StripeUnavailable(str(exc)) from exc
        for payment in page.data:
            invoice = payment.to_dict().get("invoice")
            if isinstance(invoice, dict):
                invoice = invoice.get("id")
            if isinstance(invoice, str):
                return invoice
        return None

    def _options(self) -> Any:
        return {"stripe_account": self._account} if self._account else {}
