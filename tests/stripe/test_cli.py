"""``codeqr stripe connect / replay / disconnect``: the self-hosted way, scripted."""

from __future__ import annotations

import json
import os
import subprocess

from codeqr.settings import Settings
from tests.cli.test_commands import CODEQR
from tests.conftest import LiveServer
from tests.conversion.helpers import customers, sales
from tests.factories import make_tenant
from tests.stripe.helpers import ACCOUNT, SECRET, STANDIN_KEY, deliver, event_bytes, inbox
from tests.stripe.standin import StripeStandIn, dead_base


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CODEQR_DATA_DIR": str(settings.data_dir),
        "CODEQR_STRIPE_API_BASE": settings.stripe_api_base,
    }
    if settings.database_url:
        env["CODEQR_DATABASE_URL"] = settings.database_url
    return subprocess.run(
        [CODEQR, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_connect_prints_the_webhook_url_and_events_then_flow(
    server: LiveServer, settings: Settings
) -> None:
    tenant = make_tenant(server)
    done = run(
        settings,
        "stripe",
        "connect",
        "--workspace",
        tenant.slug,
        "--account",
        "acct_1PgafTB7WZ01zgkW",
        "--test-webhook-secret",
        SECRET,
        "--api-key",
        STANDIN_KEY,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["webhookUrl"].endswith(f"/api/stripe/webhook/{tenant.workspace_id}")
    assert printed["stripeModes"] == ["test"]
    assert "checkout.session.completed" in printed["events"]
    answer = deliver(server, tenant, event_bytes("checkout.session.completed"))
    assert answer.status_code == 200, answer.text
    assert len(sales(server, tenant.workspace_id)) == 1

    other = make_tenant(server)
    refused = run(
        settings,
        "stripe",
        "connect",
        "--workspace",
        other.slug,
        "--account",
        "acct_1PgafTB7WZ01zgkW",
        "--webhook-secret",
        "whsec_other",
        "--api-key",
        STANDIN_KEY,
    )
    assert refused.returncode == 1
    assert "already connected to another workspace" in refused.stderr

    free = make_tenant(server, plan="free")
    gated = run(
        settings,
        "stripe",
        "connect",
        "--workspace",
        free.slug,
        "--account",
        "acct_1FreePlanAccount",
        "--webhook-secret",
        "whsec_free",
    )
    assert gated.returncode == 1
    assert "Business plan" in gated.stderr

    gone = run(settings, "stripe", "disconnect", "--workspace", tenant.slug, "--json")
    assert json.loads(gone.stdout)["disconnected"] is True
    assert deliver(server, tenant, event_bytes("checkout.session.completed")).status_code == 404


def test_replay_finishes_what_failed(
    server: LiveServer, settings: Settings, stripe_api: StripeStandIn
) -> None:
    tenant = make_tenant(server)
    stripe_api.add_account(ACCOUNT, "rk_test_cli")
    connected = run(
        settings,
        "stripe",
        "connect",
        "--workspace",
        tenant.slug,
        "--account",
        "acct_1PgafTB7WZ01zgkW",
        "--test-webhook-secret",
        SECRET,
        "--api-key",
        "rk_test_cli",
    )
    assert connected.returncode == 0, connected.stderr
    stripe_api.add_customer("cus_H0R30gIrtWHskz", name="Sam Lee", metadata={})
    # Stripe is unreachable while the first invoice is delivered: it stays unhandled.
    base = server.services.stripe.base
    server.services.stripe.base = dead_base()
    server.services.stripe.close()
    assert deliver(server, tenant, event_bytes("invoice.paid")).status_code == 502
    server.services.stripe.base = base
    [stored] = inbox(server, tenant.workspace_id)
    assert stored.handled_at is None

    replayed = run(settings, "stripe", "replay", "--workspace", tenant.slug, "--json")
    assert replayed.returncode == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert (result["replayed"], result["failed"]) == (1, 0)
    [sale] = sales(server, tenant.workspace_id)
    assert (sale["amount"], sale["customer_id"]) == (1900, None)  # nobody known: unattributed
    assert customers(server, tenant.workspace_id) == []
    [stored] = inbox(server, tenant.workspace_id)
    assert stored.handled_at is not None
    again = json.loads(run(settings, "stripe", "replay", "--json").stdout)
    assert again["replayed"] == 0


def test_connect_binds_only_the_account_its_key_belongs_to(
    server: LiveServer, settings: Settings, stripe_api: StripeStandIn
) -> None:
    """A squatter names someone else's account: Stripe says the key is another account's
    (or no key at all), so nothing is bound."""
    tenant = make_tenant(server)
    stripe_api.add_account("acct_1SquatterOwnAcct", "rk_test_squatter")
    base = ["stripe", "connect", "--workspace", tenant.slug, "--account", ACCOUNT]
    secret = ["--test-webhook-secret", SECRET]
    for extra, said in [
        ([], "give a restricted key"),
        (["--api-key", "rk_test_squatter"], "belongs to Stripe account acct_1SquatterOwnAcct"),
        (["--api-key", "rk_test_unknown"], "Invalid API Key"),
    ]:
        refused = run(settings, *base, *secret, *extra)
        assert refused.returncode == 1, refused.stdout
        assert said in refused.stderr
    assert deliver(server, tenant, event_bytes("checkout.session.completed")).status_code == 404
