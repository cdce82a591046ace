"""The whole OAuth flow in a real browser: sign in, pick a workspace, authorize, land on the
client's redirect URI with a code that redeems for tokens of that workspace."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from codeqr.workspace import service as ws
from tests.auth.helpers import Account, make_account
from tests.browser import (
    DESKTOP_UA,
    ConsoleErrors,
    PageServer,
    browser_fixture,  # noqa: F401  (the "browser" fixture)
)
from tests.conftest import LiveServer

from .helpers import Client, authorize_params, exchange, pkce, query_of, register, userinfo

SIGN_IN = re.compile(r"/login\?next=")
CONSENT = re.compile(r"/oauth/authorize\?")


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer() as web:
        web.pages["/callback"] = (
            '<!doctype html><link rel=icon href="data:,"><title>Connected</title>'
            "<p>Back at the app</p>"
        )
        yield web


@pytest.fixture
def client(server: LiveServer, pages: PageServer) -> Client:
    return register(server, redirect_uris=(f"http://127.0.0.1:{pages.port}/callback",))


@pytest.fixture
def account(server: LiveServer) -> Account:
    return make_account(server)


@pytest.fixture
def second_workspace(server: LiveServer, account: Account) -> str:
    with server.services.db.transaction() as session:
        owner = ws.get_user_by_email(session, account.email)
        return ws.create_workspace(
            session, name="Second shop", slug=f"{account.slug}-2", owner=owner, plan="business"
        ).id


def open_context(browser: Browser, **options: object) -> BrowserContext:
    context = browser.new_context(user_agent=DESKTOP_UA, **options)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = open_context(browser)
    yield ctx
    ctx.close()


def sign_in_on(page: Page, account: Account) -> None:
    page.wait_for_url(SIGN_IN)
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    page.wait_for_url(CONSENT)


def test_sign_in_pick_a_workspace_authorize_and_redeem(
    server: LiveServer,
    client: Client,
    account: Account,
    second_workspace: str,
    context: BrowserContext,
) -> None:
    page = context.new_page()
    errors = ConsoleErrors(page)
    challenge = pkce()
    page.goto(f"{server.base}/oauth/authorize?{urlencode(authorize_params(client, challenge))}")
    sign_in_on(page, account)
    assert page.title() == "Connect Stripe App · CodeQR"
    assert "Connect Stripe App to CodeQR" in page.inner_text("h1")
    options = page.locator("#workspace option").all_inner_texts()
    assert sorted(options) == sorted([f"Shop {account.slug[5:]} ({account.slug})",
                                      f"Second shop ({account.slug}-2)"])  # fmt: skip
    page.select_option("#workspace", second_workspace)
    page.click("button[value=allow]")
    page.wait_for_url(re.compile(re.escape(client.redirect_uri + "?")))
    assert page.inner_text("p") == "Back at the app"
    query = query_of(page.url)
    assert query["state"] == "st-42"
    assert errors.messages == []

    api = server.client()
    wrong = exchange(api, client, query["code"], pkce().verifier)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    tokens = exchange(api, client, query["code"], challenge.verifier)
    assert tokens.status_code == 200, tokens.text
    who = userinfo(api, tokens.json()["access_token"]).json()
    assert who["user"]["email"] == account.email
    assert who["workspace"]["id"] == second_workspace


def test_deny_in_the_browser_returns_access_denied(
    server: LiveServer, client: Client, account: Account, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{server.base}/oauth/authorize?{urlencode(authorize_params(client, pkce()))}")
    sign_in_on(page, account)
    page.click("button[value=deny]")
    page.wait_for_url(re.compile(re.escape(client.redirect_uri + "?")))
    query = query_of(page.url)
    assert query["error"] == "access_denied"
    assert query["state"] == "st-42"


def test_a_wrong_password_in_the_browser_shows_the_message(
    server: LiveServer, client: Client, account: Account, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{server.base}/oauth/authorize?{urlencode(authorize_params(client, pkce()))}")
    page.wait_for_url(SIGN_IN)
    page.fill("#email", account.email)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    alert = page.locator("[role=alert]")
    assert alert.inner_text() == "That email and password do not match an account."
    # The form keeps the email and where to go next; the right password goes on.
    assert page.input_value("#email") == account.email
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    page.wait_for_url(CONSENT)


def test_the_pages_fit_a_phone(
    server: LiveServer, client: Client, account: Account, browser: Browser
) -> None:
    phone = open_context(browser, viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        page = phone.new_page()
        page.goto(f"{server.base}/oauth/authorize?{urlencode(authorize_params(client, pkce()))}")
        page.wait_for_url(SIGN_IN)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        sign_in_on(page, account)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        box = page.locator("button[value=allow]").bounding_box()
        assert box is not None
        assert box["width"] > 250  # a full-width button, easy to tap
        assert box["y"] + box["height"] <= 740 * 1.5
    finally:
        phone.close()
