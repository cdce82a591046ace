"""``/metrics``: Prometheus's text format for the holder of ``CODEQR_METRICS_TOKEN`` only
(off, 404, without one), with counters that move as the app works."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from codeqr.app import create_app
from codeqr.settings import Settings
from tests.cli.test_serve_limits import closed_within, connect, serving
from tests.conftest import LiveServer, free_port
from tests.factories import Tenant, make_tenant
from tests.redirect.helpers import CHROME_WINDOWS, FIREFOX_LINUX
from tests.stream.helpers import EventStream
from tests.stripe.helpers import ACCOUNT, PLATFORM_KEY, STANDIN_KEY, deliver, event_bytes
from tests.stripe.helpers import connect as connect_stripe
from tests.stripe.standin import StripeStandIn

TOKEN = "metrics-token-of-the-tests-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    standin = StripeStandIn()
    standin.add_account(ACCOUNT, PLATFORM_KEY, STANDIN_KEY)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def metered(settings: Settings, stripe_api: StripeStandIn) -> Iterator[LiveServer]:
    """The app with metrics on (and Stripe's API at the stand-in)."""
    on = settings.model_copy(
        update={
            "metrics_token": TOKEN,
            "stripe_api_base": stripe_api.base,
            # A stream's reader notices its end at the next heartbeat: soon, for the gauge.
            "stream_heartbeat_seconds": 0.2,
        }
    )
    port = free_port()
    live = LiveServer(create_app(on, default_domain=f"127.0.0.1:{port}"), port)
    live.start()
    yield live
    live.stop()


def scrape(server: LiveServer | str, token: str = TOKEN) -> Samples:
    """Every sample of ``/metrics`` by (name, labels)."""
    base = server if isinstance(server, str) else server.base
    response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def moved(before: Samples, after: Samples) -> dict[str, float]:
    """What changed between two scrapes, as ``name{labels}: difference``."""
    changed = {}
    for key, now in after.items():
        if now != before.get(key, 0.0):
            name, labels = key
            shown = ",".join(f'{k}="{v}"' for k, v in labels)
            changed[f"{name}{{{shown}}}" if labels else name] = now - before.get(key, 0.0)
    return changed


def short_link(server: LiveServer, tenant: Tenant, **fields: object) -> dict[str, object]:
    created = server.client(tenant.token).post(
        "/api/links", json={"url": "https://example.com/landing", **fields}
    )
    assert created.status_code == 200, created.text
    link: dict[str, object] = created.json()
    return link


# --- who may read them -------------------------------------------------------------------


def test_metrics_are_off_without_a_token(server: LiveServer) -> None:
    response = server.client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_metrics_need_the_token(metered: LiveServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = metered.client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "codeqr_" not in response.text


def test_an_api_key_is_not_the_metrics_token(metered: LiveServer) -> None:
    tenant = make_tenant(metered)
    assert metered.client(tenant.token).get("/metrics").status_code == 401


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(_env_file=None, metrics_token="short")  # type: ignore[call-arg]
    assert Settings(_env_file=None, metrics_token="").metrics_token is None  # type: ignore[call-arg]


def test_a_link_named_metrics_or_readyz_cannot_shadow_them(metered: LiveServer) -> None:
    tenant = make_tenant(metered)
    api = metered.client(tenant.token)
    for key in ("metrics", "readyz", "Metrics"):
        refused = api.post("/api/links", json={"url": "https://example.com", "key": key})
        assert refused.status_code == 422, refused.text


# --- what they count ---------------------------------------------------------------------


def test_a_redirect_a_click_and_a_repeat_move_their_counters(metered: LiveServer) -> None:
    tenant = make_tenant(metered)
    key = short_link(metered, tenant)["key"]
    before = scrape(metered)
    visitor = metered.client()
    for _ in range(2):  # a click, then the same visitor again within the hour
        answer = visitor.get(f"/{key}", headers={"User-Agent": CHROME_WINDOWS})
        assert answer.status_code == 302
    assert visitor.get("/no-such-link", headers={"User-Agent": FIREFOX_LINUX}).status_code == 404
    after = scrape(metered)
    changes = moved(before, after)
    assert changes.pop("codeqr_click_batch_seconds_sum") > 0
    assert changes.pop('codeqr_click_batch_seconds_bucket{le="+Inf"}') == 1
    assert all(
        name.startswith("codeqr_click_batch_seconds_bucket") for name in changes if "le=" in name
    )
    changes = {name: n for name, n in changes.items() if "le=" not in name}
    assert changes == {
        "codeqr_redirects_total": 3,
        "codeqr_clicks_written_total": 1,
        "codeqr_click_batch_size_count": 1,
        "codeqr_click_batch_size_sum": 1,
        "codeqr_click_batch_seconds_count": 1,
        'codeqr_dedupe_hits_total{where="memory"}': 1,
    }


def test_a_refused_password_guess_is_counted_by_its_rule(metered: LiveServer) -> None:
    tenant = make_tenant(metered)
    key = short_link(metered, tenant, password="correct horse battery")["key"]
    before = scrape(metered)
    visitor = metered.client()
    statuses = [visitor.post(f"/{key}", data={"password": "wrong"}).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    changes = moved(before, scrape(metered))
    assert changes == {
        'codeqr_rate_limited_total{rule="link_password"}': 1,
        "codeqr_redirects_total": 11,
    }
    assert value(scrape(metered), "codeqr_rate_limited_total", rule="api_key") == 0


def test_stripe_webhooks_are_counted_by_outcome(metered: LiveServer) -> None:
    tenant = make_tenant(metered)
    connect_stripe(metered, tenant)
    body = event_bytes("customer.created")
    before = scrape(metered)
    assert deliver(metered, tenant, body, secret="whsec_wrong").status_code == 400
    handled = deliver(metered, tenant, body)
    assert handled.json()["handled"] is True, handled.text
    again = deliver(metered, tenant, body)
    assert "Already handled" in again.json()["reason"]
    unknown = body.replace(b'"customer.created"', b'"customer.deleted"', 1)
    assert deliver(metered, tenant, unknown).json()["handled"] is False
    changes = moved(before, scrape(metered))
    assert changes == {
        'codeqr_stripe_webhooks_total{outcome="bad_signature"}': 1,
        'codeqr_stripe_webhooks_total{outcome="handled"}': 1,
        'codeqr_stripe_webhooks_total{outcome="duplicate"}': 1,
        'codeqr_stripe_webhooks_total{outcome="ignored"}': 1,
    }


def test_rate_limits_counted_without_redis_are_redis_fallbacks(settings: Settings) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    on = settings.model_copy(update={"metrics_token": TOKEN, "redis_url": closed})
    port = free_port()
    live = LiveServer(create_app(on, default_domain=f"127.0.0.1:{port}"), port)
    live.start()
    try:
        before = scrape(live)
        qr = live.client().get("/api/qr", params={"url": "https://example.com"})
        assert qr.status_code == 200
        changes = moved(before, scrape(live))
        assert changes['codeqr_redis_fallbacks_total{use="rate_limits"}'] == 1
    finally:
        live.stop()


def test_open_event_streams_are_a_gauge(metered: LiveServer) -> None:
    tenant = make_tenant(metered)
    assert value(scrape(metered), "codeqr_event_streams_open") == 0
    stream = EventStream(metered, headers={"Authorization": f"Bearer {tenant.token}"}).open()
    assert value(scrape(metered), "codeqr_event_streams_open") == 1
    stream.close()
    deadline = time.monotonic() + 5
    while value(scrape(metered), "codeqr_event_streams_open") != 0:
        assert time.monotonic() < deadline, "the stream was not let go of"
        time.sleep(0.05)


def test_every_family_is_there_from_the_start(metered: LiveServer) -> None:
    """Series exist at zero before anything happens (alerts on ``rate()`` need them)."""
    samples = scrape(metered)
    names = {name for name, _ in samples}
    assert {
        "codeqr_redirects_total",
        "codeqr_clicks_written_total",
        "codeqr_clicks_failed_total",
        "codeqr_click_batch_size_count",
        "codeqr_click_batch_seconds_count",
        "codeqr_dedupe_hits_total",
        "codeqr_redis_fallbacks_total",
        "codeqr_stripe_webhooks_total",
        "codeqr_rate_limited_total",
        "codeqr_event_streams_open",
        "codeqr_http_cut_off_total",
    } <= names
    assert value(samples, "codeqr_redis_fallbacks_total", use="rate_limits") == 0
    for outcome in ("handled", "duplicate", "ignored", "refused", "failed", "bad_signature"):
        assert value(samples, "codeqr_stripe_webhooks_total", outcome=outcome) == 0


@pytest.mark.slow
def test_a_slowloris_cut_off_is_counted(settings: Settings) -> None:
    """``codeqr serve`` hands its server to the metrics: a connection dribbling its head is
    closed by the guard and counted."""
    with (
        serving(
            settings,
            CODEQR_METRICS_TOKEN=TOKEN,
            CODEQR_HTTP_HEAD_TIMEOUT_SECONDS="1",
        ) as port,
        connect(port) as sock,
    ):
        base = f"http://127.0.0.1:{port}"
        assert value(scrape(base), "codeqr_http_cut_off_total") == 0
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127")
        assert closed_within(sock, 5) is not None
        assert value(scrape(base), "codeqr_http_cut_off_total") == 1
