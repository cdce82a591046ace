"""Stripe tests: the app's Stripe base URL points at a local stand-in of Stripe's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeqr.settings import Settings
from tests.stripe.helpers import (
    ACCOUNT,
    APP_SIGNING_SECRET,
    CONNECTED_ACCOUNT,
    PLATFORM_KEY,
    STANDIN_KEY,
)
from tests.stripe.standin import StripeStandIn


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    standin = StripeStandIn()
    # The accounts the shared events name, as Stripe knows them: the platform's own account
    # (its secret key is the Stripe App's platform key, plus a restricted key for the
    # self-hosted way), and the connected account, which installed the app.
    standin.add_account(ACCOUNT, PLATFORM_KEY, STANDIN_KEY)
    standin.add_account(CONNECTED_ACCOUNT, platform_key=PLATFORM_KEY)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def settings(settings: Settings, stripe_api: StripeStandIn) -> Settings:
    return settings.model_copy(
        update={
            "stripe_api_base": stripe_api.base,
            "stripe_app_secret_key": PLATFORM_KEY,
            "stripe_app_signing_secret": APP_SIGNING_SECRET,
            "stripe_app_webhook_secret": "whsec_app_live_secret",
            "stripe_app_test_webhook_secret": "whsec_test_secret",
        }
    )
