"""Every dashboard page: sign-in required, workspace isolation, headers, static files."""

from __future__ import annotations

import pytest

from codeqr.dashboard.pages import static_url
from tests.conftest import LiveServer

from .helpers import dash

PAGES = [
    "/links",
    "/links/new",
    "/analytics",
    "/events",
    "/customers",
    "/settings",
    "/settings/domains",
    "/settings/keys",
    "/settings/members",
    "/settings/stripe",
    "/settings/usage",
]


def test_home_sends_visitors_to_sign_in_and_members_to_their_dashboard(
    server: LiveServer,
) -> None:
    anonymous = server.client().get("/")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login"
    owner = dash(server)
    home = owner.client.get("/")
    assert home.headers["location"] == "/dashboard"
    landing = owner.client.get("/dashboard")
    assert landing.headers["location"] == f"/dashboard/{owner.account.slug}/links"
    assert owner.client.get(owner.base).headers["location"] == f"{owner.base}/links"
    assert server.client().get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("path", [*PAGES, "/analytics/data"])
def test_every_page_needs_a_session(server: LiveServer, path: str) -> None:
    owner = dash(server)
    answer = server.client().get(owner.base + path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/dashboard/")


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_served_with_a_strict_policy(server: LiveServer, path: str) -> None:
    owner = dash(server)
    page = owner.get(path)
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert " on" + "click=" not in page.text.lower()  # no inline handlers anywhere
    assert "<script>" not in page.text  # only external scripts
    assert 'name="viewport"' in page.text


@pytest.mark.parametrize("path", [*PAGES, "/analytics/data", "/links/link_x/qr.png"])
def test_another_workspace_is_not_found(server: LiveServer, path: str) -> None:
    mine, theirs = dash(server), dash(server)
    answer = mine.client.get(theirs.base + path)
    assert answer.status_code == 404
    assert theirs.account.workspace_id not in answer.text
    assert mine.client.get("/dashboard/no-such-workspace/links").status_code == 404


def test_the_switcher_lists_only_the_users_workspaces(server: LiveServer) -> None:
    mine, theirs = dash(server), dash(server)
    page = mine.get("/links").text
    assert f"/dashboard/{mine.account.slug}/links" in page
    assert theirs.account.slug not in page


def test_static_files_are_served_by_the_app_with_long_cache(server: LiveServer) -> None:
    client = server.client()
    for name in ("vendor/chart.umd.min.js", "dashboard.css", "analytics.js", "live.js"):
        answer = client.get(static_url(name))
        assert answer.status_code == 200, name
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["x-content-type-options"] == "nosniff"
    chart = client.get(static_url("vendor/chart.umd.min.js"))
    assert "Chart.js v4" in chart.text[:200]
    assert "javascript" in chart.headers["content-type"]
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/../settings.py").status_code == 404


def test_errors_say_what_to_do(server: LiveServer) -> None:
    owner = dash(server)
    missing = owner.get("/links/link_missing")
    assert missing.status_code == 404
    assert "Pick one of your workspaces" in missing.text
