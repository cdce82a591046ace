"""Route-level behaviour of the links API: concurrency and the published description."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer
from tests.factories import make_tenant

from .helpers import counts, error_of


def test_concurrent_creates_of_one_key_make_one_link(server: LiveServer) -> None:
    tenant = make_tenant(server)
    workspace_before = counts(server, tenant.workspace_id)["links"]

    def create(i: int) -> httpx.Response:
        with httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {tenant.token}"}
        ) as client:
            return client.post(
                "/api/links",
                json={"url": f"https://example.com/{i}", "key": "race", "tagNames": [f"t{i}"]},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, range(16)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 15, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert error_of(response)["message"].startswith("key: ")
    after = counts(server, tenant.workspace_id)
    assert after["links"] == workspace_before + 1
    assert after["link_tags"] == 1


def test_the_links_routes_are_described_in_openapi(server: LiveServer) -> None:
    spec = server.client().get("/api/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/api/links"]) == {"get", "post"}
    assert set(paths["/api/links/bulk"]) == {"post", "patch", "delete"}
    assert set(paths["/api/links/{link_id}"]) == {"get", "patch", "delete"}
    assert "put" in paths["/api/links/upsert"]
    assert {"get"} == set(paths["/api/links/info"]) == set(paths["/api/links/count"])
