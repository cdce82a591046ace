"""``codeqr program reward``, run as an operator would (SPEC §10)."""

from __future__ import annotations

from codeqr.link.service import LinkContext, LinkService
from codeqr.partner import service as partners
from codeqr.partner.schemas import PartnerCreate
from codeqr.settings import Settings
from codeqr.workspace import service as ws

from .test_commands import run, run_json


def _workspace(settings: Settings, plan: str) -> None:
    email = f"{plan}@example.com"
    run(settings, "users", "create", "--email", email, "--password", "long enough pw")
    run(
        settings,
        "workspaces",
        "create",
        "--name",
        plan,
        "--slug",
        plan,
        "--owner",
        email,
        "--plan",
        plan,
    )


def test_rewards_are_set_and_replaced_per_event(settings: Settings) -> None:
    _workspace(settings, "business")
    reward = ["program", "reward", "--workspace", "business"]
    lead = run_json(settings, *reward, "--event", "lead", "--type", "flat", "--amount", "500")
    assert (lead["event"], lead["type"], lead["amount"], lead["duration"]) == (
        "lead",
        "flat",
        500,
        "one_time",
    )
    sale = run_json(
        settings,
        *reward,
        "--event",
        "sale",
        "--type",
        "percentage",
        "--amount",
        "12.5",
        "--months",
        "12",
    )
    assert (sale["amount"], sale["duration"], sale["months"]) == (12.5, "recurring", 12)
    assert sale["programId"] == lead["programId"]  # one default program
    again = run_json(
        settings, *reward, "--event", "sale", "--type", "flat", "--amount", "900", "--lifetime"
    )
    assert again["id"] == sale["id"]  # replaced, not added
    assert (again["type"], again["amount"], again["duration"], again["months"]) == (
        "flat",
        900,
        "lifetime",
        None,
    )
    one_time = run_json(settings, *reward, "--event", "sale", "--type", "flat", "--amount", "1")
    assert one_time["duration"] == "one_time"


def test_bad_rewards_and_plans_are_refused_with_the_reason(settings: Settings) -> None:
    _workspace(settings, "business")
    _workspace(settings, "pro")
    base = ["program", "reward", "--workspace", "business"]
    cases = [
        (
            ["--event", "lead", "--type", "percentage", "--amount", "5"],
            "type: a lead reward is flat",
        ),
        (["--event", "sale", "--type", "percentage", "--amount", "101"], "at most 100"),
        (["--event", "sale", "--type", "flat", "--amount", "1.5"], "whole number of minor units"),
        (
            ["--event", "sale", "--type", "flat", "--amount", "5", "--months", "3", "--lifetime"],
            "not both",
        ),
        (["--event", "click", "--type", "flat", "--amount", "5", "--months", "3"], "duration"),
    ]
    for args, reason in cases:
        refused = run(settings, *base, *args, check=False)
        assert refused.returncode == 1, refused.stdout
        assert reason in refused.stderr
        assert "Traceback" not in refused.stderr
    pro = ["program", "reward", "--workspace", "pro", "--event", "lead", "--type", "flat"]
    refused = run(settings, *pro, "--amount", "5", check=False)
    assert refused.returncode == 1
    assert "requires a Business plan" in refused.stderr
    unknown = run(
        settings, *base, "--event", "view", "--type", "flat", "--amount", "5", check=False
    )
    assert unknown.returncode == 2


def test_program_settings_and_an_empty_payout_run(settings: Settings) -> None:
    _workspace(settings, "business")
    shown = run_json(
        settings,
        "program",
        "settings",
        "--workspace",
        "business",
        "--holding-days",
        "14",
        "--min-payout",
        "5000",
        "--url",
        "https://example.com/partners",
    )
    assert (shown["holdingPeriodDays"], shown["minPayoutAmount"]) == (14, 5000)
    assert shown["defaultUrl"] == "https://example.com/partners"
    bad = run(
        settings, "program", "settings", "--workspace", "business", "--url", "ftp://x", check=False
    )
    assert bad.returncode == 1
    assert "defaultUrl" in bad.stderr
    named = run_json(
        settings, "program", "settings", "--workspace", "business", "--name", " Friends "
    )
    assert (named["name"], named["holdingPeriodDays"], named["defaultDomain"]) == (
        "Friends",
        14,
        None,
    )
    foreign = run(
        settings,
        "program",
        "settings",
        "--workspace",
        "business",
        "--domain",
        "not-ours.example",
        check=False,
    )
    assert foreign.returncode == 1
    assert "defaultDomain" in foreign.stderr
    done = run_json(settings, "payouts", "run", "--workspace", "business")
    assert done == {"payouts": [], "belowMinimum": 0}
    missing = run(settings, "payouts", "mark-paid", "--workspace", "business", "po_x", check=False)
    assert missing.returncode == 1
    assert "Payout po_x not found" in missing.stderr


def test_payouts_run_mark_paid_and_export_as_csv(settings: Settings) -> None:
    """A payout made from the command line, paid, and exported; a name that looks like a
    spreadsheet formula is exported as text."""
    from codeqr.commission.models import Commission
    from codeqr.kit.clock import utcnow
    from codeqr.partner.models import Enrollment, Partner
    from codeqr.program import service as programs
    from codeqr.workspace import service as ws

    _workspace(settings, "business")
    db = settings.database()
    try:
        with db.transaction() as session:
            workspace = ws.get_workspace(session, "business")
            program = programs.default_program(session, workspace)
            group = programs.default_group(session, program)
            now = utcnow()
            session.add(
                Partner(
                    id="pn_csv",
                    workspace_id=workspace.id,
                    email="ada@example.com",
                    name="=HYPERLINK(1)",
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            session.add(
                Enrollment(
                    id="pge_csv",
                    workspace_id=workspace.id,
                    program_id=program.id,
                    partner_id="pn_csv",
                    group_id=group.id,
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(
                Commission(
                    id="cm_csv",
                    workspace_id=workspace.id,
                    program_id=program.id,
                    partner_id="pn_csv",
                    type="custom",
                    amount=0,
                    earnings=12_345,
                    currency="USD",
                    quantity=1,
                    status="pending",
                    created_at=now,
                    updated_at=now,
                )
            )
    finally:
        db.dispose()
    base = ["--workspace", "business"]
    run(settings, "program", "settings", *base, "--holding-days", "0", "--min-payout", "100")
    done = run_json(settings, "payouts", "run", *base)
    [payout] = done["payouts"]  # type: ignore[misc]
    assert (payout["partnerId"], payout["amount"]) == ("pn_csv", 12_345)
    paid = run_json(settings, "payouts", "mark-paid", *base, payout["id"], "--reference", "W-1")
    assert (paid["status"], paid["reference"]) == ("completed", "W-1")
    exported = run(settings, "payouts", "export", *base, "--status", "completed").stdout
    lines = exported.strip().splitlines()
    assert lines[0].startswith("id,partnerId,partnerName,partnerEmail,tenantId,amount")
    assert len(lines) == 2
    assert f"{payout['id']},pn_csv,'=HYPERLINK(1),ada@example.com,,12345,USD,completed" in lines[1]
    assert lines[1].endswith(",W-1")
    assert run(settings, "payouts", "export", *base, "--status", "pending").stdout.count("\n") == 1


def test_a_partner_invitation_link_is_printed_for_the_team_to_send(settings: Settings) -> None:
    _workspace(settings, "business")
    run(settings, "program", "settings", "--workspace", "business")
    db = settings.database()
    try:
        with db.transaction() as session:
            links = LinkService(
                LinkContext("localhost:8000", "http://localhost:8000"), lambda _d, _k: None
            )
            workspace = ws.get_workspace(session, "business")
            partners.create(
                session, links, workspace, PartnerCreate(email="ada@partners.example"), None
            )
    finally:
        db.dispose()
    shown = run_json(
        settings, "program", "invite", "--workspace", "business", "--email", "ADA@partners.example"
    )
    assert shown["email"] == "ada@partners.example"
    assert "/app/partners/business/invite?token=" in str(shown["url"])
    missing = run(
        settings,
        "program",
        "invite",
        "--workspace",
        "business",
        "--email",
        "x@x.example",
        check=False,
    )
    assert missing.returncode == 1
    assert "no partner with email" in missing.stderr
