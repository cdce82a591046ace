"""The one-hour dedupe holds under concurrency, with and without the database's help."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import LiveServer
from tests.factories import make_tenant

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


@pytest.mark.parametrize("memory_complete", [True, False], ids=["memory", "database"])
def test_concurrent_repeats_of_one_visitor_record_one_click(
    server: LiveServer, memory_complete: bool
) -> None:
    """Twenty simultaneous visits of one visitor share one click id and store one click.

    ``memory`` exercises the in-flight table (memory is authoritative, as after an hour of
    uptime); ``database`` the check made inside the writer's transaction (as after a restart).
    """
    tenant = make_tenant(server)
    link = (
        server.client(tenant.token)
        .post("/api/links", json={"url": "https://example.com/", "trackConversion": True})
        .json()
    )
    if memory_complete:
        server.services.redirector.visitors._forgot_young_until = 0

    async def visit_many() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base) as client:
            return await asyncio.gather(
                *(client.get(f"/{link['key']}", headers={"User-Agent": BROWSER}) for _ in range(20))
            )

    responses = asyncio.run(visit_many())
    ids = {r.headers["location"].split("cq_id=")[1] for r in responses}
    assert len(ids) == 1
    with server.services.db.engine.connect() as conn:
        stored = (
            conn.execute(text("SELECT id FROM click_events WHERE link_id = :l"), {"l": link["id"]})
            .scalars()
            .all()
        )
    assert stored == list(ids)
    assert server.client(tenant.token).get(f"/api/links/{link['id']}").json()["clicks"] == 1
