"""``AsyncCodeQR`` against a live server: the same calls as the sync client, awaited."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from codeqr import AsyncCodeQR
from codeqr.sdk import (
    ForbiddenError,
    Link,
    LinkError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableEntityError,
)
from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_create_get_update_delete(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncCodeQR(token=make_tenant(server).token, base_url=server.base) as sdk:
            link = await sdk.links.create(
                url="https://example.com/a", key="async", external_id="e1", comments="c"
            )
            assert isinstance(link, Link)
            assert (await sdk.links.get(link.id)).key == "async"
            assert (await sdk.links.get(external_id="e1")).id == link.id
            assert (await sdk.links.get(domain=link.domain, key="async")).id == link.id
            changed = await sdk.links.update("ext_e1", title="T", comments=None)
            assert (changed.title, changed.comments) == ("T", None)
            assert await sdk.links.delete(link.id) == link.id
            with pytest.raises(NotFoundError):
                await sdk.links.get(link.id)

    asyncio.run(scenario())


def test_list_count_upsert(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncCodeQR(token=make_tenant(server).token, base_url=server.base) as sdk:
            made = await asyncio.gather(
                *(sdk.links.create(url=f"https://example.com/{n}") for n in range(5))
            )
            assert await sdk.links.count() == 5
            page = await sdk.links.list(page_size=3, sort_order="asc")
            assert len(page) == 3
            assert {x.id for x in page} <= {x.id for x in made}
            again = await sdk.links.upsert(url="https://example.com/0", title="zero")
            assert again.id == next(x.id for x in made if x.url == "https://example.com/0")
            assert await sdk.links.count_by("domain") == [{"domain": made[0].domain, "_count": 5}]

    asyncio.run(scenario())


def test_bulk(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncCodeQR(token=make_tenant(server).token, base_url=server.base) as sdk:
            results = await sdk.links.create_many(
                [{"url": "https://example.com/1"}, {"url": "javascript:alert(1)"}]
            )
            assert [type(r) for r in results] == [Link, LinkError]
            ids = [r.id for r in results if isinstance(r, Link)]
            updated = await sdk.links.update_many(link_ids=ids, archived=True)
            assert [x.archived for x in updated] == [True]
            assert await sdk.links.delete_many(ids) == 1

    asyncio.run(scenario())


def test_qr_code(server: LiveServer) -> None:
    async def scenario() -> bytes:
        async with AsyncCodeQR(token=make_tenant(server).token, base_url=server.base) as sdk:
            return await sdk.qr.get(url="https://example.com", size=200, level="H")

    assert asyncio.run(scenario()).startswith(PNG_SIGNATURE)


def test_typed_errors(server: LiveServer) -> None:
    tenant = make_tenant(server)
    publishable = make_key(server, tenant, publishable=True)

    async def scenario() -> None:
        async with AsyncCodeQR(token="cq_not_a_key", base_url=server.base) as sdk:
            with pytest.raises(UnauthorizedError):
                await sdk.links.list()
        async with AsyncCodeQR(token=publishable, base_url=server.base) as sdk:
            with pytest.raises(ForbiddenError):
                await sdk.links.count()
        async with AsyncCodeQR(token=tenant.token, base_url=server.base) as sdk:
            with pytest.raises(UnprocessableEntityError) as caught:
                await sdk.links.create(url="ftp://example.com")
            assert caught.value.status == 422
            assert "url" in caught.value.message

    asyncio.run(scenario())


def test_a_given_http_client_stays_open(server: LiveServer) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            sdk = AsyncCodeQR(
                token=make_tenant(server).token, base_url=server.base, httpx_client=http
            )
            assert await sdk.links.count() == 0
            await sdk.aclose()
            assert not http.is_closed

    asyncio.run(scenario())
