"""Settings → Custom domains: add one, see the DNS record to set, delete it; roles and CSRF."""

from __future__ import annotations

from sqlalchemy import func, select

from codeqr.link.models import Domain
from codeqr.link.service import LinkContext
from tests.conftest import LiveServer

from .helpers import dash, field_error, viewer_of

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def domain_count(server: LiveServer) -> int:
    with server.services.db.transaction() as session:
        return int(session.scalar(select(func.count(Domain.id))) or 0)


def test_add_a_domain_and_see_the_record_to_set(server: LiveServer) -> None:
    owner = dash(server)
    empty = owner.get("/settings/domains")
    assert "No custom domain yet" in empty.text
    token = owner.csrf("/settings")
    added = owner.post(
        "/settings/domains",
        {"domain_slug": "Go.Shop.example", "not_found_url": "https://shop.example/404"},
        token,
    )
    assert added.status_code == 303
    assert added.headers["location"].endswith("/settings/domains?done=domains#domains")
    page = owner.client.get(added.headers["location"])
    assert "Domain added" in page.text
    assert 'data-domain="go.shop.example"' in page.text
    assert "https://shop.example/404" in page.text
    assert "Not verified" in page.text
    # The test server is reached by address: the record is an A record of it.
    assert '<span class="tag">A</span> go.shop.example → 127.0.0.1' in page.text
    # Reached by name, it is a CNAME to that name.
    domains = server.services.domains
    domains.ctx = LinkContext(domains.ctx.default_domain, "https://links.codeqr.example")
    page = owner.get("/settings/domains")
    assert '<span class="tag">CNAME</span> go.shop.example → links.codeqr.example' in page.text
    assert "100 custom domains" in owner.get("/settings/usage").text  # the plan's bound


def test_a_refused_domain_says_why_and_writes_nothing(server: LiveServer) -> None:
    owner, other = dash(server), dash(server)
    token = owner.csrf("/settings")
    bad = owner.post("/settings/domains", {"domain_slug": "https://go.shop.example/x"}, token)
    assert bad.status_code == 400
    assert "is not a hostname" in field_error(bad.text, "domain_slug")
    assert "https://go.shop.example/x" in bad.text  # what was typed stays in the box
    empty = owner.post("/settings/domains", {"domain_slug": " "}, token)
    assert empty.status_code == 400
    assert field_error(empty.text, "domain_slug")
    url = owner.post(
        "/settings/domains", {"domain_slug": "go.ok.example", "not_found_url": "ftp://x"}, token
    )
    assert url.status_code == 400
    assert "http and https" in field_error(url.text, "not_found_url")
    assert domain_count(server) == 0
    other.post("/settings/domains", {"domain_slug": "go.theirs.example"}, other.csrf("/settings"))
    taken = owner.post("/settings/domains", {"domain_slug": "go.theirs.example"}, token)
    assert taken.status_code == 400
    assert "already in use" in field_error(taken.text, "domain_slug")
    assert domain_count(server) == 1


def test_delete_a_domain(server: LiveServer) -> None:
    owner, other = dash(server), dash(server)
    token = owner.csrf("/settings")
    owner.post("/settings/domains", {"domain_slug": "go.gone.example"}, token)
    theirs = other.post("/settings/domains/go.gone.example/delete", {}, other.csrf("/settings"))
    assert theirs.status_code == 404
    assert domain_count(server) == 1
    deleted = owner.post("/settings/domains/go.gone.example/delete", {}, token)
    assert deleted.status_code == 303
    page = owner.client.get(deleted.headers["location"])
    assert "Domain deleted" in page.text
    assert 'data-domain="go.gone.example"' not in page.text
    assert domain_count(server) == 0


def test_a_viewer_and_a_forged_form_change_nothing(server: LiveServer) -> None:
    owner = dash(server)
    owner.post("/settings/domains", {"domain_slug": "go.kept.example"}, owner.csrf("/settings"))
    viewer = viewer_of(server, owner.account)
    page = viewer.get("/settings/domains")
    assert 'data-domain="go.kept.example"' in page.text
    assert "Add domain" not in page.text
    token = viewer.csrf("/settings")
    assert (
        viewer.post("/settings/domains", {"domain_slug": "go.v.example"}, token).status_code == 403
    )
    assert viewer.post("/settings/domains/go.kept.example/delete", {}, token).status_code == 403
    forged = owner.post("/settings/domains/go.kept.example/delete", {}, "forged")
    assert forged.status_code == 403
    assert domain_count(server) == 1


def test_a_link_made_in_the_dashboard_on_the_domain_redirects(server: LiveServer) -> None:
    owner = dash(server)
    token = owner.csrf("/settings")
    owner.post("/settings/domains", {"domain_slug": "go.dash.example"}, token)
    form = owner.get("/links/new").text
    assert '<option value="go.dash.example">go.dash.example</option>' in form
    made = owner.post(
        "/links/new",
        {"url": "https://dash.example/landing", "key": "spring", "domain": "go.dash.example"},
        token,
    )
    assert made.status_code == 303, made.text
    hit = server.client().get("/spring", headers={"Host": "go.dash.example", "User-Agent": BROWSER})
    assert hit.status_code == 302
    assert hit.headers["location"] == "https://dash.example/landing"
