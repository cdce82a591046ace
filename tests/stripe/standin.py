"""A local stand-in for Stripe's HTTP API (Stripe itself is unreachable here).

It serves Stripe's own published fixture objects from ``tests/fixtures/stripe/objects`` with only
the ids and fields a test names changed, so the official ``stripe`` library parses real
shapes. Tests register what exists: customers (with their metadata), invoice payments, and
accounts with their keys (which account a key belongs to, which accounts a platform reaches).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import FIXTURES, free_port

OBJECTS = FIXTURES / "stripe" / "objects"


def fixture_object(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OBJECTS / f"{name}.json").read_text("utf-8"))
    return data


def built_account(account_id: str) -> dict[str, Any]:
    """An account object. BUILT, NOT PUBLISHED: Stripe's fixtures have no ``account``, so this
    is the least the ``stripe`` library and CodeQR read from ``GET /v1/account`` (id and
    object), plus a few fields every account has, with plain values."""
    return {
        "id": account_id,
        "object": "account",
        "type": "standard",
        "country": "US",
        "default_currency": "usd",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "created": 1700000000,
        "metadata": {},
    }


def _masked(key: str) -> str:
    return key[:8] + "*" * max(len(key) - 12, 4) + key[-4:]


def _not_found(kind: str, ident: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{ident}'",
                "param": "id",
            }
        },
        status_code=404,
    )


class StripeStandIn:
    """The stand-in server, its registries, and what it was asked."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoice_payments: dict[str, str] = {}
        self.keys: dict[str, str] = {}  # API key → the account it belongs to
        self.connected: dict[str, set[str]] = {}  # platform account → accounts it reaches
        self.failing = False
        self.requests: list[tuple[str, str, str | None]] = []
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/v1/customers/{customer_id}", self._customer),
                Route("/v1/invoice_payments", self._invoice_payments),
                Route("/v1/account", self._account),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def add_customer(self, customer_id: str, **fields: Any) -> None:
        """Make a customer exist (the fixture object with this id and these fields)."""
        body = fixture_object("customer")
        body.update(id=customer_id, **fields)
        self.customers[customer_id] = body

    def add_account(self, account_id: str, *keys: str, platform_key: str | None = None) -> None:
        """Make an account exist with these keys of its own; with ``platform_key``, also
        connect it to that key's platform (the account installed the platform's app)."""
        for key in keys:
            self.keys[key] = account_id
        if platform_key is not None:
            self.connected.setdefault(self.keys[platform_key], set()).add(account_id)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stripe stand-in did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def _note(self, request: Request) -> JSONResponse | None:
        self.requests.append(
            (request.method, request.url.path, request.headers.get("stripe-account"))
        )
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"error": {"type": "invalid_request_error"}}, status_code=401)
        if self.failing:
            return JSONResponse(
                {"error": {"type": "api_error", "message": "stand-in told to fail"}},
                status_code=500,
            )
        return None

    async def _customer(self, request: Request) -> JSONResponse:
        refused = self._note(request)
        if refused is not None:
            return refused
        ident = request.path_params["customer_id"]
        found = self.customers.get(ident)
        if found is None:
            return _not_found("customer", ident)
        return JSONResponse(copy.deepcopy(found))

    async def _account(self, request: Request) -> JSONResponse:
        """``GET /v1/account``: the key's own account, or with ``Stripe-Account`` that
        account, when the key's account is it or a platform it is connected to."""
        refused = self._note(request)
        if refused is not None:
            return refused
        key = request.headers["authorization"].removeprefix("Bearer ").strip()
        owner = self.keys.get(key)
        if owner is None:
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Invalid API Key provided: {_masked(key)}",
                    }
                },
                status_code=401,
            )
        asked = request.headers.get("stripe-account") or owner
        if asked != owner and asked not in self.connected.get(owner, set()):
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"The provided key '{_masked(key)}' does not have access to "
                        f"account '{asked}' (or that account does not exist). Application "
                        "access may have been revoked.",
                    }
                },
                status_code=403,
            )
        return JSONResponse(built_account(asked))

    async def _invoice_payments(self, request: Request) -> JSONResponse:
        refused = self._note(request)
        if refused is not None:
            return refused
        intent = request.query_params.get("payment[payment_intent]")
        data = []
        if intent and intent in self.invoice_payments:
            item = fixture_object("invoice_payment")
            item.update(
                id=f"inpay_{intent[-10:]}",
                invoice=self.invoice_payments[intent],
                payment={"type": "payment_intent", "payment_intent": intent},
                status="paid",
            )
            data.append(item)
        return JSONResponse(
            {"object": "list", "data": data, "has_more": False, "url": "/v1/invoice_payments"}
        )


def dead_base() -> str:
    """A base URL nobody listens on: Stripe unreachable."""
    return f"http://127.0.0.1:{free_port()}"
