"""Click rewards: clicks on a partner's link earn in the click writer's transaction, one
commission per link per UTC day that grows with the day's clicks (SPEC §10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from codeqr.commission.models import Commission
from codeqr.kit.clock import utcnow
from codeqr.program.models import RewardEvent, RewardType
from codeqr.workspace import service as ws
from tests.commission.test_earning import Program
from tests.conftest import LiveServer
from tests.partner.helpers import BROWSER, commissions


def click(short_link: str, agent: str) -> None:
    """One visitor (its own user agent: its own identity) follows the link."""
    response = httpx.get(short_link, headers={"User-Agent": f"{BROWSER} v/{agent}"})
    assert response.status_code == 302, response.text


@pytest.fixture
def program(server: LiveServer) -> Program:
    return Program(server)


def clicks_rows(program: Program) -> list[dict[str, object]]:
    return commissions(program.server, program.tenant.workspace_id)


def test_clicks_on_a_partner_link_earn_one_growing_commission_a_day(program: Program) -> None:
    program.reward(RewardEvent.click, RewardType.flat, 7)
    for n in range(5):
        click(program.short_link, f"a{n}")
    click(program.short_link, "a0")  # the same visitor within the hour: deduped, earns nothing
    rows = clicks_rows(program)
    assert [(r["type"], r["earnings"], r["status"]) for r in rows] == [("click", 35, "pending")]
    assert rows[0]["partner_id"] == program.partner_id
    assert str(rows[0]["event_id"]).endswith("/" + utcnow().strftime("%Y%m%d"))
    with program.server.services.db.transaction() as session:
        row = session.scalars(select(Commission)).one()
        assert row.quantity == 5
        assert row.currency == "USD"


def test_a_plain_link_and_a_link_without_click_reward_earn_nothing(program: Program) -> None:
    click(program.short_link, "before-reward")  # no click reward yet
    program.reward(RewardEvent.click, RewardType.flat, 3)
    plain = program.api.post("/api/links", json={"url": "https://y.com"}).json()
    for n in range(3):
        click(plain["shortLink"], f"p{n}")
    assert clicks_rows(program) == []
    click(program.short_link, "after-reward")
    assert [(r["type"], r["earnings"]) for r in clicks_rows(program)] == [("click", 3)]


def test_deactivated_and_banned_partners_links_earn_no_click(program: Program) -> None:
    program.reward(RewardEvent.click, RewardType.flat, 10)
    click(program.short_link, "one")
    answer = program.api.post("/api/partners/deactivate", json={"partnerId": program.partner_id})
    assert answer.status_code == 200, answer.text
    click(program.short_link, "two")  # still redirects, counted, earns nothing
    assert [r["earnings"] for r in clicks_rows(program)] == [10]
    links = program.api.get("/api/partners/links", params={"partnerId": program.partner_id})
    assert links.json()[0]["clicks"] == 2


def test_a_day_in_a_payout_or_canceled_stops_growing_and_payouts_wait_for_the_day_end(
    program: Program,
) -> None:
    server = program.server
    program.reward(RewardEvent.click, RewardType.flat, 50_000)
    with server.services.db.transaction() as session:
        from codeqr.program import service as programs

        workspace = ws.get_workspace(session, program.tenant.slug)
        prog = programs.default_program(session, workspace)
        prog.holding_period_days, prog.min_payout_amount = 0, 1
    click(program.short_link, "x1")
    from codeqr.payout import service as payouts

    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, program.tenant.slug)
        assert payouts.run(session, workspace).payouts == []  # today's row still grows
    # A day later the day is over: the run takes it.
    tomorrow = utcnow() + timedelta(days=1)
    with server.services.db.transaction() as session:
        workspace = ws.get_workspace(session, program.tenant.slug)
        (made,) = payouts.run(session, workspace, now=tomorrow).payouts
        assert made.amount == 50_000
    # A late click of that day (written after the run) does not change a processed row.
    click(program.short_link, "x2")
    rows = clicks_rows(program)
    assert [(r["earnings"], r["status"]) for r in rows] == [(50_000, "processed")]


def test_an_older_day_gets_its_own_row(program: Program) -> None:
    program.reward(RewardEvent.click, RewardType.flat, 4)
    click(program.short_link, "d1")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with program.server.services.db.transaction() as session:
        row = session.scalars(select(Commission)).one()
        session.execute(
            update(Commission)
            .where(Commission.id == row.id)
            .values(event_id=f"{row.link_id}/{yesterday:%Y%m%d}", created_at=yesterday)
        )
    click(program.short_link, "d2")
    click(program.short_link, "d3")
    assert [r["earnings"] for r in clicks_rows(program)] == [4, 8]


def _link_id(program: Program) -> str:
    links = program.api.get("/api/partners/links", params={"partnerId": program.partner_id})
    return str(links.json()[0]["id"])


def test_the_store_never_counts_a_click_twice_and_rolls_back_with_its_batch(
    program: Program,
) -> None:
    """Through the store: an adopted click id already stored earns nothing again (the
    hour's repeats are the redirect's test above), and a batch that fails after its click
    rewards leaves no commission behind."""
    from codeqr.events.sql import SqlEventsStore
    from codeqr.kit.clock import now_ms
    from codeqr.kit.ids import click_id
    from tests.events.helpers import stored_click

    program.reward(RewardEvent.click, RewardType.flat, 5)
    workspace_id, link_id = program.tenant.workspace_id, _link_id(program)
    now = now_ms()
    store = SqlEventsStore(program.server.services.db)
    try:
        first = stored_click(click_id(now), now, workspace_id, link_id, "a" * 32)
        store.write_clicks([first], {first.id})
        adopted = first._replace(identity_hash="b" * 32)
        fresh = stored_click(click_id(now), now, workspace_id, link_id, "c" * 32)
        ids = {adopted.id, fresh.id}
        repeats = store.write_clicks_once([adopted, fresh], now - 1000, {first.id}, ids)
        assert set(repeats) == {first.id}
        assert [(r["earnings"]) for r in clicks_rows(program)] == [10]

        real = store._earnings.write

        def write_then_fail(cursor: object, clicks: object, watch: object = None) -> int:
            real(cursor, clicks, watch)  # type: ignore[arg-type]
            raise RuntimeError("injected failure after the click reward")

        store._earnings.write = write_then_fail  # type: ignore[method-assign]
        lost = stored_click(click_id(now), now, workspace_id, link_id, "d" * 32)
        with pytest.raises(RuntimeError):
            store.write_clicks([lost], {lost.id})
        store._earnings.write = real  # type: ignore[method-assign]
        assert [(r["earnings"]) for r in clicks_rows(program)] == [10]
        store.write_clicks([lost], {lost.id})  # the retry earns once
        assert [(r["earnings"]) for r in clicks_rows(program)] == [15]
    finally:
        store.close()


def test_a_banned_partners_link_is_not_found_and_earns_nothing(program: Program) -> None:
    program.reward(RewardEvent.click, RewardType.flat, 10)
    click(program.short_link, "before")
    banned = program.api.post(
        "/api/partners/ban", json={"partnerId": program.partner_id, "reason": "tos_violation"}
    )
    assert banned.status_code == 200, banned.text
    response = httpx.get(program.short_link, headers={"User-Agent": f"{BROWSER} after"})
    assert response.status_code == 404
    # The day's pending commission was canceled with the ban; nothing more was earned.
    assert [(r["earnings"], r["status"]) for r in clicks_rows(program)] == [(10, "canceled")]
