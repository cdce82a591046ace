"""The webhook tests' receiver on loopback and a server allowed to deliver to it, for the
webhooks pages."""

from tests.webhook.conftest import hooked, private_settings, receiver

__all__ = ["hooked", "private_settings", "receiver"]
