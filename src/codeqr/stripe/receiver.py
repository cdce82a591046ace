"""The webhook endpoints as a plain ASGI app, beside the framework.

Stripe delivers bursts (a subscription renewal day, a replay of a backlog); the endpoints
only read a raw body and one header, so they skip the API's routing and middleware and go
straight to one worker thread, answering in the same error envelope.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import orjson
import structlog

from codeqr.kit.errors import CodeQRError, PayloadTooLarge, error_envelope
from codeqr.redirect.handler import Receive, Scope, Send
from codeqr.services import Services
from codeqr.stripe import webhooks
from codeqr.stripe.signature import BadSignature

log = structlog.get_logger(__name__)

WORKSPACE_PREFIX = "/api/stripe/webhook/"
APP_LIVE = "/api/stripe/integration/webhook"
APP_TEST = "/api/stripe/integration/webhook/test"
OUTCOMES = ("handled", "duplicate", "ignored", "refused", "failed", "bad_signature", "rejected")
"""What became of deliveries (``WebhookReceiver.outcomes``): a ``webhooks.Receipt``'s
outcome, ``failed`` (5xx: Stripe delivers again), ``bad_signature``, or ``rejected`` (any
other 4xx: no such connection, not a Stripe event, too large)."""


class WebhookReceiver:
    """``POST`` to Stripe's three endpoint shapes; ``route`` says whether a request is one."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.limit = services.settings.max_body_bytes
        # Deliveries wait their turn here, first come first served, rather than as threads
        # racing for SQLite's one writer (unfair: a few would wait far longer than others).
        self.workers = 2 if services.db.is_sqlite else services.db.max_connections
        self._limiter: anyio.CapacityLimiter | None = None
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        """Deliveries by outcome (``/metrics``); counted on the event loop."""

    def route(self, scope: Scope) -> Callable[[bytes, str | None], webhooks.Receipt] | None:
        if scope["method"] != "POST":
            return None
        path: str = scope["path"].rstrip("/")
        services = self.services
        if path.startswith(WORKSPACE_PREFIX):
            workspace_id = path[len(WORKSPACE_PREFIX) :]
            if not workspace_id or "/" in workspace_id:
                return None
            return lambda body, header: webhooks.receive_for_workspace(
                services, workspace_id, body, header
            )
        if path in (APP_LIVE, APP_TEST):
            live = path == APP_LIVE
            return lambda body, header: webhooks.receive_from_app(
                services, body, header, livemode=live
            )
        return None

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        handle: Callable[[bytes, str | None], webhooks.Receipt],
    ) -> None:
        header = None
        for name, value in scope["headers"]:
            if name == b"stripe-signature":
                header = value.decode("latin-1")
        try:
            body = await self._body(receive)
            if self._limiter is None:  # made on the event loop that uses it
                self._limiter = anyio.CapacityLimiter(self.workers)
            receipt = await anyio.to_thread.run_sync(handle, body, header, limiter=self._limiter)
            status, answer = receipt.status, receipt.body
            self.outcomes[receipt.outcome] += 1
        except CodeQRError as exc:
            status, answer = exc.status_code, exc.envelope()
            self.outcomes["bad_signature" if isinstance(exc, BadSignature) else "rejected"] += 1
        except webhooks.HandlingFailed as exc:
            code = "bad_gateway" if exc.status == 502 else "internal_server_error"
            status, answer = exc.status, error_envelope(code, exc.message)
            self.outcomes["failed"] += 1
        except Exception:
            log.exception("stripe.webhook_crashed", path=scope["path"])
            self.outcomes["failed"] += 1
            status = 500
            answer = error_envelope(
                "internal_server_error", "The event could not be received; Stripe will retry."
            )
        content = orjson.dumps(answer)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def _body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise PayloadTooLarge(f"The body is over {self.limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
