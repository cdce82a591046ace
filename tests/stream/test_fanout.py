"""Scale-out: a stream on one process sees what another process stored within a second,
woken through Redis (the feed's own polling is slowed to a two-second safety net)."""

from __future__ import annotations

import os
import time

import pytest

from codeqr.settings import Settings
from codeqr.stream.fanout import SAFETY_NET_S
from tests.factories import make_tenant

from .conftest import serve
from .helpers import make_link, stream, visit

pytestmark = pytest.mark.redis
REDIS_URL = os.environ.get("CODEQR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_clicks_leads_and_sales_of_one_process_reach_a_stream_on_another(
    settings: Settings,
) -> None:
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    a, b = serve(shared), serve(shared)
    try:
        assert b.services.feed.interval == SAFETY_NET_S
        tenant = make_tenant(a)
        link = make_link(a, tenant.token)
        events = stream(b, tenant.token)
        time.sleep(0.3)  # both processes subscribed to the channel
        latencies = []
        for _ in range(5):
            made = visit(a, link)
            answered = time.monotonic()  # the click is stored before its 302 is sent
            message = events.next(3)
            latencies.append(message.at - answered)
            assert message.id == made
        print(f"click latencies across processes: {[round(x * 1000) for x in latencies]} ms")
        assert max(latencies) < 1.0, latencies
        api = a.client(tenant.token)
        lead = api.post(
            "/api/track/lead",
            json={"clickId": made, "eventName": "Sign up", "customerExternalId": "u1"},
        )
        assert lead.status_code == 200, lead.text
        sent = time.monotonic()
        assert events.next(3).event == "lead"
        assert time.monotonic() - sent < 1.0
        sale = api.post(
            "/api/track/sale",
            json={"customerExternalId": "u1", "amount": 4900, "invoiceId": "in_fanout"},
        )
        assert sale.status_code == 200, sale.text
        sent = time.monotonic()
        assert events.next(3).event == "sale"
        assert time.monotonic() - sent < 1.0
        assert b.services.nudges is not None
        assert b.services.nudges.heard >= 7
        events.close()
    finally:
        a.stop()
        b.stop()
