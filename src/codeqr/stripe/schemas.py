"""Shapes of the Stripe integration's API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from codeqr.stripe.service import StripeMode


class IntegrationIn(BaseModel):
    """``PATCH /api/stripe/integration``: bind an account (``null`` unbinds)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    stripe_account_id: str | None = Field(alias="stripeAccountId", max_length=64)
    stripe_mode: StripeMode = Field(default=StripeMode.live, alias="stripeMode")
    stripe_api_key: str | None = Field(default=None, alias="stripeApiKey", max_length=255)
    """The account's own restricted key: how a caller other than the Stripe App makes
    Stripe vouch that the account is theirs (kept to read customers and invoices)."""
    stripe_user_id: str | None = Field(default=None, alias="stripeUserId", max_length=64)
    """The Stripe App's signed-in Dashboard user (``usr_…``), whose ``fetchStripeSignature()``
    signature comes in the ``Stripe-Signature`` header."""


class IntegrationOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    workspace_id: str = Field(alias="workspaceId")
    stripe_account_id: str | None = Field(alias="stripeAccountId")
    stripe_modes: list[StripeMode] = Field(alias="stripeModes")
    webhook_url: str = Field(alias="webhookUrl")
