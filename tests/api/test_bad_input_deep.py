"""JSON no parser or writer of ours takes whole: nesting hundreds of levels deep, integers
past 64 bits, NaN and infinity, bytes that are not UTF-8 (SPEC §8). Each gets a 4xx in the
error envelope naming the field, before or after the key check, sent with a length or
chunked, and nothing is written."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.conversion.helpers import TrackedClick, leads, sales, tracked_click
from tests.factories import Tenant, make_key, make_tenant
from tests.link.helpers import counts, error_of

ORIGIN = "https://www.shop.test"
SERVER_ROUTES = ["/api/track/lead", "/api/track/sale"]
CLIENT_ROUTES = ["/api/track/lead/client", "/api/track/sale/client"]
TOO_BIG = [
    "100000000000000000000000000000",
    "18446744073709551616",  # 2**64: orjson reads it as a float
    "9223372036854775808",  # 2**63: orjson reads it as an integer
    "-9223372036854775809",
    "9" * 5000,  # past Python's own limit on digits
]
NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


def deep(levels: int, inner: str = "1") -> str:
    """``levels`` objects, one inside the other, around ``inner`` (JSON text)."""
    return '{"a": ' * levels + inner + "}" * levels


@dataclass
class Shop:
    """A business workspace with a tracked click, a customer, a publishable key and an
    allowed hostname."""

    server: LiveServer
    tenant: Tenant
    click: TrackedClick
    api: httpx.Client
    browser: httpx.Client

    def body(self, path: str, metadata: str) -> str:
        """A body of ``path`` that would be recorded, carrying ``metadata`` (JSON text)."""
        if "lead" in path:
            fields = f'"clickId": "{self.click.click_id}", "eventName": "Sign up"'
        else:
            fields = '"amount": 100, "currency": "usd"'
        return f'{{"customerExternalId": "cus_1", {fields}, "metadata": {metadata}}}'

    def send(self, path: str, text: str, *, chunked: bool = False, key: bool = True) -> Any:
        client = self.browser if path in CLIENT_ROUTES else self.api
        if not key:
            client = self.server.client()
        raw = text.encode()

        def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
            yield raw[:7]
            yield raw[7:]

        headers = {"content-type": "application/json", "origin": ORIGIN}
        return client.post(path, content=chunks() if chunked else raw, headers=headers)

    def written(self) -> tuple[int, int]:
        return (
            len(leads(self.server, self.tenant.workspace_id)),
            len(sales(self.server, self.tenant.workspace_id)),
        )


@pytest.fixture
def shop(server: LiveServer) -> Shop:
    tenant = make_tenant(server, plan="business")
    click = tracked_click(server, tenant)
    with server.services.db.transaction() as session:
        ws.get_workspace(session, tenant.slug).allowed_hostnames = ["www.shop.test"]
    browser = server.client(make_key(server, tenant, publishable=True))
    api = server.client(tenant.token)
    # The customer, tied to the click: leads and sales below would be recorded.
    first = api.post(
        "/api/track/lead",
        json={"clickId": click.click_id, "eventName": "Visit", "customerExternalId": "cus_1"},
    )
    assert first.status_code == 200, first.text
    return Shop(server, tenant, click, api, browser)


def assert_refused(response: httpx.Response, status: int, *words: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.text
    error = error_of(response)
    for word in words:
        assert word.lower() in error["message"].lower(), (word, error)
    return error


# -- metadata: depth -----------------------------------------------------------------------


@pytest.mark.parametrize("path", SERVER_ROUTES)
@pytest.mark.parametrize("levels", [300, 900])
def test_deep_metadata_without_a_key_is_a_401_not_a_plain_text_500(
    shop: Shop, path: str, levels: int
) -> None:
    """The fast receiver validated the body before the key, outside the API's error
    handlers: orjson's TypeError on 255 levels reached uvicorn, which answered plain text."""
    before = shop.written()
    for chunked in (False, True):
        response = shop.send(path, shop.body(path, deep(levels)), chunked=chunked, key=False)
        assert_refused(response, 401)
    assert shop.written() == before


@pytest.mark.parametrize("path", SERVER_ROUTES + CLIENT_ROUTES)
def test_metadata_nested_deeper_than_10_levels_is_a_422(shop: Shop, path: str) -> None:
    before = shop.written()
    for levels in (11, 40, 300, 900):
        for chunked in (False, True):
            response = shop.send(path, shop.body(path, deep(levels)), chunked=chunked)
            if path == "/api/track/sale/client" and response.status_code == 403:
                continue  # a workspace may keep client-side sales off
            assert_refused(response, 422, "metadata", "10 levels")
    assert shop.written() == before


def test_metadata_of_10_levels_is_kept(shop: Shop) -> None:
    response = shop.send("/api/track/sale", shop.body("/api/track/sale", deep(9, "[1]")))
    assert response.status_code == 200, response.text
    assert response.json()["sale"]["metadata"] == json.loads(deep(9, "[1]"))


# -- metadata: numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("path", SERVER_ROUTES + CLIENT_ROUTES)
def test_integers_past_64_bits_in_metadata_are_a_422(shop: Shop, path: str) -> None:
    before = shop.written()
    for number in TOO_BIG:
        for chunked in (False, True):
            body = shop.body(path, f'{{"n": {number}, "list": [1]}}')
            response = shop.send(path, body, chunked=chunked)
            if path == "/api/track/sale/client" and response.status_code == 403:
                continue  # a workspace may keep client-side sales off
            if len(number) > 4300:  # Python's parser gives up on it: the body as a whole
                assert_refused(response, 400)
                continue
            assert_refused(response, 422, "metadata", "integers", "9223372036854775807")
    assert shop.written() == before


@pytest.mark.parametrize("path", SERVER_ROUTES + CLIENT_ROUTES)
def test_nan_and_infinity_in_metadata_are_a_422(shop: Shop, path: str) -> None:
    before = shop.written()
    for number in NOT_FINITE:
        for chunked in (False, True):
            response = shop.send(path, shop.body(path, f'{{"x": [{number}]}}'), chunked=chunked)
            if path == "/api/track/sale/client" and response.status_code == 403:
                continue  # a workspace may keep client-side sales off
            assert_refused(response, 422, "metadata", "finite")
    assert shop.written() == before


def test_64_bit_integers_are_kept_exactly(shop: Shop) -> None:
    metadata = {"max": 2**63 - 1, "min": -(2**63), "u": 12345678901234567890 // 10}
    for chunked in (False, True):
        body = shop.body("/api/track/sale", json.dumps(metadata))
        response = shop.send("/api/track/sale", body, chunked=chunked)
        assert response.status_code == 200, response.text
        assert response.json()["sale"]["metadata"] == metadata
    stored = sales(shop.server, shop.tenant.workspace_id)
    assert [s["metadata"] for s in stored[-2:]] == [metadata, metadata]


def test_long_digit_strings_are_only_text(shop: Shop) -> None:
    """Twenty digits in a row send the fast receiver's call to the API: same answer."""
    digits = "1234567890" * 3
    for chunked in (False, True):
        body = shop.body("/api/track/sale", json.dumps({"order": digits}))
        response = shop.send("/api/track/sale", body, chunked=chunked)
        assert response.status_code == 200, response.text
        assert response.json()["sale"]["metadata"] == {"order": digits}


# -- whole bodies --------------------------------------------------------------------------

JSON_ROUTES = [
    ("POST", "/api/links", '{"url": "https://x.example/", "extra": %s}'),
    ("PATCH", "/api/links/{link}", '{"title": "t", "extra": %s}'),
    ("PUT", "/api/links/upsert", '{"url": "https://x.example/", "extra": %s}'),
    ("POST", "/api/links/bulk", '[{"url": "https://x.example/", "extra": %s}]'),
    ("PATCH", "/api/links/bulk", '{"linkIds": ["{link}"], "data": {"title": "t"}, "x": %s}'),
    ("POST", "/api/customers", '{"externalId": "cus_9", "extra": %s}'),
    ("PATCH", "/api/customers/ext_cus_1", '{"name": "n", "extra": %s}'),
    ("PATCH", "/api/workspaces/{slug}", '{"name": "n", "extra": %s}'),
    ("PATCH", "/api/stripe/integration", '{"extra": %s}'),
    ("POST", "/api/track/lead", '{"customerExternalId": "cus_1", "eventName": "e", "x": %s}'),
    ("POST", "/api/track/sale", '{"customerExternalId": "cus_1", "amount": 1, "x": %s}'),
    ("POST", "/api/track/click", '{"domain": "d", "key": "k", "extra": %s}'),
    ("POST", "/api/track/lead/client", '{"customerExternalId": "c", "eventName": "e", "x": %s}'),
    ("POST", "/api/track/sale/client", '{"customerExternalId": "c", "amount": 1, "x": %s}'),
]


def _route(shop: Shop, method: str, path: str, template: str) -> tuple[str, str, str]:
    link = shop.click.link_id
    path = path.replace("{link}", link).replace("{slug}", shop.tenant.slug)
    return method, path, template.replace("{link}", link)


def _client(shop: Shop, path: str) -> httpx.Client:
    return shop.browser if path in CLIENT_ROUTES or path == "/api/track/click" else shop.api


@pytest.mark.parametrize(("method", "path", "template"), JSON_ROUTES, ids=lambda v: str(v)[:30])
def test_bodies_nested_past_the_parser_are_a_400(
    shop: Shop, method: str, path: str, template: str
) -> None:
    method, path, template = _route(shop, method, path, template)
    before = (shop.written(), counts(shop.server))
    for text in (template % deep(5000), "[" * 100_000 + "]" * 100_000):
        response = _client(shop, path).request(
            method, path, content=text, headers={"content-type": "application/json"}
        )
        if response.status_code in (401, 403, 413):
            continue  # refused before the body is read
        assert_refused(response, 400, "JSON", "nested too deeply")
    assert (shop.written(), counts(shop.server)) == before


def test_bulk_items_nested_deeper_than_32_levels_are_a_422(shop: Shop) -> None:
    """A failed bulk item is echoed back whole: past ~250 levels that echo crashed."""
    before = counts(shop.server)
    for levels in (33, 250, 300, 900):
        item = f'{{"url": "https://x.example/{levels}", "extra": {deep(levels)}}}'
        for body in (f"[{item}]", f'[{deep(levels)}, {{"url": "https://y.example/"}}]'):
            response = shop.api.post(
                "/api/links/bulk", content=body, headers={"content-type": "application/json"}
            )
            assert_refused(response, 422, "[0]", "32 levels")
    assert counts(shop.server) == before
    item = f'{{"url": "https://x.example/ok", "extra": {deep(31)}}}'
    response = shop.api.post(
        "/api/links/bulk", content=f"[{item}]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()[0]["url"] == "https://x.example/ok"


HOSTILE = [deep(30), deep(300), "[" * 300 + "]" * 300, *TOO_BIG[:3], *NOT_FINITE]


def test_hostile_values_anywhere_never_get_a_5xx(shop: Shop) -> None:
    rng = random.Random(20261206)
    for route in JSON_ROUTES:
        method, path, template = _route(shop, *route)
        for value in HOSTILE:
            text = template % value
            # The same value in a known field of the route, where one is easy to name.
            for body in (text, text.replace('"extra"', '"title"').replace('"x"', '"metadata"')):
                key = rng.random() < 0.8
                client = _client(shop, path) if key else shop.server.client()
                chunked = rng.random() < 0.5
                raw = body.encode()
                response = client.request(
                    method,
                    path,
                    content=iter([raw[:5], raw[5:]]) if chunked else raw,
                    headers={"content-type": "application/json", "origin": ORIGIN},
                )
                assert response.status_code < 500, (path, body[:80], response.text)
                if response.status_code >= 400:
                    assert response.headers["content-type"] == "application/json"
                    error_of(response)


@pytest.mark.parametrize(("method", "path", "template"), JSON_ROUTES, ids=lambda v: str(v)[:30])
def test_bytes_that_are_not_json_text_are_a_400(
    shop: Shop, method: str, path: str, template: str
) -> None:
    method, path, template = _route(shop, method, path, template)
    before = (shop.written(), counts(shop.server))
    body = (template % '"\xff"').encode("latin-1")
    for content, content_type in (
        (body, "application/json"),
        (b"\xff\xfe\x00\x00", "application/json"),
        ((template % "1").encode(), "text/plain"),
        ((template % "1").encode(), "application/x-www-form-urlencoded"),
    ):
        response = _client(shop, path).request(
            method, path, content=content, headers={"content-type": content_type, "origin": ORIGIN}
        )
        if response.status_code in (401, 403):
            continue  # refused before the body is read
        words = ["UTF-8"] if content is body else []
        assert_refused(response, 400, *words)
    assert (shop.written(), counts(shop.server)) == before
