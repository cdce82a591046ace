"""Password-protected links: a form, a hashed compare, a signed cookie (SPEC §3.2.2)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from codeqr.link.models import Link

from .conftest import MakeServer
from .helpers import Shortener, cq_id_of

PASSWORD = "open sesame 42"


def protected(shortener: Shortener, **fields: Any) -> dict[str, Any]:
    return shortener.link(url="https://example.com/secret", password=PASSWORD, **fields)


def unlock(shortener: Shortener, link: dict[str, Any], password: str = PASSWORD) -> httpx.Response:
    client = shortener.visitor()
    return client.post(f"/{link['key']}", data={"password": password})


def cookie_of(response: httpx.Response) -> tuple[str, str, SimpleCookie]:
    """Name and value of the one cookie a response sets, and the parsed header."""
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(response.headers["set-cookie"])
    ((name, morsel),) = parsed.items()
    return name, morsel.value, parsed


def visit_with_cookie(
    shortener: Shortener, link: dict[str, Any], name: str, value: str
) -> httpx.Response:
    return shortener.visit(link, headers={"Cookie": f"{name}={value}"})


def test_get_shows_the_password_page_and_records_nothing(shortener: Shortener) -> None:
    link = protected(shortener)
    response = shortener.visit(link)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<form method=post" in response.text
    assert PASSWORD not in response.text
    assert "example.com/secret" not in response.text
    assert "location" not in response.headers
    shortener.assert_counted(link, 0)


def test_wrong_password_gets_401_and_the_page_again(shortener: Shortener) -> None:
    link = protected(shortener)
    response = unlock(shortener, link, "not it")
    assert response.status_code == 401
    assert "Wrong password" in response.text
    assert "set-cookie" not in response.headers
    shortener.assert_counted(link, 0)


def test_empty_password_gets_401(shortener: Shortener) -> None:
    link = protected(shortener)
    assert unlock(shortener, link, "").status_code == 401


def test_right_password_sets_a_signed_httponly_cookie(shortener: Shortener) -> None:
    link = protected(shortener)
    response = unlock(shortener, link)
    assert response.status_code == 303
    assert response.headers["location"] == f"/{link['key']}"
    name, value, parsed = cookie_of(response)
    assert name == f"cq_pw_{link['id']}"
    assert parsed[name]["httponly"]
    assert parsed[name]["path"] == "/"
    assert parsed[name]["samesite"] == "Lax"
    assert int(parsed[name]["max-age"]) <= 3600
    assert PASSWORD not in response.headers["set-cookie"]
    assert PASSWORD.replace(" ", "+") not in value
    # Unlocking is not a visit: nothing counted until the redirect itself.
    shortener.assert_counted(link, 0)


def test_cookie_lets_the_visitor_through_and_records_the_click(shortener: Shortener) -> None:
    link = protected(shortener, trackConversion=True)
    name, value, _ = cookie_of(unlock(shortener, link))
    response = visit_with_cookie(shortener, link, name, value)
    assert response.status_code == 302
    click_id = cq_id_of(response.headers["location"])
    assert response.headers["location"].startswith("https://example.com/secret?")
    assert [c["id"] for c in shortener.clicks(link)] == [click_id]
    shortener.assert_counted(link, 1)


def swap(text: str, at: int) -> str:
    """``text`` with the character at ``at`` replaced by a different base64 character."""
    return text[:at] + ("x" if text[at] != "x" else "y") + text[at + 1 :]


@pytest.mark.parametrize("part", ["value", "timestamp", "signature"])
def test_tampered_cookie_gets_the_password_page(shortener: Shortener, part: str) -> None:
    link = protected(shortener)
    name, value, _ = cookie_of(unlock(shortener, link))
    payload, timestamp, signature = value.rsplit(".", 2)
    # Not the signature's last character: its low bits are padding a decoder may ignore.
    tampered = {
        "value": f"{swap(payload, len(payload) - 1)}.{timestamp}.{signature}",
        "timestamp": f"{payload}.{swap(timestamp, 0)}.{signature}",
        "signature": f"{payload}.{timestamp}.{swap(signature, 0)}",
    }[part]
    response = visit_with_cookie(shortener, link, name, tampered)
    assert response.status_code == 200
    assert "<form method=post" in response.text
    shortener.assert_counted(link, 0)


def test_cookie_of_another_link_does_not_unlock(shortener: Shortener) -> None:
    one, two = protected(shortener), protected(shortener)
    _, value, _ = cookie_of(unlock(shortener, one))
    response = visit_with_cookie(shortener, two, f"cq_pw_{two['id']}", value)
    assert response.status_code == 200
    shortener.assert_counted(two, 0)


def test_changing_the_password_invalidates_old_cookies(shortener: Shortener) -> None:
    link = protected(shortener)
    name, value, _ = cookie_of(unlock(shortener, link))
    assert visit_with_cookie(shortener, link, name, value).status_code == 302
    shortener.update(link, password="a brand new one")
    response = visit_with_cookie(shortener, link, name, value)
    assert response.status_code == 200
    assert "<form method=post" in response.text
    assert unlock(shortener, link, PASSWORD).status_code == 401
    assert unlock(shortener, link, "a brand new one").status_code == 303


def test_removing_the_password_opens_the_link(shortener: Shortener) -> None:
    link = protected(shortener)
    shortener.update(link, password=None)
    assert shortener.visit(link).status_code == 302


def test_password_is_stored_as_an_argon2_hash(shortener: Shortener) -> None:
    link = protected(shortener)
    with shortener.server.services.db.session() as session:
        stored = session.scalar(select(Link.password_hash).where(Link.id == link["id"]))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert link["password"] is None  # never echoed by the API


def test_cookie_is_secure_behind_a_trusted_tls_proxy(make_server: MakeServer) -> None:
    shortener = Shortener.on(make_server(trusted_proxies=["127.0.0.1/32"]))
    link = protected(shortener)
    client = shortener.visitor()
    response = client.post(
        f"/{link['key']}", data={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 303
    _, _, parsed = cookie_of(response)
    assert parsed[f"cq_pw_{link['id']}"]["secure"]


def test_forwarded_proto_is_ignored_from_an_untrusted_peer(shortener: Shortener) -> None:
    link = protected(shortener)
    client = shortener.visitor()
    response = client.post(
        f"/{link['key']}", data={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    _, _, parsed = cookie_of(response)
    assert not parsed[f"cq_pw_{link['id']}"]["secure"]


def test_oversize_form_is_refused_without_error(shortener: Shortener) -> None:
    link = protected(shortener)
    response = unlock(shortener, link, "x" * 10_000)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
