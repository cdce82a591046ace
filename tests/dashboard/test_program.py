"""The Program section of the dashboard: partners and their totals, rewards, settings,
commissions with bulk status changes, payouts marked paid and exported."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select

from codeqr.commission.models import Commission
from codeqr.partner.models import Partner
from codeqr.program.models import Reward
from tests.conftest import LiveServer

from .helpers import Dash, api_key, dash, viewer_of


def _enroll(owner: Dash, email: str, name: str, url: str = "https://shop.example/p") -> str:
    done = owner.post(
        "/program/partners", {"email": email, "name": name, "url": url}, csrf=owner.csrf("/program")
    )
    assert done.status_code == 303, done.text
    found = re.search(
        r"/program/partners/(pn_[A-Za-z0-9]+)\?done=partner", done.headers["location"]
    )
    assert found, done.headers["location"]
    return found.group(1)


def _commission(owner: Dash, token: str, partner_id: str, amount: int, note: str) -> None:
    api = owner.server.client(token)
    made = api.post(
        "/api/commissions",
        json={"type": "custom", "partnerId": partner_id, "amount": amount, "description": note},
    )
    assert made.status_code == 202, made.text


def test_program_pages_need_the_business_plan(server: LiveServer) -> None:
    pro = dash(server, plan="pro")
    for path in ("/program", "/program/commissions", "/program/payouts"):
        page = pro.get(path)
        assert page.status_code == 200, path
        assert "Partner programs needs the Business plan" in page.text, path
    refused = pro.post(
        "/program/rewards",
        {"event": "lead", "type": "flat", "amount": "5"},
        csrf=pro.csrf("/program"),
    )
    assert refused.status_code == 404


def test_an_owner_enrolls_a_partner_and_sets_rewards_and_settings(server: LiveServer) -> None:
    owner = dash(server)
    assert "No partners yet" in owner.get("/program").text
    partner_id = _enroll(owner, "ada@partners.example", "Ada Lovelace")
    page = owner.get(f"/program/partners/{partner_id}?done=partner")
    assert "Partner enrolled" in page.text
    assert "Ada Lovelace" in page.text
    assert "ada@partners.example" in page.text
    assert f"/app/partners/{owner.account.slug}/invite?token=" in page.text
    assert "shop.example/p" in page.text  # the first link
    listing = owner.get("/program").text
    assert f"/program/partners/{partner_id}" in listing

    csrf = owner.csrf("/program")
    lead = owner.post(
        "/program/rewards", {"event": "lead", "type": "flat", "amount": "5.00"}, csrf=csrf
    )
    assert lead.status_code == 303
    sale = owner.post(
        "/program/rewards",
        {
            "event": "sale",
            "type": "percentage",
            "amount": "20",
            "duration": "recurring",
            "months": "12",
        },
        csrf=csrf,
    )
    assert sale.status_code == 303
    with server.services.db.transaction() as session:
        rewards = {
            r.event: r
            for r in session.scalars(select(Reward))
            if r.program_id and r.event in ("lead", "sale")
        }
    assert rewards["lead"].type == "flat"
    assert rewards["lead"].amount == 500
    assert (rewards["sale"].type, rewards["sale"].amount) == ("percentage", 2000)
    assert (rewards["sale"].duration, rewards["sale"].months) == ("recurring", 12)
    shown = owner.get("/program").text
    assert "$5.00" in shown
    assert "20%" in shown
    assert "12 months" in shown

    bad = owner.post(
        "/program/rewards", {"event": "sale", "type": "percentage", "amount": "150"}, csrf=csrf
    )
    assert bad.status_code == 422
    assert "at most 100" in bad.text
    no_months = owner.post(
        "/program/rewards",
        {"event": "sale", "type": "flat", "amount": "3", "duration": "recurring"},
        csrf=csrf,
    )
    assert no_months.status_code == 422
    assert "number of months" in no_months.text
    flat_lead_pct = owner.post(
        "/program/rewards", {"event": "lead", "type": "percentage", "amount": "5"}, csrf=csrf
    )
    assert flat_lead_pct.status_code == 422

    saved = owner.post(
        "/program/settings",
        {"holding_days": "10", "min_payout": "50.00", "default_url": "https://shop.example/join"},
        csrf=csrf,
    )
    assert saved.status_code == 303
    page = owner.get("/program").text
    assert 'value="10"' in page
    assert 'value="50.00"' in page
    assert "https://shop.example/join" in page
    wrong = owner.post("/program/settings", {"holding_days": "999", "min_payout": "1"}, csrf=csrf)
    assert wrong.status_code == 422
    assert "holdingPeriodDays" in wrong.text

    twice = owner.post("/program/partners", {"email": "ada@partners.example"}, csrf=csrf)
    assert twice.status_code == 409
    assert "already enrolled" in twice.text
    invalid = owner.post("/program/partners", {"email": "not-an-email"}, csrf=csrf)
    assert invalid.status_code == 422


def test_commissions_change_status_in_bulk_and_payouts_are_marked_paid(server: LiveServer) -> None:
    owner = dash(server)
    token = api_key(server, owner.account)
    ada = _enroll(owner, "ada@partners.example", '=HYPERLINK("http://evil")')
    bob = _enroll(owner, "bob@partners.example", "Bob")
    _commission(owner, token, ada, 6_000, "a1")
    _commission(owner, token, ada, 7_000, "a2")
    _commission(owner, token, bob, 400, "b1")
    _commission(owner, token, bob, 500, "b-fraud")
    with server.services.db.transaction() as session:
        rows = {
            c.description: c
            for c in session.scalars(select(Commission))
            if c.workspace_id == owner.account.workspace_id
        }
        for row in rows.values():
            row.created_at -= timedelta(days=40)
        fraud_id = rows["b-fraud"].id

    listing = owner.get("/program/commissions")
    assert listing.status_code == 200
    assert listing.text.count('name="commission_ids"') == 4
    only_bob = owner.get(f"/program/commissions?partner={bob}").text
    assert only_bob.count('name="commission_ids"') == 2
    marked = owner.client.post(
        owner.base + "/program/commissions/status",
        data={
            "csrf_token": owner.csrf("/program"),
            "commission_ids": [fraud_id],
            "status": "fraud",
        },
    )
    assert marked.status_code == 303, marked.text
    assert "fraud" in owner.get("/program/commissions?status=fraud").text
    assert owner.get("/program/commissions?status=fraud").text.count('name="commission_ids"') == 1
    empty = owner.client.post(
        owner.base + "/program/commissions/status",
        data={"csrf_token": owner.csrf("/program"), "status": "fraud"},
    )
    assert empty.status_code == 422
    paid_status = owner.client.post(
        owner.base + "/program/commissions/status",
        data={"csrf_token": owner.csrf("/program"), "commission_ids": [fraud_id], "status": "paid"},
    )
    assert paid_status.status_code == 422

    ran = owner.post("/program/payouts/run", {}, csrf=owner.csrf("/program"))
    assert ran.status_code == 303
    page = owner.get("/program/payouts").text
    assert "$130.00" in page  # Ada: 60 + 70, past the $100 minimum
    assert "$4.00" not in page  # Bob's 4.00 stays below it (the fraud one no longer counts)
    payout_id = re.search(r'data-payout="(po_[A-Za-z0-9]+)"', page)
    assert payout_id, page
    done = owner.post(
        f"/program/payouts/{payout_id.group(1)}/paid",
        {"reference": "SEPA-2026-12"},
        csrf=owner.csrf("/program"),
    )
    assert done.status_code == 303
    page = owner.get("/program/payouts").text
    assert "SEPA-2026-12" in page
    assert "completed" in page
    again = owner.post(
        f"/program/payouts/{payout_id.group(1)}/paid",
        {"reference": "x"},
        csrf=owner.csrf("/program"),
    )
    assert again.status_code == 422
    with server.services.db.transaction() as session:
        statuses = {
            c.description: c.status
            for c in session.scalars(select(Commission))
            if c.workspace_id == owner.account.workspace_id
        }
    assert statuses == {"a1": "paid", "a2": "paid", "b1": "pending", "b-fraud": "fraud"}

    exported = owner.get("/program/payouts.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1
    assert rows[0]["amount"] == "13000"
    assert rows[0]["reference"] == "SEPA-2026-12"
    assert rows[0]["partnerName"].startswith("'=")  # never a live formula


def test_a_viewer_sees_the_program_but_changes_nothing(server: LiveServer) -> None:
    owner = dash(server)
    partner_id = _enroll(owner, "ada@partners.example", "Ada")
    viewer = viewer_of(server, owner.account)
    assert "Ada" in viewer.get("/program").text
    page = viewer.get(f"/program/partners/{partner_id}").text
    assert "invite?token=" not in page  # the invitation is for those who can change things
    refused = viewer.post(
        "/program/rewards",
        {"event": "lead", "type": "flat", "amount": "5"},
        csrf=viewer.csrf("/program"),
    )
    assert refused.status_code == 403
    with server.services.db.transaction() as session:
        assert session.scalar(select(Reward).where(Reward.event == "lead")) is None


def test_another_workspace_sees_none_of_the_program(server: LiveServer) -> None:
    owner, other = dash(server), dash(server)
    partner_id = _enroll(owner, "ada@partners.example", "Ada Secret")
    assert other.client.get(owner.base + "/program").status_code == 404
    assert other.get(f"/program/partners/{partner_id}").status_code == 404
    assert "Ada Secret" not in other.get("/program").text
    with server.services.db.transaction() as session:
        assert session.get(Partner, partner_id) is not None
