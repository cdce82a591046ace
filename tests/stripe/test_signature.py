"""Stripe-Signature checks on the shared events signed as stored (SPEC §5.2)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.stripe.helpers import (
    OLD_SECRET,
    SECRET,
    connect,
    deliver,
    event_bytes,
    inbox,
    sign,
)

BODY = "checkout.session.completed.payment_link_client_reference_id"


def test_published_test_vectors_hold_for_the_stored_bytes() -> None:
    body = event_bytes(BODY)
    assert len(body) == 3644
    assert sign(body, SECRET, at=1784024300).endswith(
        "bb73982e3b84ea86ac6086aa3e65e68000a54185acae4d72e3ce0a3cb5d0abe4"
    )
    jpy = event_bytes("checkout.session.completed.jpy_zero_decimal")
    assert sign(jpy, OLD_SECRET, at=1784024300).endswith(
        "88d3e86201d6796eeee1b9fe63ff31d805317a40cfb3146e79b691dcb123c112"
    )


def test_a_valid_signature_is_accepted_and_stored(server: LiveServer) -> None:
    tenant = make_tenant(server)
    connect(server, tenant)
    answer = deliver(server, tenant, event_bytes(BODY))
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is True
    assert len(inbox(server, tenant.workspace_id)) == 1


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "flipped byte", "stale timestamp", "only v0", "missing header", "garbage"],
)
def test_bad_signatures_are_refused_and_store_nothing(server: LiveServer, case: str) -> None:
    tenant = make_tenant(server)
    connect(server, tenant)
    body = event_bytes(BODY)
    sent = body
    header: str | None
    if case == "wrong secret":
        header = sign(body, "whsec_not_the_one")
    elif case == "flipped byte":
        header = sign(body)
        at = body.index(b'"amount_total"') + 2
        sent = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
    elif case == "stale timestamp":
        header = sign(body, at=int(time.time()) - 301)
    elif case == "only v0":
        header = sign(body).replace("v1=", "v0=")
    elif case == "missing header":
        header = ""
    else:
        header = "t=abc,v1=zz"
    answer = deliver(server, tenant, sent, header=header)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"
    assert "Stripe-Signature" in answer.json()["error"]["message"]
    assert inbox(server, tenant.workspace_id) == []


def test_two_v1_signatures_during_secret_rotation(server: LiveServer) -> None:
    """While a secret is rolled Stripe signs with both; either one matching is enough."""
    tenant = make_tenant(server)
    connect(server, tenant, test=SECRET)
    body = event_bytes(BODY)
    t = int(time.time())
    old = sign(body, OLD_SECRET, at=t).split("v1=")[1]
    new = sign(body, SECRET, at=t).split("v1=")[1]
    for header in (f"t={t},v1={old},v1={new}", f"t={t},v1={new},v1={old}"):
        answer = deliver(server, tenant, body, header=header)
        assert answer.status_code == 200, answer.text
    # Only the old one: the endpoint's secret is the new one.
    answer = deliver(server, tenant, body, header=f"t={t},v1={old}")
    assert answer.status_code == 400
    assert len(inbox(server, tenant.workspace_id)) == 1


def test_an_unconnected_workspace_endpoint_is_404(server: LiveServer) -> None:
    tenant = make_tenant(server)
    body = event_bytes(BODY)
    answer = deliver(server, tenant, body)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_a_timestamp_beyond_the_tolerance_ahead_is_refused(server: LiveServer) -> None:
    """The library refuses only old timestamps; one an hour ahead would replay for an hour
    more than the tolerance allows. A small clock skew ahead is still fine."""
    tenant = make_tenant(server)
    connect(server, tenant)
    body = event_bytes(BODY)
    now = int(time.time())
    for ahead in (3600, 301 + 5):
        answer = deliver(server, tenant, body, header=sign(body, at=now + ahead))
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "bad_request"
        assert "in the future" in answer.json()["error"]["message"]
    assert inbox(server, tenant.workspace_id) == []
    answer = deliver(server, tenant, body, header=sign(body, at=now + 60))
    assert answer.status_code == 200, answer.text
    assert len(inbox(server, tenant.workspace_id)) == 1
