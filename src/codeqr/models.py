"""Every table, imported in one place so metadata and migrations see them all."""

from codeqr.analytics.models import click_rollup_marks, click_rollups
from codeqr.auth.models import UserSession
from codeqr.commission.models import Commission
from codeqr.customer.models import Customer
from codeqr.events.models import click_events, lead_events, refund_events, sale_events
from codeqr.kit.db import Base
from codeqr.link.models import Domain, Link, LinkTag, Tag
from codeqr.oauth.models import OAuthApp, OAuthCode, OAuthToken
from codeqr.partner.models import Enrollment, Partner
from codeqr.payout.models import Payout
from codeqr.portal.models import PartnerSession
from codeqr.program.models import PartnerGroup, Program, Reward
from codeqr.stripe.models import StripeEvent, StripeIntegration
from codeqr.webhook.models import Webhook, WebhookDelivery, WebhookEvent
from codeqr.workspace.models import ApiKey, Membership, Plan, User, Workspace

__all__ = [
    "ApiKey",
    "Base",
    "Commission",
    "Customer",
    "Domain",
    "Enrollment",
    "Link",
    "LinkTag",
    "Membership",
    "OAuthApp",
    "OAuthCode",
    "OAuthToken",
    "Partner",
    "PartnerGroup",
    "PartnerSession",
    "Payout",
    "Plan",
    "Program",
    "Reward",
    "StripeEvent",
    "StripeIntegration",
    "Tag",
    "User",
    "UserSession",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "Workspace",
    "click_events",
    "click_rollup_marks",
    "click_rollups",
    "lead_events",
    "refund_events",
    "sale_events",
]
