"""The request owns its transaction: committed before the answer leaves, rolled back on error."""

from __future__ import annotations

from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.link.helpers import counts


def test_a_write_is_committed_before_its_answer_is_sent(server: LiveServer) -> None:
    # With the commit after the response, the next request could miss the write (it did:
    # a few percent of reads on PostgreSQL).
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    for i in range(100):
        created = api.post("/api/links", json={"url": f"https://example.com/{i}"})
        assert created.status_code == 200
        link_id = created.json()["id"]
        assert api.get(f"/api/links/{link_id}").status_code == 200, i
        assert api.delete(f"/api/links/{link_id}").status_code == 200
        assert api.get(f"/api/links/{link_id}").status_code == 404, i


def test_a_refused_update_leaves_nothing_behind(server: LiveServer) -> None:
    tenant = make_tenant(server)
    api = server.client(tenant.token)
    link = api.post("/api/links", json={"url": "https://example.com/"}).json()
    before = counts(server)
    # Neither the title nor the new tag survives the unknown tag id.
    response = api.patch(
        f"/api/links/{link['id']}",
        json={"title": "changed", "tagNames": ["fresh"], "tagIds": ["tag_unknown"]},
    )
    assert response.status_code == 422
    assert counts(server) == before
    assert api.get(f"/api/links/{link['id']}").json()["title"] is None
