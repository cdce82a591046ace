"""Link rules over HTTP: keys, UTM folding, tags, external ids, expiry, passwords, counts
(SPEC §3.1)."""

from __future__ import annotations

import string
from typing import Any

import httpx
import pytest

from codeqr.kit.passwords import verify_password
from tests.conftest import LiveServer
from tests.factories import make_tenant

from .helpers import add_domain, counts, db_link, error_of

BASE62 = set(string.digits + string.ascii_letters)


@pytest.fixture
def api(server: LiveServer) -> httpx.Client:
    return server.client(make_tenant(server).token)


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("url", "https://example.com/")
    response = api.post("/api/links", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_keys_are_case_insensitive(api: httpx.Client) -> None:
    hello = create(api, key="hello")
    response = api.post("/api/links", json={"url": "https://example.com/", "key": "Hello"})
    assert response.status_code == 409
    assert "Hello" in error_of(response)["message"]
    other = create(api, key="other")
    response = api.patch(f"/api/links/{other['id']}", json={"key": "HELLO"})
    assert response.status_code == 409
    assert api.get(f"/api/links/{other['id']}").json()["key"] == "other"
    # The key keeps the case it was given, and is found in any case.
    mixed = create(api, key="MiXeD")
    assert mixed["key"] == "MiXeD"
    found = api.get("/api/links/info", params={"domain": mixed["domain"], "key": "mixed"})
    assert found.json()["id"] == mixed["id"]
    # Renaming a link to another case of its own key is allowed.
    renamed = api.patch(f"/api/links/{hello['id']}", json={"key": "HeLLo"})
    assert renamed.status_code == 200
    assert renamed.json()["key"] == "HeLLo"


def test_random_keys_are_seven_base62_characters(api: httpx.Client) -> None:
    keys = [create(api)["key"] for _ in range(20)]
    assert all(len(k) == 7 and set(k) <= BASE62 for k in keys)
    assert len(set(keys)) == 20
    assert len(create(api, keyLength=12)["key"]) == 12
    prefixed = create(api, prefix="/promo/")
    assert prefixed["key"].startswith("promo/")
    assert len(prefixed["key"]) == len("promo/") + 7
    assert create(api, prefix="guide", key="intro")["key"] == "guide/intro"
    response = api.post("/api/links", json={"url": "https://x.example", "prefix": "docs"})
    assert response.status_code == 422  # the prefix is checked like a key: reserved


def test_utm_fields_are_folded_into_the_url(api: httpx.Client) -> None:
    link = create(
        api,
        url="https://example.com/p?ref=a%20b&flag",
        utm_source="news letter",
        utm_medium="email",
    )
    # The rest of the query is kept as it was given.
    assert (
        link["url"]
        == "https://example.com/p?ref=a%20b&flag&utm_source=news+letter&utm_medium=email"
    )
    assert (link["utm_source"], link["utm_medium"], link["utm_campaign"]) == (
        "news letter",
        "email",
        None,
    )
    patched = api.patch(
        f"/api/links/{link['id']}", json={"utm_source": None, "utm_campaign": "spring"}
    ).json()
    assert (
        patched["url"]
        == "https://example.com/p?ref=a%20b&flag&utm_medium=email&utm_campaign=spring"
    )
    assert (patched["utm_source"], patched["utm_campaign"]) == (None, "spring")
    # UTM parameters already in the destination are read back as fields.
    from_url = create(api, url="https://example.com/?utm_source=ads&utm_term=shoes")
    assert (from_url["utm_source"], from_url["utm_term"]) == ("ads", "shoes")
    # A new url replaces the old parameters, unless fields are sent beside it.
    moved = api.patch(f"/api/links/{from_url['id']}", json={"url": "https://example.org/"})
    assert moved.json()["utm_source"] is None


def test_tags_by_names_and_ids(api: httpx.Client, server: LiveServer) -> None:
    first = create(api, tagNames=["Launch", "email"])
    names = {t["name"]: t["id"] for t in first["tags"]}
    assert set(names) == {"Launch", "email"}
    assert all(t["color"] == "blue" for t in first["tags"])
    # Names are matched without case: no duplicate tag is made.
    second = create(api, tagNames="launch")
    assert [t["id"] for t in second["tags"]] == [names["Launch"]]
    by_ids = create(api, tagIds=[names["email"]])
    assert [t["name"] for t in by_ids["tags"]] == ["email"]
    by_csv = create(api, tagIds=f"{names['email']},{names['Launch']}")
    assert {t["name"] for t in by_csv["tags"]} == {"Launch", "email"}
    by_tag_id = create(api, tagId=names["email"])
    assert by_tag_id["tagId"] == names["email"]
    replaced = api.patch(f"/api/links/{first['id']}", json={"tagNames": ["new"]}).json()
    assert [t["name"] for t in replaced["tags"]] == ["new"]
    cleared = api.patch(f"/api/links/{first['id']}", json={"tagIds": []}).json()
    assert cleared["tags"] == []
    assert cleared["tagId"] is None
    workspace = first["workspaceId"]
    assert counts(server, workspace)["tags"] == 3
    unknown = api.post("/api/links", json={"url": "https://x.example", "tagIds": ["tag_nope"]})
    assert unknown.status_code == 422
    assert "tag_nope" in error_of(unknown)["message"]
    assert counts(server, workspace)["tags"] == 3


def test_external_ids(api: httpx.Client) -> None:
    link = create(api, externalId="crm-1")
    assert api.get("/api/links/ext_crm-1").json()["id"] == link["id"]
    response = api.post("/api/links", json={"url": "https://x.example", "externalId": "crm-1"})
    assert response.status_code == 409
    assert "externalId" in error_of(response)["message"]
    other = create(api, externalId="crm-2")
    response = api.patch(f"/api/links/{other['id']}", json={"externalId": "crm-1"})
    assert response.status_code == 409
    assert api.patch("/api/links/ext_crm-2", json={"externalId": None}).status_code == 200
    assert api.get("/api/links/ext_crm-2").status_code == 404


def test_expires_at_round_trips_in_utc(api: httpx.Client, server: LiveServer) -> None:
    link = create(api, expiresAt="2031-01-02T03:04:05.678+02:00", expiredUrl="example.com/gone")
    assert link["expiresAt"] == "2031-01-02T01:04:05.678Z"
    assert link["expiredUrl"] == "https://example.com/gone"
    assert api.get(f"/api/links/{link['id']}").json()["expiresAt"] == "2031-01-02T01:04:05.678Z"
    naive = create(api, expiresAt="2031-06-01T12:00:00")
    assert naive["expiresAt"] == "2031-06-01T12:00:00.000Z"
    cleared = api.patch(f"/api/links/{link['id']}", json={"expiresAt": None}).json()
    assert cleared["expiresAt"] is None
    assert db_link(server, link["id"])["expires_at"] is None  # type: ignore[index]


def test_password_is_stored_as_argon2_and_never_returned(
    api: httpx.Client, server: LiveServer
) -> None:
    link = create(api, password="open sesame")
    assert link["password"] is None
    stored = db_link(server, link["id"])
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert verify_password(stored["password_hash"], "open sesame")
    for response in (
        api.get(f"/api/links/{link['id']}"),
        api.get("/api/links"),
        api.patch(f"/api/links/{link['id']}", json={"title": "t"}),
    ):
        assert "open sesame" not in response.text
        assert "argon2" not in response.text
    api.patch(f"/api/links/{link['id']}", json={"password": None})
    assert db_link(server, link["id"])["password_hash"] is None  # type: ignore[index]


def test_count_group_by(api: httpx.Client, server: LiveServer) -> None:
    first = create(api, tagNames=["a", "b"])
    workspace = first["workspaceId"]
    add_domain(server, workspace, "go.brand.example")
    create(api, tagNames=["a"], domain="go.brand.example")
    create(api, domain="GO.brand.example")
    create(api, archived=True, tagNames=["b"])
    tag_a, tag_b = sorted(first["tags"], key=lambda t: t["name"])

    def grouped(**params: str) -> Any:
        response = api.get("/api/links/count", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert grouped(groupBy="domain") == [
        {"domain": "go.brand.example", "_count": 2},
        {"domain": first["domain"], "_count": 1},
    ]
    assert grouped(groupBy="tagId") == [
        {"tagId": tag_a["id"], "_count": 2},
        {"tagId": tag_b["id"], "_count": 1},
    ]
    with_archived = grouped(groupBy="tagId", showArchived="true")
    assert sorted(with_archived, key=lambda row: row["tagId"]) == sorted(
        [{"tagId": tag_a["id"], "_count": 2}, {"tagId": tag_b["id"], "_count": 2}],
        key=lambda row: row["tagId"],
    )
    # The filter on the grouped field itself is left out (every group is shown) ...
    assert len(grouped(groupBy="domain", domain="go.brand.example")) == 2
    # ... the others apply.
    assert grouped(groupBy="domain", tagIds=tag_a["id"]) == [
        {"domain": first["domain"], "_count": 1},
        {"domain": "go.brand.example", "_count": 1},
    ]
    assert grouped(groupBy="userId")[0]["_count"] == 3
    assert grouped(groupBy="folderId") == [{"folderId": None, "_count": 3}]
    response = api.get("/api/links/count", params={"groupBy": "country"})
    assert response.status_code == 422
    assert "groupBy" in error_of(response)["message"]


def test_pages_cursors_and_float_integers(api: httpx.Client) -> None:
    ids = [create(api, url=f"https://example.com/{i}")["id"] for i in range(5)]
    newest = ids[::-1]

    def listed(**params: str) -> list[str]:
        response = api.get("/api/links", params=params)
        assert response.status_code == 200, response.text
        return [link["id"] for link in response.json()]

    assert listed(page="1.0", pageSize="2.0") == newest[:2]
    assert listed(page="3", pageSize="2") == newest[4:]
    assert listed(page="4", pageSize="2") == []
    assert listed(sortOrder="asc", pageSize="2") == ids[:2]
    assert listed(startingAfter=newest[1], pageSize="2") == newest[2:4]
    assert listed(startingAfter=newest[1], pageSize="2", page="2") == newest[4:]
    assert listed(endingBefore=newest[3], pageSize="2") == newest[1:3]
    assert listed(startingAfter=ids[1], sortOrder="asc") == ids[2:]
    assert listed(endingBefore=ids[1], sortOrder="asc") == ids[:1]
    both = api.get("/api/links", params={"startingAfter": ids[0], "endingBefore": ids[1]})
    assert both.status_code == 422


def test_search_matches_url_and_key_literally(api: httpx.Client) -> None:
    underscore = create(api, url="https://e.example/a_b")
    create(api, url="https://e.example/axb")
    percent = create(api, url="https://e.example/?off=100%25")
    keyed = create(api, key="Summer-Promo")

    def found(term: str) -> set[str]:
        return {link["id"] for link in api.get("/api/links", params={"search": term}).json()}

    assert found("a_b") == {underscore["id"]}
    assert found("100%") == {percent["id"]}
    assert found("summer-PROMO") == {keyed["id"]}


def test_upsert_changes_only_what_was_sent(api: httpx.Client) -> None:
    link = create(api, url="https://example.com/u", key="upsert-me", title="T", comments="c")
    response = api.put("/api/links/upsert", json={"url": "https://example.com/u", "title": "T2"})
    assert response.status_code == 200
    again = response.json()
    assert (again["id"], again["key"], again["title"], again["comments"]) == (
        link["id"],
        "upsert-me",
        "T2",
        "c",
    )
