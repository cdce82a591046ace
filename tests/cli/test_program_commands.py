"""``codeqr program reward``, run as an operator would (SPEC §10)."""

from __future__ import annotations

from codeqr.settings import Settings

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
    done = run_json(settings, "payouts", "run", "--workspace", "business")
    assert done == {"payouts": [], "belowMinimum": 0}
    missing = run(settings, "payouts", "mark-paid", "--workspace", "business", "po_x", check=False)
    assert missing.returncode == 1
    assert "Payout po_x not found" in missing.stderr
