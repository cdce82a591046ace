"""The partner portal: an invited partner sets a password and sees only their own links,
earnings and payouts, with customers' emails masked."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from codeqr.partner.models import Partner
from codeqr.portal.service import mask_email
from codeqr.program.models import RewardEvent, RewardType
from tests.auth.helpers import csrf_of
from tests.conftest import LiveServer
from tests.dashboard.helpers import Dash, api_key, dash
from tests.partner.helpers import BROWSER, set_reward


def _enroll(owner: Dash, email: str, name: str) -> tuple[str, str]:
    """A partner with a first link; their id and invitation path."""
    done = owner.post(
        "/program/partners",
        {"email": email, "name": name, "url": "https://shop.example/p"},
        csrf=owner.csrf("/program"),
    )
    assert done.status_code == 303, done.text
    partner_id = done.headers["location"].split("/partners/", 1)[1].split("?", 1)[0]
    page = owner.get(f"/program/partners/{partner_id}").text
    invite = re.search(r'id="invite-link">([^<]+)<', page)
    assert invite, page
    return partner_id, urlsplit(invite.group(1).replace("&amp;", "&")).path + "?" + urlsplit(
        invite.group(1).replace("&amp;", "&")
    ).query


def _accept(server: LiveServer, invite: str, password: str) -> httpx.Client:
    browser = server.client()
    form = browser.get(invite)
    assert form.status_code == 200, form.text
    path, _, query = invite.partition("?")
    token = parse_qs(query)["token"][0]
    done = browser.post(
        path, data={"token": token, "password": password, "csrf_token": csrf_of(form.text)}
    )
    assert done.status_code == 303, done.text
    return browser


def test_an_invited_partner_sees_their_own_links_and_earnings(server: LiveServer) -> None:
    owner = dash(server)
    token = api_key(server, owner.account)
    set_reward(server, owner.account.slug, RewardEvent.lead, RewardType.flat, 500)
    ada_id, ada_invite = _enroll(owner, "ada@partners.example", "Ada")
    bob_id, _ = _enroll(owner, "bob@partners.example", "Bob Other")
    api = server.client(token)
    links = api.get("/api/partners/links", params={"partnerId": ada_id}).json()
    key = links[0]["key"]
    visit = server.client().get(f"/{key}", headers={"user-agent": BROWSER})
    click_id = parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]
    lead = api.post(
        "/api/track/lead",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": "c-1",
            "customerEmail": "grace.hopper@navy.example",
            "mode": "wait",
        },
    )
    assert lead.status_code == 200, lead.text

    browser = _accept(server, ada_invite, "partner-password-1")
    home = browser.get(f"/app/partners/{owner.account.slug}")
    assert home.status_code == 200, home.text
    page = home.text
    assert "Signed in as Ada" in page
    assert key in page
    assert 'data-kpi="clicks">1<' in page
    assert 'data-kpi="leads">1<' in page
    assert "$5.00" in page
    assert "grace.hopper@navy.example" not in page  # masked, as Dub does
    assert mask_email("grace.hopper@navy.example") in page
    assert "Bob Other" not in page
    assert "bob@partners.example" not in page
    qr = browser.get(f"/app/partners/{owner.account.slug}/links/{links[0]['id']}/qr.svg")
    assert qr.status_code == 200
    assert qr.text.lstrip().startswith("<")
    bobs = api.get("/api/partners/links", params={"partnerId": bob_id}).json()
    assert (
        browser.get(f"/app/partners/{owner.account.slug}/links/{bobs[0]['id']}/qr.svg").status_code
        == 404
    )

    # The invitation works once.
    again = server.client().get(ada_invite)
    assert again.status_code == 400
    assert "no longer valid" in again.text


def test_sign_in_sign_out_and_wrong_passwords(server: LiveServer) -> None:
    owner = dash(server)
    _, invite = _enroll(owner, "ada@partners.example", "Ada")
    _accept(server, invite, "partner-password-1")
    portal = f"/app/partners/{owner.account.slug}"
    browser = server.client()
    assert browser.get(portal).headers["location"] == portal + "/login"
    form = browser.get(portal + "/login")
    wrong = browser.post(
        portal + "/login",
        data={
            "email": "ada@partners.example",
            "password": "nope-nope-nope",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert wrong.status_code == 400
    assert "do not match" in wrong.text
    forged = browser.post(
        portal + "/login",
        data={"email": "ada@partners.example", "password": "partner-password-1", "csrf_token": "x"},
    )
    assert forged.status_code == 403
    ok = browser.post(
        portal + "/login",
        data={
            "email": "ADA@partners.example ",
            "password": "partner-password-1",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert ok.status_code == 303
    home = browser.get(portal)
    assert home.status_code == 200
    out = browser.post(portal + "/logout", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    assert browser.get(portal).status_code == 303


def test_short_passwords_and_forged_invitations_are_refused(server: LiveServer) -> None:
    owner = dash(server)
    _, invite = _enroll(owner, "ada@partners.example", "Ada")
    browser = server.client()
    form = browser.get(invite)
    path, _, query = invite.partition("?")
    token = parse_qs(query)["token"][0]
    short = browser.post(
        path, data={"token": token, "password": "short", "csrf_token": csrf_of(form.text)}
    )
    assert short.status_code == 422
    assert "at least 8" in short.text
    forged = browser.get(path, params={"token": token[:-3] + "abc"})
    assert forged.status_code == 400
    with server.services.db.transaction() as session:
        ada = session.scalar(select(Partner).where(Partner.email == "ada@partners.example"))
        assert ada is not None
        assert ada.password_hash is None


def test_a_portal_session_opens_one_workspace_only(server: LiveServer) -> None:
    owner, other = dash(server), dash(server)
    _, invite = _enroll(owner, "ada@partners.example", "Ada")
    _enroll(other, "ada@partners.example", "Ada Elsewhere")
    browser = _accept(server, invite, "partner-password-1")
    assert browser.get(f"/app/partners/{owner.account.slug}").status_code == 200
    # The cookie is scoped to the first portal's path, and the session to its workspace.
    elsewhere = browser.get(f"/app/partners/{other.account.slug}")
    assert elsewhere.status_code == 303
    cookie = browser.cookies.get("cq_partner")
    assert cookie
    forced = server.client().get(
        f"/app/partners/{other.account.slug}", headers={"Cookie": f"cq_partner={cookie}"}
    )
    assert forced.status_code == 303
    # Nor does it open the dashboard.
    assert (
        server.client()
        .get(f"/dashboard/{owner.account.slug}/links", headers={"Cookie": f"cq_partner={cookie}"})
        .status_code
        == 303
    )
    assert server.client().get("/app/partners/no-such-workspace/login").status_code == 404


def test_a_banned_partner_is_shut_out(server: LiveServer) -> None:
    owner = dash(server)
    token = api_key(server, owner.account)
    ada_id, invite = _enroll(owner, "ada@partners.example", "Ada")
    browser = _accept(server, invite, "partner-password-1")
    portal = f"/app/partners/{owner.account.slug}"
    assert browser.get(portal).status_code == 200
    banned = server.client(token).post(
        "/api/partners/ban", json={"partnerId": ada_id, "reason": "fraud"}
    )
    assert banned.status_code == 200, banned.text
    assert browser.get(portal).status_code == 303


def test_emails_are_masked() -> None:
    assert mask_email("grace.hopper@navy.example") == "g•••@n•••.example"
    assert mask_email("a@b") == "a•••@b•••"
    assert mask_email(None) == "—"
    assert mask_email("nonsense") == "—"
