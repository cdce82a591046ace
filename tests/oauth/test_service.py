"""Rules of the authorization server that need no HTTP: redirect URIs and scopes."""

from __future__ import annotations

import pytest

from codeqr.kit.errors import Unprocessable
from codeqr.oauth.errors import AuthorizeError
from codeqr.oauth.scopes import parse_scope
from codeqr.oauth.service import check_redirect_uri, with_params


@pytest.mark.parametrize(
    "uri",
    [
        "https://dashboard.stripe.com/apps/oauth",
        "https://app.example/cb?tenant=1",
        "http://localhost:3000/callback",
        "http://127.0.0.1:8765/cb",
        "http://[::1]:8080/cb",
    ],
)
def test_registrable_redirect_uris(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/callback",
        "https://app.example/cb#fragment",
        "https://user:pass@app.example/cb",
        "/relative/callback",
        "javascript:alert(1)",
        "https://",
        "ftp://app.example/cb",
        "https://app.example/" + "a" * 2000,
    ],
)
def test_refused_redirect_uris(uri: str) -> None:
    with pytest.raises(Unprocessable):
        check_redirect_uri(uri)


def test_scopes_default_to_all_and_come_out_in_order() -> None:
    assert parse_scope(None) == ("user.read", "workspace.read", "stripe.write")
    assert parse_scope("  ") == ("user.read", "workspace.read", "stripe.write")
    assert parse_scope("stripe.write user.read") == ("user.read", "stripe.write")
    with pytest.raises(AuthorizeError) as refused:
        parse_scope("user.read links.write")
    assert refused.value.error == "invalid_scope"


def test_parameters_are_added_to_the_redirect_uris_own_query() -> None:
    assert with_params("https://a.example/cb", {"code": "c d", "state": None}) == (
        "https://a.example/cb?code=c+d"
    )
    assert with_params("https://a.example/cb?x=1", {"state": "s&t"}) == (
        "https://a.example/cb?x=1&state=s%26t"
    )
