"""What bad input gets on every links route (SPEC §8): a 4xx in the error envelope whose message
names the field and why, and nothing written."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from codeqr.workspace import service as ws
from tests.conftest import LiveServer
from tests.factories import Tenant, make_key, make_tenant
from tests.link.helpers import add_domain, counts, db_link, error_of

FRESH_URL = "https://fresh.example/"


@dataclass
class World:
    """A workspace with two links, and a way to prove nothing in it changed."""

    server: LiveServer
    tenant: Tenant
    api: httpx.Client
    target: dict[str, Any]
    other: dict[str, Any]

    def snapshot(self) -> tuple[Any, ...]:
        return (
            counts(self.server),
            db_link(self.server, self.target["id"]),
            db_link(self.server, self.other["id"]),
        )


@pytest.fixture
def world(server: LiveServer) -> World:
    tenant = make_tenant(server, plan="business")
    api = server.client(tenant.token)
    made = []
    for body in (
        {"url": "https://target.example/", "key": "target-key", "externalId": "target-ext"},
        {"url": "https://other.example/", "key": "other-key", "externalId": "other-ext"},
    ):
        response = api.post("/api/links", json={**body, "title": "Original", "tagNames": ["t"]})
        assert response.status_code == 200, response.text
        made.append(response.json())
    return World(server, tenant, api, made[0], made[1])


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: Any = None
    params: dict[str, str] | None = None

    def send(self, client: httpx.Client, world: World, **kwargs: Any) -> httpx.Response:
        path = self.path.replace("{id}", world.target["id"])
        params = {k: v.replace("{id}", world.target["id"]) for k, v in (self.params or {}).items()}
        if "body" not in kwargs and "content" not in kwargs and self.body is not None:
            kwargs["json"] = _fill(self.body, world)
        elif "body" in kwargs:
            kwargs["json"] = _fill(kwargs.pop("body"), world)
        return client.request(self.method, path, params=params, **kwargs)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _fill(body: Any, world: World) -> Any:
    if body == "{id}":
        return world.target["id"]
    if isinstance(body, dict):
        return {k: _fill(v, world) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, world) for v in body]
    return body


CREATE = Route("POST", "/api/links", {"url": FRESH_URL})
UPSERT = Route("PUT", "/api/links/upsert", {"url": FRESH_URL})
BULK_CREATE = Route("POST", "/api/links/bulk", [{"url": FRESH_URL}])
UPDATE = Route("PATCH", "/api/links/{id}", {"title": "Changed"})
BULK_UPDATE = Route("PATCH", "/api/links/bulk", {"linkIds": ["{id}"], "data": {"title": "Changed"}})
ROUTES = [
    CREATE,
    Route("GET", "/api/links"),
    Route("GET", "/api/links/info", params={"linkId": "{id}"}),
    Route("GET", "/api/links/count"),
    Route("GET", "/api/links/{id}"),
    UPDATE,
    Route("DELETE", "/api/links/{id}"),
    UPSERT,
    BULK_CREATE,
    BULK_UPDATE,
    Route("DELETE", "/api/links/bulk", params={"linkIds": "{id}"}),
]
BODY_ROUTES = [CREATE, UPSERT, BULK_CREATE, UPDATE, BULK_UPDATE]


def with_fields(route: Route, fields: dict[str, Any]) -> Any:
    """The body of ``route`` carrying ``fields`` (create routes get a fresh url by default)."""
    if route in (CREATE, UPSERT):
        return {"url": FRESH_URL, **fields}
    if route is BULK_CREATE:
        return [{"url": FRESH_URL, **fields}]
    if route is UPDATE:
        return fields
    return {"linkIds": ["{id}"], "data": fields}


def assert_refused(response: httpx.Response, status: int, *words: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = error_of(response)
    for word in words:
        assert word.lower() in error["message"].lower(), (word, error)
    return error


# -- who is calling ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_missing_or_invalid_authorization_is_401(world: World, route: Route) -> None:
    before = world.snapshot()
    bare = world.server.client()
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    x"},
        {"Authorization": f"Basic {world.tenant.token}"},
        {"Authorization": world.tenant.token},
        {"Authorization": "Bearer cq_not_a_key"},
        {"Authorization": f"Bearer {world.tenant.token}x"},
    ):
        error = assert_refused(route.send(bare, world, headers=headers), 401)
        assert error["code"] == "unauthorized"
    assert world.snapshot() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_publishable_and_revoked_keys_are_refused(world: World, route: Route) -> None:
    before = world.snapshot()
    publishable = world.server.client(make_key(world.server, world.tenant, publishable=True))
    assert_refused(route.send(publishable, world), 403, "publishable")
    with world.server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, world.tenant.slug)
        created = ws.create_api_key(session, workspace)
        ws.revoke_api_key(session, workspace, created.key.id)
    revoked = world.server.client(created.token)
    assert_refused(route.send(revoked, world), 401)
    assert world.snapshot() == before


# -- bodies that are not JSON, or too big ----------------------------------------------------


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_malformed_json_is_400(world: World, route: Route) -> None:
    before = world.snapshot()
    for raw in ('{"url": ', "{bad}", "[1,", "nul", '{"url": "x"} trailing', "\xff\xfe"):
        response = route.send(
            world.api,
            world,
            content=raw.encode("latin-1"),
            headers={"content-type": "application/json"},
        )
        error = assert_refused(response, 400, "JSON")
        assert error["code"] == "bad_request"
    response = route.send(
        world.api,
        world,
        content=b'{"url": "https://x.example"}',
        headers={"content-type": "text/plain"},
    )
    assert_refused(response, 400, "application/json")
    assert world.snapshot() == before


def test_required_bodies_must_be_sent(world: World) -> None:
    before = world.snapshot()
    for route in (CREATE, UPSERT, BULK_CREATE, BULK_UPDATE):
        response = world.api.request(route.method, route.path)
        assert_refused(response, 422, "body", "required")
    assert world.snapshot() == before


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_oversize_bodies_are_413(world: World, route: Route) -> None:
    before = world.snapshot()
    limit = world.server.services.settings.max_body_bytes
    big = with_fields(route, {"comments": "x" * (limit + 10)})
    error = assert_refused(route.send(world.api, world, body=big), 413, str(limit))
    assert error["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        yield b'{"comments": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = route.send(
        world.api, world, content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refused(response, 413, str(limit))
    assert world.snapshot() == before


def test_a_chunked_body_under_the_limit_goes_through(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"url": "https://chunked.example/", '
        yield b'"comments": "' + b"y" * 9_000 + b'"}'

    response = world.api.post(
        "/api/links", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["url"] == "https://chunked.example/"


# -- fields: wrong types, unknown values, refused URLs and keys ------------------------------

FIELD_CASES: list[tuple[dict[str, Any], int, tuple[str, ...]]] = [
    ({"url": 123}, 422, ("url", "string")),
    ({"url": ["https://a.example"]}, 422, ("url",)),
    ({"url": "javascript:alert(1)"}, 422, ("url", "http")),
    ({"url": "ftp://files.example/x"}, 422, ("url", "http")),
    ({"url": "data:text/html,hi"}, 422, ("url", "http")),
    ({"url": "https://"}, 422, ("url", "host")),
    ({"url": "https://bad host.example"}, 422, ("url", "spaces")),
    ({"url": "https://e.example/?utm_source=" + "u" * 191}, 422, ("utm_source", "190")),
    ({"url": "x" * 32_001}, 422, ("url", "32000")),
    ({"archived": "yes"}, 422, ("archived", "boolean")),
    ({"trackConversion": 1}, 422, ("trackConversion", "boolean")),
    ({"tagIds": 5}, 422, ("tagIds",)),
    ({"tagNames": [1]}, 422, ("tagNames",)),
    ({"tagNames": ["n" * 65]}, 422, ("tagNames", "64")),
    ({"tagIds": ["tag_unknown"]}, 422, ("tagIds", "tag_unknown")),
    ({"geo": "FR"}, 422, ("geo",)),
    ({"geo": {"FR": 5}}, 422, ("geo.FR",)),
    ({"geo": {"XX": "https://a.example"}}, 422, ("geo", "country code")),
    ({"geo": {"USA": "https://a.example"}}, 422, ("geo", "country code")),
    ({"geo": {"FR": "javascript:alert(1)"}}, 422, ("geo.FR", "http")),
    ({"ios": "ftp://x.example"}, 422, ("ios", "http")),
    ({"android": "javascript:alert(1)"}, 422, ("android", "http")),
    ({"expiredUrl": "mailto:a@b.example"}, 422, ("expiredUrl", "http")),
    ({"expiresAt": "tomorrow"}, 422, ("expiresAt", "datetime")),
    ({"expiresAt": "2030-13-45T00:00:00Z"}, 422, ("expiresAt",)),
    ({"expiresAt": "0001-01-01T00:00:00+01:00"}, 422, ("expiresAt", "1970")),
    ({"expiresAt": "1900-01-01T00:00:00Z"}, 422, ("expiresAt", "1970")),
    ({"expiresAt": True}, 422, ("expiresAt",)),
    ({"keyLength": "seven"}, 422, ("keyLength",)),
    ({"keyLength": 7.5}, 422, ("keyLength",)),
    ({"keyLength": 2}, 422, ("keyLength", "3")),
    ({"title": "t" * 1001}, 422, ("title", "1000")),
    ({"title": "nul \x00 inside"}, 422, ("title", "NUL")),
    ({"comments": {"a": 1}}, 422, ("comments", "string")),
    ({"utm_source": "s" * 191}, 422, ("utm_source", "190")),
    ({"externalId": 42}, 422, ("externalId", "string")),
    ({"key": "api"}, 422, ("key", "reserved")),
    ({"key": "API"}, 422, ("key", "reserved")),
    ({"key": "api/v1"}, 422, ("key", "reserved")),
    ({"key": "_"}, 422, ("key", "reserved")),
    ({"key": "oauth"}, 422, ("key", "reserved")),
    ({"key": "static"}, 422, ("key", "reserved")),
    ({"key": "dashboard"}, 422, ("key", "reserved")),
    ({"key": "a b"}, 422, ("key", "spaces")),
    ({"key": "a?b"}, 422, ("key", "'?'")),
    ({"key": "a#b"}, 422, ("key", "'#'")),
    ({"key": "100%"}, 422, ("key", "'%'")),
    ({"key": "a//b"}, 422, ("key", "empty path segments")),
    ({"key": "../etc"}, 422, ("key", "'..'")),
    ({"key": "tab\there"}, 422, ("key",)),
    ({"key": "k" * 191}, 422, ("key", "190")),
    ({"key": 7}, 422, ("key", "string")),
    ({"prefix": "a b"}, 422, ("key",)),
    ({"domain": "bad domain/x"}, 422, ("domain",)),
    ({"domain": "not-mine.example"}, 403, ("domain", "workspace")),
    ({"key": "OTHER-KEY"}, 409, ("key", "already exists")),
    ({"externalId": "other-ext"}, 409, ("externalId", "already exists")),
]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_bad_fields_are_refused_naming_the_field(world: World, route: Route) -> None:
    before = world.snapshot()
    for fields, status, words in FIELD_CASES:
        if "prefix" in fields and route not in (CREATE, UPSERT, BULK_CREATE):
            continue  # a prefix only shapes new keys
        response = route.send(world.api, world, body=with_fields(route, fields))
        if route is BULK_CREATE:
            # Each item answers for itself, in place, in Dub's LinkErrorSchema.
            assert response.status_code == 200, (fields, response.text)
            [item] = response.json()
            assert set(item) == {"link", "error", "code"}, (fields, item)
            assert (
                item["code"]
                == {422: "unprocessable_entity", 403: "forbidden", 409: "conflict"}[status]
            )
            for word in words:
                assert word.lower() in item["error"].lower(), (fields, word, item)
        else:
            try:
                assert_refused(response, status, *words)
            except AssertionError as exc:
                raise AssertionError(f"{route} {str(fields)[:120]}: {exc}") from None
        assert world.snapshot() == before, fields


def test_an_empty_or_null_url_cannot_replace_the_destination(world: World) -> None:
    before = world.snapshot()
    for url in ("", "   ", None):
        assert_refused(
            world.api.patch(f"/api/links/{world.target['id']}", json={"url": url}), 422, "url"
        )
    assert_refused(world.api.post("/api/links", json={"url": ""}), 422, "url")
    assert_refused(world.api.post("/api/links", json={"url": None}), 422, "url")
    assert_refused(world.api.post("/api/links", json={"title": "no url"}), 422, "url", "required")
    assert world.snapshot() == before


def test_bodies_of_the_wrong_shape(world: World) -> None:
    before = world.snapshot()
    for route, body in (
        (CREATE, [{"url": FRESH_URL}]),
        (CREATE, "https://x.example"),
        (UPSERT, 5),
        (UPDATE, ["title"]),
        (BULK_CREATE, {"url": FRESH_URL}),
        (BULK_UPDATE, {"linkIds": "{id}", "data": {}}),
        (BULK_UPDATE, {"linkIds": ["{id}"], "data": "title"}),
        (BULK_UPDATE, {"linkIds": ["{id}"]}),
    ):
        response = route.send(world.api, world, body=body)
        assert_refused(response, 422, "body" if not isinstance(body, dict) else "")
    assert world.snapshot() == before


# -- query strings and paths -----------------------------------------------------------------

QUERY_CASES: list[tuple[str, dict[str, str], int, tuple[str, ...]]] = [
    ("/api/links", {"page": "abc"}, 422, ("page", "integer")),
    ("/api/links", {"page": "0"}, 422, ("page", "1")),
    ("/api/links", {"page": "-1"}, 422, ("page",)),
    ("/api/links", {"page": "1.5"}, 422, ("page", "integer")),
    ("/api/links", {"page": "99999999999999999999"}, 422, ("page",)),
    ("/api/links", {"pageSize": "101"}, 422, ("pageSize", "100")),
    ("/api/links", {"pageSize": "0"}, 422, ("pageSize",)),
    ("/api/links", {"pageSize": "1e3"}, 422, ("pageSize", "100")),
    ("/api/links", {"showArchived": "maybe"}, 422, ("showArchived", "boolean")),
    ("/api/links", {"sortOrder": "sideways"}, 422, ("sortOrder", "'asc' or 'desc'")),
    ("/api/links", {"domain": "a\x00b"}, 422, ("domain", "NUL")),
    ("/api/links", {"search": "s" * 501}, 422, ("search", "500")),
    ("/api/links", {"startingAfter": "link_nope"}, 404, ("link_nope",)),
    ("/api/links", {"folderId": "fold_1"}, 404, ("Folder",)),
    ("/api/links/count", {"groupBy": "country"}, 422, ("groupBy", "'domain'")),
    ("/api/links/count", {"showArchived": "2"}, 422, ("showArchived",)),
    ("/api/links/count", {"tagId": "t\x00"}, 422, ("tagId", "NUL")),
    ("/api/links/info", {}, 422, ("linkId", "externalId", "domain")),
    ("/api/links/info", {"domain": "x.example"}, 422, ("key",)),
    ("/api/links/info", {"linkId": "link\x00"}, 404, ()),
    ("/api/links/info", {"externalId": "\x00"}, 404, ()),
    ("/api/links/info", {"domain": "\x00", "key": "k"}, 404, ()),
    ("/api/links/info", {"linkId": "l" * 201}, 422, ("linkId", "200")),
]


def test_bad_query_parameters(world: World) -> None:
    before = world.snapshot()
    for path, params, status, words in QUERY_CASES:
        try:
            assert_refused(world.api.get(path, params=params), status, *words)
        except AssertionError as exc:
            raise AssertionError(f"{path} {params}: {exc}") from None
    assert world.snapshot() == before


def test_bad_ids_in_paths_are_404(world: World) -> None:
    before = world.snapshot()
    for link_id in ("link_nope", "%00", "ext_", "ext_%00", "x" * 3000):
        for method in ("GET", "PATCH", "DELETE"):
            response = world.api.request(method, f"/api/links/{link_id}", json={"title": "x"})
            assert_refused(response, 404)
    assert world.snapshot() == before


def test_bulk_limits(world: World) -> None:
    before = world.snapshot()
    many = [{"url": f"https://e.example/{i}"} for i in range(101)]
    assert_refused(world.api.post("/api/links/bulk", json=many), 422, "100")
    ids = [world.target["id"]] + [f"link_{i}" for i in range(100)]
    response = world.api.patch("/api/links/bulk", json={"linkIds": ids, "data": {"title": "x"}})
    assert_refused(response, 422, "linkIds", "100")
    response = world.api.patch(
        "/api/links/bulk",
        json={"linkIds": ids[:60], "externalIds": [f"e{i}" for i in range(41)], "data": {}},
    )
    assert_refused(response, 422, "linkIds", "100")
    response = world.api.patch("/api/links/bulk", json={"linkIds": [], "data": {"title": "x"}})
    assert_refused(response, 422, "linkIds")
    response = world.api.patch(
        "/api/links/bulk",
        json={"linkIds": [world.target["id"], world.other["id"]], "data": {"key": "same"}},
    )
    assert_refused(response, 422, "key")
    response = world.api.delete("/api/links/bulk", params={"linkIds": ",".join(ids)})
    assert_refused(response, 422, "linkIds", "100")
    assert_refused(world.api.delete("/api/links/bulk"), 422, "linkIds")
    assert world.snapshot() == before


# -- plans and half-done work ----------------------------------------------------------------


@pytest.mark.parametrize("plan", ["free", "pro"])
def test_conversion_tracking_needs_the_business_plan(server: LiveServer, plan: str) -> None:
    tenant = make_tenant(server, plan=plan)
    api = server.client(tenant.token)
    link = api.post("/api/links", json={"url": "https://e.example/"}).json()
    before = (counts(server), db_link(server, link["id"]))
    tracked = {"url": "https://tracked.example/", "trackConversion": True}
    for response in (
        api.post("/api/links", json=tracked),
        api.put("/api/links/upsert", json=tracked),
        api.put("/api/links/upsert", json={**tracked, "url": "https://e.example/"}),
        api.patch(f"/api/links/{link['id']}", json={"trackConversion": True}),
        api.patch(
            "/api/links/bulk", json={"linkIds": [link["id"]], "data": {"trackConversion": True}}
        ),
    ):
        error = assert_refused(response, 403, "Business", plan)
        assert error["code"] == "forbidden"
    [item] = api.post("/api/links/bulk", json=[tracked]).json()
    assert item["code"] == "forbidden"
    assert "Business" in item["error"]
    assert (counts(server), db_link(server, link["id"])) == before
    # trackConversion false is fine on any plan.
    response = api.post("/api/links", json={**tracked, "trackConversion": False})
    assert response.status_code == 200


def test_a_bulk_update_that_fails_half_way_changes_nothing(world: World) -> None:
    # Moving both links to a custom domain: the first moves, the second's key is taken there.
    add_domain(world.server, world.tenant.workspace_id, "go.brand.example")
    response = world.api.post(
        "/api/links",
        json={"url": "https://x.example/", "domain": "go.brand.example", "key": "other-key"},
    )
    assert response.status_code == 200
    before = world.snapshot()
    response = world.api.patch(
        "/api/links/bulk",
        json={
            "linkIds": [world.target["id"], world.other["id"]],
            "data": {"domain": "go.brand.example", "title": "Moved"},
        },
    )
    assert_refused(response, 409, "other-key", "go.brand.example")
    assert world.snapshot() == before
    target = world.api.get(f"/api/links/{world.target['id']}").json()
    assert (target["domain"], target["title"]) == (world.target["domain"], "Original")


def test_a_bulk_create_with_bad_items_creates_only_the_good_ones(world: World) -> None:
    before = counts(world.server)
    response = world.api.post(
        "/api/links/bulk",
        json=[
            {"url": "https://good.example/1", "tagNames": ["new-tag"]},
            "not an object",
            {"url": "https://good.example/2", "tagIds": ["tag_missing"], "tagNames": ["never"]},
            {"url": 5},
            {"url": "https://good.example/3", "key": "target-key"},
            {"url": "https://good.example/4", "key": "fine-key"},
        ],
    )
    assert response.status_code == 200, response.text
    items = response.json()
    assert [("id" in item) for item in items] == [True, False, False, False, False, True]
    assert items[1] == {
        "link": "not an object",
        "error": items[1]["error"],
        "code": "unprocessable_entity",
    }
    assert "body" in items[1]["error"]
    assert "tag_missing" in items[2]["error"]
    assert "url" in items[3]["error"]
    assert items[4]["code"] == "conflict"
    after = counts(world.server)
    assert after["links"] == before["links"] + 2
    assert after["tags"] == before["tags"] + 1  # "never" was not made for the failed item


def test_lone_surrogates_are_refused_and_echoed_safely(world: World) -> None:
    before = world.snapshot()
    headers = {"content-type": "application/json"}
    for item in (
        b'{"url": "https://x.example", "title": "\\ud800"}',
        b'{"url": "https://x.example/\\udfff"}',
        b'{"url": "https://x.example", "geo": {"FR": "https://a.example/\\ud800"}}',
    ):
        response = world.api.post("/api/links", content=item, headers=headers)
        assert_refused(response, 422, "unicode")
        response = world.api.post("/api/links/bulk", content=b"[" + item + b"]", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()[0]["code"] == "unprocessable_entity"
    assert world.snapshot() == before


FUZZ_FIELDS = [*{f for fields, _, _ in FIELD_CASES for f in fields}, "linkIds", "data"]
FUZZ_VALUES: list[Any] = [
    "",
    "\x00",
    "a" * 40_000,
    "example.com",
    "javascript:x",
    "ext_",
    "API",
    "😀" * 100,
    "İ" * 100,
    "a" * 189 + "İ",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-23:59",
    "https://e.example/?utm_source=" + "x" * 300,
    2**64,
    -1,
    1e308,
    None,
    True,
    [],
    {},
    {"FR": None},
]


def test_random_bodies_never_get_a_5xx(world: World) -> None:
    rng = random.Random(20261126)

    def value(depth: int = 0) -> Any:
        roll = rng.random()
        if roll < 0.7 or depth > 1:
            return rng.choice(FUZZ_VALUES)
        if roll < 0.85:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(FUZZ_FIELDS): value(depth + 1) for _ in range(rng.randint(0, 3))}

    for _ in range(400):
        fields = {rng.choice(FUZZ_FIELDS): value() for _ in range(rng.randint(1, 4))}
        route = rng.choice(BODY_ROUTES)
        response = route.send(world.api, world, body=with_fields(route, fields))
        assert response.status_code < 500, (route, fields, response.text)
        if response.status_code >= 400:
            error_of(response)
