"""The one-hour dedupe holds under concurrency, with and without the database's help."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from codeqr.events.dedupe import WINDOW_MS
from codeqr.kit.clock import now_ms
from tests.conftest import LiveServer
from tests.factories import make_tenant

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


@pytest.mark.parametrize("memory_complete", [True, False], ids=["memory", "database"])
def test_concurrent_repeats_of_one_visitor_record_one_click(
    server: LiveServer, memory_complete: bool
) -> None:
    """Twenty simultaneous visits of one visitor share one click id and store one click.

    ``memory`` exercises the in-flight table (memory is authoritative, as on a fresh
    database); ``database`` the check made inside the writer's transaction (as after a
    restart with clicks of the last hour stored).
    """
    tenant = make_tenant(server)
    link = (
        server.client(tenant.token)
        .post("/api/links", json={"url": "https://example.com/", "trackConversion": True})
        .json()
    )
    visitors = server.services.redirector.visitors
    visitors.start(0 if memory_complete else now_ms() + WINDOW_MS)

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


def test_visitors_memory_forgot_are_still_known(server: LiveServer) -> None:
    """More visitors than memory holds: the ones it let go of are still recognised (from
    the store's table of recent visitors on SQLite, from the events on PostgreSQL)."""
    tenant = make_tenant(server)
    client = server.client(tenant.token)
    link = client.post("/api/links", json={"url": "https://example.com/", "trackConversion": True})
    visitors = server.services.redirector.visitors
    visitors.capacity = 2
    agents = [f"{BROWSER} visitor/{n}" for n in range(5)]

    def visit(agent: str) -> str:
        answer = httpx.get(f"{server.base}/{link.json()['key']}", headers={"User-Agent": agent})
        assert answer.status_code == 302
        return answer.headers["location"].split("cq_id=")[1]

    first = [visit(agent) for agent in agents]
    assert len(set(first)) == 5
    assert not visitors.complete(now_ms())  # it had to forget three young visitors
    again = [visit(agent) for agent in agents]
    assert again == first
    assert client.get(f"/api/links/{link.json()['id']}").json()["clicks"] == 5
    with server.services.db.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM click_events WHERE link_id = :l"), {"l": link.json()["id"]}
        ).scalar_one()
    assert stored == 5
