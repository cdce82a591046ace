"""Every table, imported in one place so metadata and migrations see them all."""

from codeqr.analytics.models import click_rollup_marks, click_rollups
from codeqr.auth.models import UserSession
from codeqr.customer.models import Customer
from codeqr.events.models import click_events, lead_events, refund_events, sale_events
from codeqr.kit.db import Base
from codeqr.link.models import Domain, Link, LinkTag, Tag
from codeqr.oauth.models import OAuthApp, OAuthCode, OAuthToken
from codeqr.stripe.models import StripeEvent, StripeIntegration
from codeqr.workspace.models import ApiKey, Membership, Plan, User, Workspace

__all__ = [
    "ApiKey",
    "Base",
    "Customer",
    "Domain",
    "Link",
    "LinkTag",
    "Membership",
    "OAuthApp",
    "OAuthCode",
    "OAuthToken",
    "Plan",
    "StripeEvent",
    "StripeIntegration",
    "Tag",
    "User",
    "UserSession",
    "Workspace",
    "click_events",
    "click_rollup_marks",
    "click_rollups",
    "lead_events",
    "refund_events",
    "sale_events",
]
