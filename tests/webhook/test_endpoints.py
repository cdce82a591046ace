"""``/api/webhooks`` over HTTP: Dub's shapes, the plan and key gates, the bound, and what
bad input gets (nothing written)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from codeqr.webhook import service
from codeqr.webhook.models import Webhook
from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant
from tests.link.helpers import error_of

HOOK = {"name": "CRM", "url": "https://crm.example/hooks", "triggers": ["link.created"]}


def webhook_rows(server: LiveServer) -> int:
    with server.services.db.transaction() as session:
        return int(session.scalar(select(func.count(Webhook.id))) or 0)


def test_create_list_get_update_rotate_delete(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    created = http.post(
        "/api/webhooks", json={**HOOK, "triggers": ["sale.created", "lead.created"]}
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["id"].startswith("wh_")
    assert hook["secret"].startswith("whsec_")
    assert len(hook["secret"]) > 30
    assert hook["triggers"] == ["sale.created", "lead.created"]
    assert hook["disabledAt"] is None
    assert hook["linkScope"] is None
    assert {"id", "name", "url", "secret", "triggers", "linkScope", "disabledAt"} <= set(hook)

    assert [w["id"] for w in http.get("/api/webhooks").json()] == [hook["id"]]
    assert http.get(f"/api/webhooks/{hook['id']}").json() == hook

    changed = http.patch(f"/api/webhooks/{hook['id']}", json={"name": "Slack"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Slack"
    assert changed.json()["url"] == HOOK["url"]  # not sent, kept

    rotated = http.post(f"/api/webhooks/{hook['id']}/secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != hook["secret"]

    gone = http.delete(f"/api/webhooks/{hook['id']}")
    assert gone.json() == {"id": hook["id"]}
    assert http.get(f"/api/webhooks/{hook['id']}").status_code == 404
    assert webhook_rows(server) == 0


def test_business_plan_and_secret_keys_only(server: LiveServer) -> None:
    pro = make_tenant(server, plan="pro")
    refused = server.client(pro.token).post("/api/webhooks", json=HOOK)
    assert refused.status_code == 403
    assert "Business" in error_of(refused)["message"]
    business = make_tenant(server)
    publishable = make_key(server, business, publishable=True)
    assert server.client(publishable).post("/api/webhooks", json=HOOK).status_code == 403
    assert server.client(publishable).get("/api/webhooks").status_code == 403
    assert server.client().get("/api/webhooks").status_code == 401
    assert webhook_rows(server) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HOOK, "url": "ftp://crm.example/hooks"}, "url"),
        ({**HOOK, "url": "javascript:alert(1)"}, "url"),
        ({**HOOK, "url": "crm.example/hooks"}, "url"),
        ({**HOOK, "url": "http://"}, "url"),
        ({**HOOK, "triggers": ["link.exploded"]}, "triggers"),
        ({**HOOK, "triggers": []}, "triggers"),
        ({**HOOK, "triggers": ["payout.confirmed"]}, "triggers"),
        ({**HOOK, "name": "x" * 41}, "name"),
        ({**HOOK, "name": ""}, "name"),
        ({**HOOK, "linkScope": "folders", "folderIds": ["fold_1"]}, "linkScope"),
        ({**HOOK, "linkScope": "links"}, "linkIds"),
        ({**HOOK, "linkScope": "links", "linkIds": ["link_nope"]}, "linkIds"),
        ({**HOOK, "linkIds": ["link_nope"]}, "linkIds"),
        ({"url": HOOK["url"], "triggers": HOOK["triggers"]}, "name"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    server: LiveServer, body: dict[str, object], field: str
) -> None:
    tenant = make_tenant(server)
    answer = server.client(tenant.token).post("/api/webhooks", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert field in error_of(answer)["message"], answer.text
    assert webhook_rows(server) == 0


def test_a_bad_update_changes_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    hook = http.post("/api/webhooks", json=HOOK).json()
    answer = http.patch(
        f"/api/webhooks/{hook['id']}", json={"name": "New", "url": "gopher://crm.example"}
    )
    assert answer.status_code == 422
    assert http.get(f"/api/webhooks/{hook['id']}").json()["name"] == "CRM"


def test_one_url_once_per_workspace(server: LiveServer) -> None:
    tenant, other = make_tenant(server), make_tenant(server)
    assert server.client(tenant.token).post("/api/webhooks", json=HOOK).status_code == 201
    again = server.client(tenant.token).post("/api/webhooks", json=HOOK)
    assert again.status_code == 409
    # Another workspace may point at the same receiver.
    assert server.client(other.token).post("/api/webhooks", json=HOOK).status_code == 201


def test_a_bounded_number_per_workspace(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_PER_WORKSPACE", 2)
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    for n in range(2):
        made = http.post("/api/webhooks", json={**HOOK, "url": f"https://crm.example/{n}"})
        assert made.status_code == 201, made.text
    refused = http.post("/api/webhooks", json={**HOOK, "url": "https://crm.example/3"})
    assert refused.status_code == 403
    assert "limit" in error_of(refused)["message"]
    assert webhook_rows(server) == 2


def test_link_scope_names_the_workspaces_links_only(server: LiveServer) -> None:
    tenant, other = make_tenant(server), make_tenant(server)
    mine = server.client(tenant.token).post("/api/links", json={"url": "https://a.example"})
    theirs = server.client(other.token).post("/api/links", json={"url": "https://b.example"})
    scoped = {**HOOK, "linkScope": "links"}
    refused = server.client(tenant.token).post(
        "/api/webhooks", json={**scoped, "linkIds": [theirs.json()["id"]]}
    )
    assert refused.status_code == 422
    made = server.client(tenant.token).post(
        "/api/webhooks", json={**scoped, "linkIds": [mine.json()["id"]]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["linkIds"] == [mine.json()["id"]]


def test_another_workspace_gets_404(server: LiveServer) -> None:
    owner, other = make_tenant(server), make_tenant(server)
    hook = server.client(owner.token).post("/api/webhooks", json=HOOK).json()
    http = server.client(other.token)
    path = f"/api/webhooks/{hook['id']}"
    assert http.get(path).status_code == 404
    assert http.patch(path, json={"name": "Mine"}).status_code == 404
    assert http.post(f"{path}/secret").status_code == 404
    assert http.delete(path).status_code == 404
    assert http.get("/api/webhooks").json() == []
    assert server.client(owner.token).get(path).json() == hook
