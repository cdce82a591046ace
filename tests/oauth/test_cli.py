"""``codeqr oauth-apps create|list``: the secret shown once, usable at the token endpoint."""

from __future__ import annotations

import json

from codeqr.settings import Settings
from tests.cli.test_commands import run, run_json
from tests.conftest import LiveServer


def test_create_prints_the_app_with_its_secret_once(settings: Settings) -> None:
    created = run_json(
        settings,
        "oauth-apps",
        "create",
        "--name",
        "Stripe App",
        "--redirect-uri",
        "https://dashboard.stripe.com/apps/oauth",
        "--redirect-uri",
        "http://localhost:3000/callback",
    )
    assert str(created["clientId"]).startswith("cq_app_")
    assert str(created["clientSecret"]).startswith("cq_app_secret_")
    assert created["name"] == "Stripe App"
    assert created["redirectUris"] == [
        "https://dashboard.stripe.com/apps/oauth",
        "http://localhost:3000/callback",
    ]
    assert created["pkceRequired"] is True
    plain = run(
        settings,
        *("oauth-apps", "create", "--name", "Other"),
        *("--redirect-uri", "https://b.example/cb", "--no-pkce"),
    )
    assert "shown this once" in plain.stdout
    listed = json.loads(run(settings, "oauth-apps", "list", "--json").stdout)
    assert [app["name"] for app in listed] == ["Stripe App", "Other"]
    assert listed[0]["clientId"] == created["clientId"]
    assert listed[1]["pkceRequired"] is False
    assert all("clientSecret" not in app for app in listed)
    assert str(created["clientSecret"]) not in json.dumps(listed)


def test_a_bad_redirect_uri_is_refused(settings: Settings) -> None:
    result = run(
        settings,
        "oauth-apps",
        "create",
        "--name",
        "Bad",
        "--redirect-uri",
        "http://evil.example/cb",
        "--json",
        check=False,
    )
    assert result.returncode == 1
    assert "must be an absolute https URL" in result.stderr


def test_the_printed_secret_authenticates_the_client(
    server: LiveServer, settings: Settings
) -> None:
    created = run_json(
        settings, "oauth-apps", "create", "--name", "App", "--redirect-uri", "https://a.example/cb"
    )
    form = {"grant_type": "authorization_code", "code": "unknown", "redirect_uri": "x"}
    api = server.client()
    credentials = (str(created["clientId"]), str(created["clientSecret"]))
    right = api.post("/api/oauth/token", data=form, auth=credentials)
    assert right.json()["error"] == "invalid_grant"  # the client got through
    wrong = api.post("/api/oauth/token", data=form, auth=(str(created["clientId"]), "nope"))
    assert wrong.status_code == 401
