"""Stripe tests: the app's Stripe base URL points at a local stand-in of Stripe's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeqr.settings import Settings
from tests.stripe.standin import StripeStandIn


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    standin = StripeStandIn()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def settings(settings: Settings, stripe_api: StripeStandIn) -> Settings:
    return settings.model_copy(
        update={
            "stripe_api_base": stripe_api.base,
            "stripe_app_secret_key": "sk_test_platform_standin",
            "stripe_app_webhook_secret": "whsec_app_live_secret",
            "stripe_app_test_webhook_secret": "whsec_test_secret",
        }
    )
