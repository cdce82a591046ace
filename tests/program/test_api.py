"""``/api/program``: the program's settings and rewards through the API, under the same
rules as the dashboard and the CLI (one service), with the plan gate and the keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from codeqr.program import service as programs
from codeqr.program.models import RewardEvent, RewardType
from codeqr.program.schemas import RewardSpec
from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant

ENVELOPE = {"code", "message", "doc_url"}


def _refused(answer: httpx.Response, status: int, field: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == ENVELOPE
    message = str(error["message"])
    if field is not None:
        assert field in message, message
    return message


def test_settings_and_rewards_round_trip(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)

    first = http.get("/api/program")
    assert first.status_code == 200, first.text
    program = first.json()
    assert program["id"].startswith("prog_")
    assert program["currency"] == "USD"
    assert (program["holdingPeriodDays"], program["minPayoutAmount"]) == (30, 10_000)
    assert (program["defaultUrl"], program["defaultDomain"], program["rewards"]) == (None, None, [])
    assert http.get("/api/program").json()["id"] == program["id"]  # one program, made once

    sale = http.put(
        "/api/program/rewards/sale",
        json={"type": "percentage", "amount": 12.5, "maxDuration": 12},
    )
    assert sale.status_code == 200, sale.text
    assert sale.json()["event"] == "sale"
    assert (sale.json()["amount"], sale.json()["maxDuration"]) == (12.5, 12)
    assert sale.json()["duration"] == "recurring"
    click = http.put("/api/program/rewards/click", json={"type": "flat", "amount": 25})
    lead = http.put("/api/program/rewards/lead", json={"type": "flat", "amount": 500})
    assert (click.status_code, lead.status_code) == (200, 200), click.text + lead.text

    listed = http.get("/api/program/rewards").json()
    assert [(r["event"], r["type"], r["amount"], r["maxDuration"]) for r in listed] == [
        ("click", "flat", 25, 0),
        ("lead", "flat", 500, 0),
        ("sale", "percentage", 12.5, 12),
    ]
    assert http.get("/api/program").json()["rewards"] == listed

    # What the API wrote is what the dashboard and the CLI read (one service, one table).
    with server.services.db.transaction() as session:
        found = programs.default_program(session, ws.get_workspace(session, tenant.slug))
        stored = programs.rewards_of(session, found)
        assert (stored["sale"].amount, stored["sale"].months) == (1250, 12)
        assert stored["lead"].amount == 500

    # Replacing a reward keeps its id; null is lifetime, no maxDuration is one-time.
    lifetime = http.put(
        "/api/program/rewards/sale", json={"type": "flat", "amount": 1000, "maxDuration": None}
    ).json()
    assert lifetime["id"] == sale.json()["id"]
    assert (lifetime["duration"], lifetime["maxDuration"]) == ("lifetime", None)
    once = http.put("/api/program/rewards/sale", json={"type": "percentage", "amount": 20}).json()
    assert (once["duration"], once["maxDuration"], once["amount"]) == ("one_time", 0, 20)

    gone = http.delete("/api/program/rewards/click")
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"event": "click", "deleted": True}
    _refused(http.delete("/api/program/rewards/click"), 404, "click")
    assert [r["event"] for r in http.get("/api/program/rewards").json()] == ["lead", "sale"]


def test_settings_change_what_partner_links_get(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    domain = http.post("/api/domains", json={"slug": "go.partners-api.example"})
    assert domain.status_code == 201, domain.text

    changed = http.patch(
        "/api/program",
        json={
            "name": "  Friends of Acme ",
            "holdingPeriodDays": 0,
            "minPayoutAmount": 0,
            "defaultUrl": "acme.example/pricing",
            "defaultDomain": "Go.Partners-API.example",
            "currency": "usd",  # the same currency: accepted, nothing changes
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "Friends of Acme"
    assert (body["holdingPeriodDays"], body["minPayoutAmount"]) == (0, 0)
    assert body["defaultUrl"] == "https://acme.example/pricing"
    assert body["defaultDomain"] == "go.partners-api.example"

    partner = http.post("/api/partners", json={"email": "pat@example.com"})
    assert partner.status_code == 201, partner.text
    link = partner.json()["links"][0]
    assert (link["domain"], link["url"]) == ("go.partners-api.example", body["defaultUrl"])

    # Only what is given changes; null (or "") clears the destination and the domain.
    kept = http.patch("/api/program", json={"minPayoutAmount": 2_500}).json()
    assert (kept["minPayoutAmount"], kept["holdingPeriodDays"], kept["name"]) == (
        2_500,
        0,
        "Friends of Acme",
    )
    cleared = http.patch("/api/program", json={"defaultUrl": None, "defaultDomain": ""}).json()
    assert (cleared["defaultUrl"], cleared["defaultDomain"]) == (None, None)

    # The instance's own short domain is one a partner link can use too.
    instance = server.services.links.ctx.default_domain
    ok = http.patch("/api/program", json={"defaultDomain": instance})
    assert ok.json()["defaultDomain"] == instance


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"holdingPeriodDays": -1}, "holdingPeriodDays"),
    ({"holdingPeriodDays": 366}, "holdingPeriodDays"),
    ({"holdingPeriodDays": "7"}, "holdingPeriodDays"),
    ({"holdingPeriodDays": True}, "holdingPeriodDays"),
    ({"holdingPeriodDays": 7.5}, "holdingPeriodDays"),
    ({"minPayoutAmount": -1}, "minPayoutAmount"),
    ({"minPayoutAmount": 100_000_001}, "minPayoutAmount"),
    ({"minPayoutAmount": 10**30}, "minPayoutAmount"),
    ({"defaultUrl": "javascript:alert(1)"}, "defaultUrl"),
    ({"defaultUrl": "https://" + "a" * 2_000 + ".example"}, "defaultUrl"),
    ({"defaultDomain": "not-ours.example"}, "defaultDomain"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 191}, "name"),
    ({"currency": "EUR"}, "currency"),
]


@pytest.mark.parametrize(("body", "field"), BAD_SETTINGS, ids=lambda v: str(v)[:40])
def test_bad_settings_are_422_and_change_nothing(
    server: LiveServer, body: dict[str, Any], field: str
) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    before = http.get("/api/program").json()
    # A valid change beside the bad one is not half-applied.
    _refused(http.patch("/api/program", json={"holdingPeriodDays": 3, **body}), 422, field)
    assert http.get("/api/program").json() == before


def test_another_workspaces_domain_is_refused(server: LiveServer) -> None:
    owner, other = make_tenant(server), make_tenant(server)
    made = server.client(owner.token).post("/api/domains", json={"slug": "go.owner-api.example"})
    assert made.status_code == 201, made.text
    answer = server.client(other.token).patch(
        "/api/program", json={"defaultDomain": "go.owner-api.example"}
    )
    _refused(answer, 422, "defaultDomain")


BAD_REWARDS: list[tuple[str, Any, str]] = [
    ("sale", {"type": "flat", "amount": 12.5}, "amount"),
    ("sale", {"type": "flat", "amount": 0}, "amount"),
    ("sale", {"type": "flat", "amount": 100_000_001}, "amount"),
    ("sale", {"type": "percentage", "amount": 100.01}, "amount"),
    ("sale", {"type": "percentage", "amount": 12.345}, "amount"),
    ("sale", {"type": "percentage", "amount": -5}, "amount"),
    ("sale", {"type": "percentage", "amount": 20, "maxDuration": 121}, "months"),
    ("sale", {"type": "percentage", "amount": 20, "maxDuration": -1}, "maxDuration"),
    ("sale", {"type": "percentage", "amount": 20, "maxDuration": "12"}, "maxDuration"),
    ("lead", {"type": "percentage", "amount": 20}, "type"),
    ("click", {"type": "flat", "amount": 5, "maxDuration": 3}, "months"),
    ("click", {"type": "bogus", "amount": 5}, "type"),
    ("click", {"type": "flat", "amount": "5"}, "amount"),
    ("click", {"type": "flat", "amount": True}, "amount"),
    ("click", {"type": "flat"}, "amount"),
    ("click", [1, 2], "body"),
    ("view", {"type": "flat", "amount": 5}, "event"),
]


@pytest.mark.parametrize(("event", "body", "field"), BAD_REWARDS, ids=lambda v: str(v)[:40])
def test_bad_rewards_are_422(server: LiveServer, event: str, body: Any, field: str) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    http.put("/api/program/rewards/sale", json={"type": "flat", "amount": 300})
    before = http.get("/api/program/rewards").json()
    _refused(http.put(f"/api/program/rewards/{event}", json=body), 422, field)
    assert http.get("/api/program/rewards").json() == before


@pytest.mark.parametrize(
    "raw", [b'{"type": "flat", "amount": NaN}', b'{"type": "flat", "amount": Infinity}']
)
def test_non_finite_amounts_are_422(server: LiveServer, raw: bytes) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    answer = http.put(
        "/api/program/rewards/lead", content=raw, headers={"Content-Type": "application/json"}
    )
    _refused(answer, 422, "amount")
    assert http.get("/api/program/rewards").json() == []


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/program", None),
    ("PATCH", "/api/program", {"holdingPeriodDays": 1}),
    ("GET", "/api/program/rewards", None),
    ("PUT", "/api/program/rewards/lead", {"type": "flat", "amount": 100}),
    ("DELETE", "/api/program/rewards/lead", None),
]


@pytest.mark.parametrize("plan", ["free", "pro"])
def test_below_business_every_route_is_403(server: LiveServer, plan: str) -> None:
    tenant = make_tenant(server, plan=plan)
    http = server.client(tenant.token)
    for method, path, body in ROUTES:
        message = _refused(http.request(method, path, json=body), 403)
        assert "Business plan" in message, message
    with server.services.db.transaction() as session:  # nothing was made on the way
        assert programs.find_program(session, tenant.workspace_id) is None


def test_keys(server: LiveServer) -> None:
    tenant = make_tenant(server)
    publishable = server.client(make_key(server, tenant, publishable=True))
    anonymous = server.client()
    for method, path, body in ROUTES:
        _refused(publishable.request(method, path, json=body), 403)
        _refused(anonymous.request(method, path, json=body), 401)
    with server.services.db.transaction() as session:
        assert programs.find_program(session, tenant.workspace_id) is None


def test_cli_and_api_share_the_rules(server: LiveServer) -> None:
    """A reward set as the CLI sets it reads back through the API as it was meant."""
    tenant = make_tenant(server)
    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, tenant.slug)
        spec = RewardSpec(RewardEvent.sale, RewardType.percentage, 7.25, lifetime=True)
        programs.set_reward(session, workspace, spec)
    (reward,) = server.client(tenant.token).get("/api/program/rewards").json()
    assert (reward["amount"], reward["maxDuration"], reward["duration"]) == (
        7.25,
        None,
        "lifetime",
    )
