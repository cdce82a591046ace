"""``/api/domains`` over HTTP: what a slug may be, the bounds, another workspace's domains,
renames, and what bad input gets (SPEC §2, §8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from codeqr.link.models import Domain
from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant
from tests.link.helpers import error_of

from .test_dub_sdk import visit


def domain_rows(server: LiveServer) -> int:
    with server.services.db.transaction() as session:
        return int(session.scalar(select(func.count(Domain.id))) or 0)


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "   ",
        "localhost",
        "example",
        "https://go.example.com",
        "go.example.com/path",
        "go.example.com:8080",
        "user@go.example.com",
        "10.0.0.1",
        "[::1]",
        "-go.example.com",
        "go-.example.com",
        "go..example.com",
        "go_link.example.com",
        "bücher.example",
        "go.example.123",
        "a" * 64 + ".example.com",
        ("a" * 60 + ".") * 4 + "com",
        "go.example.com\x00",
        "go example.com",
    ],
)
def test_what_is_not_a_hostname_is_refused(server: LiveServer, slug: str) -> None:
    tenant = make_tenant(server)
    answer = server.client(tenant.token).post("/api/domains", json={"slug": slug})
    assert answer.status_code == 422, answer.text
    assert "slug" in error_of(answer)["message"]
    assert domain_rows(server) == 0


def test_hostnames_are_kept_lowercase_without_a_final_dot(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    answer = http.post("/api/domains", json={"slug": " Go.XN--Bcher-kva.Example. "})
    assert answer.status_code == 201, answer.text
    assert answer.json()["slug"] == "go.xn--bcher-kva.example"
    assert http.patch("/api/domains/GO.XN--BCHER-KVA.EXAMPLE", json={}).status_code == 200


def test_the_instance_host_is_not_a_custom_domain(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    # The test server's own host is an address; a named one is refused the same way.
    server.services.domains.own_hosts |= {"links.codeqr.example"}
    answer = http.post("/api/domains", json={"slug": "links.codeqr.example"})
    assert answer.status_code == 422
    assert "own host" in error_of(answer)["message"]


def test_a_domain_belongs_to_one_workspace(server: LiveServer) -> None:
    owner, other = make_tenant(server), make_tenant(server)
    created = server.client(owner.token).post("/api/domains", json={"slug": "go.one.example"})
    assert created.status_code == 201
    for slug in ("go.one.example", "GO.ONE.EXAMPLE"):
        answer = server.client(other.token).post("/api/domains", json={"slug": slug})
        assert answer.status_code == 409
        assert error_of(answer)["code"] == "conflict"
    # Renaming into a taken slug is a conflict too, and changes nothing.
    server.client(other.token).post("/api/domains", json={"slug": "go.two.example"})
    answer = server.client(other.token).patch(
        "/api/domains/go.two.example", json={"slug": "go.one.example"}
    )
    assert answer.status_code == 409
    listed = server.client(other.token).get("/api/domains").json()
    assert [d["slug"] for d in listed] == ["go.two.example"]


def test_another_workspace_cannot_read_or_change_a_domain(server: LiveServer) -> None:
    owner, other = make_tenant(server), make_tenant(server)
    mine = server.client(owner.token)
    mine.post("/api/domains", json={"slug": "go.mine.example", "notFoundUrl": "https://m.example"})
    theirs = server.client(other.token)
    assert theirs.get("/api/domains").json() == []
    assert theirs.get("/api/domains", params={"search": "mine"}).json() == []
    answer = theirs.patch("/api/domains/go.mine.example", json={"notFoundUrl": "https://x.example"})
    assert answer.status_code == 404
    assert error_of(answer)["code"] == "not_found"
    assert theirs.delete("/api/domains/go.mine.example").status_code == 404
    # A link of theirs cannot be put on it either.
    link = theirs.post("/api/links", json={"url": "https://x.example", "domain": "go.mine.example"})
    assert link.status_code == 403
    [kept] = mine.get("/api/domains").json()
    assert kept["notFoundUrl"] == "https://m.example"


def test_a_publishable_key_is_refused(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(make_key(server, tenant, publishable=True))
    assert http.get("/api/domains").status_code == 403
    assert http.post("/api/domains", json={"slug": "go.pk.example"}).status_code == 403
    assert domain_rows(server) == 0


def test_domains_are_bounded_by_the_plan(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="free")  # Dub's free plan: 3 domains
    http = server.client(tenant.token)
    for n in range(3):
        assert http.post("/api/domains", json={"slug": f"go{n}.free.example"}).status_code == 201
    answer = http.post("/api/domains", json={"slug": "go3.free.example"})
    assert answer.status_code == 403
    assert "3 custom domains" in error_of(answer)["message"]
    assert domain_rows(server) == 3
    # Archiving does not free a place; deleting does.
    http.patch("/api/domains/go0.free.example", json={"archived": True})
    assert http.post("/api/domains", json={"slug": "go3.free.example"}).status_code == 403
    http.delete("/api/domains/go0.free.example")
    assert http.post("/api/domains", json={"slug": "go3.free.example"}).status_code == 201


def test_bad_urls_and_types_write_nothing(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    for body, field in [
        ({"slug": "go.x.example", "notFoundUrl": "javascript:alert(1)"}, "notFoundUrl"),
        ({"slug": "go.x.example", "expiredUrl": "ftp://x.example"}, "expiredUrl"),
        ({"slug": "go.x.example", "placeholder": "https://x.example/" + "a" * 100}, "placeholder"),
        ({"slug": "go.x.example", "archived": "yes"}, "archived"),
        ({"slug": 42}, "slug"),
        ({}, "slug"),
    ]:
        answer = http.post("/api/domains", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in error_of(answer)["message"], body
    assert (
        http.post(
            "/api/domains", content=b"{nope", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert domain_rows(server) == 0
    http.post("/api/domains", json={"slug": "go.x.example"})
    answer = http.patch("/api/domains/go.x.example", json={"notFoundUrl": "mailto:a@x.example"})
    assert answer.status_code == 422
    [kept] = http.get("/api/domains").json()
    assert kept["notFoundUrl"] is None
    # Empty URLs and explicit nulls clear, as Dub's.
    http.patch("/api/domains/go.x.example", json={"notFoundUrl": "https://x.example/404"})
    cleared = http.patch("/api/domains/go.x.example", json={"notFoundUrl": "", "slug": None})
    assert cleared.json()["notFoundUrl"] is None
    assert cleared.json()["slug"] == "go.x.example"


def test_list_pages_and_search(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    for name in ("alpha", "beta", "gamma"):
        http.post("/api/domains", json={"slug": f"go.{name}.example"})
    first = http.get("/api/domains", params={"pageSize": "2.0", "page": "1"}).json()
    second = http.get("/api/domains", params={"pageSize": 2, "page": 2}).json()
    assert [d["slug"] for d in first + second] == [
        "go.alpha.example",
        "go.beta.example",
        "go.gamma.example",
    ]
    found = http.get("/api/domains", params={"search": "BET"}).json()
    assert [d["slug"] for d in found] == ["go.beta.example"]
    assert http.get("/api/domains", params={"search": "%"}).json() == []
    assert http.get("/api/domains", params={"pageSize": 51}).status_code == 422


def test_a_rename_moves_the_links(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    http.post("/api/domains", json={"slug": "go.old.example"})
    link = http.post(
        "/api/links", json={"url": "https://dest.example/", "domain": "go.old.example", "key": "k"}
    ).json()
    assert visit(server, "go.old.example", "/k").status_code == 302
    renamed = http.patch("/api/domains/go.old.example", json={"slug": "go.new.example"})
    assert renamed.status_code == 200
    assert renamed.json()["slug"] == "go.new.example"
    moved = http.get(f"/api/links/{link['id']}").json()
    assert moved["domain"] == "go.new.example"
    assert moved["shortLink"] == "https://go.new.example/k"
    assert visit(server, "go.new.example", "/k").headers["location"] == "https://dest.example/"
    assert visit(server, "go.old.example", "/k").status_code == 404


def test_an_expired_link_falls_back_to_its_domain(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    http.post(
        "/api/domains", json={"slug": "go.exp.example", "expiredUrl": "https://exp.example/over"}
    )
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    http.post(
        "/api/links",
        json={
            "url": "https://exp.example/",
            "domain": "go.exp.example",
            "key": "old",
            "expiresAt": past,
        },
    )
    hit = visit(server, "go.exp.example", "/old")
    assert hit.status_code == 302
    assert hit.headers["location"] == "https://exp.example/over"


def test_a_host_with_a_port_is_its_domain(server: LiveServer) -> None:
    tenant = make_tenant(server)
    http = server.client(tenant.token)
    http.post("/api/domains", json={"slug": "go.port.example"})
    http.post(
        "/api/links", json={"url": "https://p.example/", "domain": "go.port.example", "key": "p"}
    )
    assert visit(server, "go.port.example:8080", "/p").headers["location"] == "https://p.example/"
