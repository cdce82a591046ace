"""A key of workspace A never reaches workspace B's links: 404, nothing shown, nothing changed
(SPEC §2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dub.models import errors

from tests.conftest import LiveServer
from tests.factories import Tenant, make_tenant

from .helpers import add_domain, dub_sdk, error_of

SAME_URL = "https://shared.example/landing"


class Pair:
    """Workspace A (the intruder) and B (the owner of ``b_link``)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.a: Tenant = make_tenant(server)
        self.b: Tenant = make_tenant(server)
        self.a_http = server.client(self.a.token)
        self.b_http = server.client(self.b.token)
        response = self.b_http.post(
            "/api/links",
            json={
                "url": SAME_URL,
                "key": "b-owned",
                "externalId": "b-only",
                "title": "B's link",
                "tagNames": ["b-tag"],
            },
        )
        assert response.status_code == 200, response.text
        self.b_link: dict[str, Any] = response.json()
        self.b_tag = self.b_link["tags"][0]["id"]
        response = self.a_http.post("/api/links", json={"url": "https://a.example/own"})
        assert response.status_code == 200, response.text
        self.a_link: dict[str, Any] = response.json()

    def b_unchanged(self) -> None:
        """B still sees its link exactly as it was."""
        response = self.b_http.get(f"/api/links/{self.b_link['id']}")
        assert response.status_code == 200
        assert response.json() == self.b_link


@pytest.fixture
def pair(server: LiveServer) -> Pair:
    return Pair(server)


def assert_404(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "not_found"
    assert "B's link" not in response.text


def test_reads_of_b_link_are_404(pair: Pair) -> None:
    b_id = pair.b_link["id"]
    assert_404(pair.a_http.get(f"/api/links/{b_id}"))
    assert_404(pair.a_http.get("/api/links/ext_b-only"))
    assert_404(pair.a_http.get("/api/links/info", params={"linkId": b_id}))
    assert_404(pair.a_http.get("/api/links/info", params={"externalId": "b-only"}))
    assert_404(
        pair.a_http.get(
            "/api/links/info", params={"domain": pair.b_link["domain"], "key": "b-owned"}
        )
    )
    assert_404(pair.a_http.get("/api/links", params={"startingAfter": b_id}))
    assert_404(pair.a_http.get("/api/links", params={"endingBefore": b_id}))
    pair.b_unchanged()


def test_writes_to_b_link_are_404_and_change_nothing(pair: Pair) -> None:
    b_id = pair.b_link["id"]
    assert_404(pair.a_http.patch(f"/api/links/{b_id}", json={"title": "pwned"}))
    assert_404(pair.a_http.patch("/api/links/ext_b-only", json={"title": "pwned"}))
    assert_404(pair.a_http.delete(f"/api/links/{b_id}"))
    assert_404(pair.a_http.delete("/api/links/ext_b-only"))
    assert_404(
        pair.a_http.patch("/api/links/bulk", json={"linkIds": [b_id], "data": {"title": "x"}})
    )
    assert_404(
        pair.a_http.patch(
            "/api/links/bulk", json={"externalIds": ["b-only"], "data": {"title": "x"}}
        )
    )
    # One of A's own ids beside B's: still 404, and A's own link is not half-updated.
    assert_404(
        pair.a_http.patch(
            "/api/links/bulk",
            json={"linkIds": [pair.a_link["id"], b_id], "data": {"title": "half"}},
        )
    )
    assert pair.a_http.get(f"/api/links/{pair.a_link['id']}").json()["title"] is None
    pair.b_unchanged()


def test_bulk_delete_skips_b_link(pair: Pair) -> None:
    response = pair.a_http.request(
        "DELETE", "/api/links/bulk", params={"linkIds": f"{pair.b_link['id']},ext_b-only"}
    )
    assert response.status_code == 200
    assert response.json() == {"deletedCount": 0}
    pair.b_unchanged()


def test_upsert_with_b_url_creates_a_link_of_a(pair: Pair) -> None:
    response = pair.a_http.put("/api/links/upsert", json={"url": SAME_URL, "title": "A's"})
    assert response.status_code == 200
    mine = response.json()
    assert mine["id"] != pair.b_link["id"]
    assert mine["workspaceId"] == pair.a.workspace_id
    assert mine["title"] == "A's"
    pair.b_unchanged()


def test_list_and_count_never_show_b_links(pair: Pair) -> None:
    listed = pair.a_http.get("/api/links", params={"showArchived": "true"}).json()
    assert [link["id"] for link in listed] == [pair.a_link["id"]]
    assert pair.a_http.get("/api/links", params={"search": "shared"}).json() == []
    assert pair.a_http.get("/api/links", params={"tagIds": pair.b_tag}).json() == []
    assert pair.a_http.get("/api/links", params={"tagNames": "b-tag"}).json() == []
    assert pair.a_http.get("/api/links", params={"userId": pair.b.user_id}).json() == []
    assert pair.a_http.get("/api/links/count").json() == 1
    assert pair.a_http.get("/api/links/count", params={"tagIds": pair.b_tag}).json() == 0
    grouped = pair.a_http.get("/api/links/count", params={"groupBy": "tagId"}).json()
    assert grouped == []
    by_user = pair.a_http.get("/api/links/count", params={"groupBy": "userId"}).json()
    assert by_user == [{"userId": pair.a.user_id, "_count": 1}]


def test_b_tags_and_domains_cannot_be_used_by_a(pair: Pair, server: LiveServer) -> None:
    response = pair.a_http.post(
        "/api/links", json={"url": "https://a.example/t", "tagIds": [pair.b_tag]}
    )
    assert response.status_code == 422
    assert "tagIds" in error_of(response)["message"]
    add_domain(server, pair.b.workspace_id, "go.b-brand.example")
    response = pair.a_http.post(
        "/api/links", json={"url": "https://a.example/d", "domain": "go.b-brand.example"}
    )
    assert response.status_code == 403
    assert "domain" in error_of(response)["message"]
    response = pair.a_http.patch(
        f"/api/links/{pair.a_link['id']}", json={"domain": "go.b-brand.example"}
    )
    assert response.status_code == 403
    assert pair.a_http.get("/api/links/count").json() == 1
    pair.b_unchanged()


def test_external_ids_are_per_workspace(pair: Pair) -> None:
    response = pair.a_http.post(
        "/api/links", json={"url": "https://a.example/e", "externalId": "b-only"}
    )
    assert response.status_code == 200
    mine = response.json()
    assert pair.a_http.get("/api/links/ext_b-only").json()["id"] == mine["id"]
    assert pair.b_http.get("/api/links/ext_b-only").json()["id"] == pair.b_link["id"]
    pair.b_unchanged()


def test_the_sdk_sees_not_found(pair: Pair, server: LiveServer) -> None:
    with dub_sdk(server, pair.a.token) as dub:
        with pytest.raises(errors.NotFound):
            dub.links.get(request={"link_id": pair.b_link["id"]})
        with pytest.raises(errors.NotFound):
            dub.links.update(link_id=pair.b_link["id"], request_body={"title": "x"})
        with pytest.raises(errors.NotFound):
            dub.links.delete(link_id=pair.b_link["id"])
        assert dub.links.delete_many(request={"link_ids": [pair.b_link["id"]]}).deleted_count == 0
    pair.b_unchanged()
