"""Sign-in rules that need no server: where ``next`` may lead, and the CSRF tokens."""

from __future__ import annotations

import pytest

from codeqr.auth.csrf import CsrfKeys
from codeqr.auth.service import safe_next


@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/links",
        "/oauth/authorize?client_id=cq_app_x&state=a%2Fb",
        "/analytics#top",
    ],
)
def test_local_paths_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "links",
        "https://evil.example/",
        "http:/evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        " /links",
        "/" + "a" * 5000,
    ],
)
def test_anything_else_falls_back_to_the_default(value: str | None) -> None:
    assert safe_next(value) == "/"
    assert safe_next(value, default="/home") == "/home"


def test_session_tokens_are_bound_to_the_session_and_the_key() -> None:
    keys = CsrfKeys("secret-one")
    token = keys.for_session("session-a")
    assert keys.check_session("session-a", token)
    assert not keys.check_session("session-b", token)
    assert not CsrfKeys("secret-two").check_session("session-a", token)
    assert not keys.check_session("session-a", "")


def test_login_tokens_need_the_nonce_they_were_made_for() -> None:
    keys = CsrfKeys("secret-one")
    token = keys.for_login("nonce-1234567890")
    assert keys.check_login("nonce-1234567890", token)
    assert not keys.check_login("nonce-other-0000", token)
    assert not keys.check_login("", keys.for_login(""))
    # A login token is not a session token for the same value, nor the reverse.
    assert not keys.check_session("nonce-1234567890", token)
