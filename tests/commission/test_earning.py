"""Commissions earned in the transaction of the lead or sale that earns them: the reward
rules, and exactly one commission per event under duplicate, concurrent and failed
deliveries (SPEC §10)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from codeqr.commission import earning
from codeqr.commission.models import Commission
from codeqr.conversion import flows
from codeqr.program.models import RewardEvent, RewardType
from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.partner.helpers import commissions, set_reward, visit

CALLS = 50


class Program:
    """A business workspace with one partner and its link, driven over HTTP."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.tenant = make_tenant(server, plan="business")
        self.api = server.client(self.tenant.token)
        partner = self.api.post("/api/partners", json={"email": "ada@example.com"}).json()
        self.partner_id = partner["id"]
        link = self.api.post(
            "/api/partners/links", json={"partnerId": self.partner_id, "url": "https://x.com"}
        ).json()
        self.short_link = link["shortLink"]

    def reward(
        self, event: RewardEvent, kind: RewardType, amount: float, **duration: object
    ) -> None:
        set_reward(self.server, self.tenant.slug, event, kind, amount, **duration)  # type: ignore[arg-type]

    def lead(self, customer: str) -> None:
        answer = self.api.post(
            "/api/track/lead",
            json={
                "clickId": visit(self.short_link),
                "eventName": "Sign up",
                "customerExternalId": customer,
            },
        )
        assert answer.status_code == 200, answer.text

    def sale(self, customer: str, amount: int, invoice: str, currency: str = "usd") -> int:
        return self.api.post(
            "/api/track/sale",
            json={
                "customerExternalId": customer,
                "amount": amount,
                "currency": currency,
                "invoiceId": invoice,
            },
        ).status_code

    def rows(self) -> list[tuple[str, int, int]]:
        return [
            (r["type"], r["amount"], r["earnings"])
            for r in commissions(self.server, self.tenant.workspace_id)
        ]

    def age_commissions(self, days: int) -> None:
        """Move every commission ``days`` into the past (as if earned back then)."""
        with self.server.services.db.transaction() as session:
            rows = session.scalars(
                select(Commission).where(Commission.workspace_id == self.tenant.workspace_id)
            )
            for row in rows:
                row.created_at -= timedelta(days=days)


@pytest.fixture
def program(server: LiveServer) -> Program:
    return Program(server)


def test_lead_flat_and_sale_percentage_each_delivered_twice(program: Program) -> None:
    program.reward(RewardEvent.lead, RewardType.flat, 500)
    program.reward(RewardEvent.sale, RewardType.percentage, 20, months=12)
    program.lead("u1")
    program.lead("u1")  # the same lead again: acknowledged, not counted, earns nothing
    assert program.sale("u1", 12_345, "in_1") == 200
    assert program.sale("u1", 12_345, "in_1") == 200  # the same sale again
    # 20% of 123.45 is 24.69; the lead's $5 flat; all in the program's currency.
    assert program.rows() == [("lead", 0, 500), ("sale", 12_345, 2469)]
    assert {r["currency"] for r in commissions(program.server, program.tenant.workspace_id)} == {
        "USD"
    }
    assert {r["status"] for r in commissions(program.server, program.tenant.workspace_id)} == {
        "pending"
    }


def test_a_sale_in_another_currency_earns_on_its_converted_net_amount(program: Program) -> None:
    program.reward(RewardEvent.sale, RewardType.percentage, 10, lifetime=True)
    program.lead("u1")
    assert program.sale("u1", 10_000, "in_eur", currency="eur") == 200
    ((kind, amount, earned),) = program.rows()
    assert kind == "sale"
    assert amount != 10_000  # the sale's amount in USD, not in EUR
    assert earned == (amount + 5) // 10


def test_one_time_pays_the_first_sale_of_each_customer_only(program: Program) -> None:
    program.reward(RewardEvent.sale, RewardType.flat, 1_000)
    program.lead("u1")
    program.lead("u2")
    for invoice in ("a1", "a2", "a3"):
        assert program.sale("u1", 5_000, invoice) == 200
    assert program.sale("u2", 5_000, "b1") == 200
    assert program.rows() == [("sale", 5_000, 1_000), ("sale", 5_000, 1_000)]


def test_recurring_pays_for_its_months_and_not_in_month_13(program: Program) -> None:
    program.reward(RewardEvent.sale, RewardType.percentage, 20, months=12)
    program.lead("u1")
    assert program.sale("u1", 1_000, "m1") == 200
    program.age_commissions(days=330)  # month 11 after the first commission: still paid
    assert program.sale("u1", 1_000, "m11") == 200
    assert len(program.rows()) == 2
    program.age_commissions(days=40)  # the first commission is now 370 days old
    assert program.sale("u1", 1_000, "m13") == 200
    assert program.rows() == [("sale", 1_000, 200), ("sale", 1_000, 200)]


def test_lifetime_keeps_paying(program: Program) -> None:
    program.reward(RewardEvent.sale, RewardType.flat, 250, lifetime=True)
    program.lead("u1")
    assert program.sale("u1", 1_000, "l1") == 200
    program.age_commissions(days=3_650)
    assert program.sale("u1", 1_000, "l2") == 200
    assert program.rows() == [("sale", 1_000, 250), ("sale", 1_000, 250)]


def test_without_a_reward_or_on_a_plain_link_nothing_is_earned(
    program: Program, server: LiveServer
) -> None:
    program.lead("u1")  # no lead reward set
    plain = program.api.post(
        "/api/links", json={"url": "https://y.com", "trackConversion": True}
    ).json()
    program.reward(RewardEvent.lead, RewardType.flat, 500)
    answer = program.api.post(
        "/api/track/lead",
        json={
            "clickId": visit(plain["shortLink"]),
            "eventName": "Sign up",
            "customerExternalId": "u2",
        },
    )
    assert answer.status_code == 200
    assert program.rows() == []


def test_concurrent_deliveries_of_one_sale_make_one_commission(program: Program) -> None:
    program.reward(RewardEvent.sale, RewardType.percentage, 20, lifetime=True)
    program.lead("u1")
    server, token = program.server, program.tenant.token

    def one(_: int) -> int:
        with httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            body = {"customerExternalId": "u1", "amount": 4_900, "invoiceId": "in_race"}
            return client.post("/api/track/sale", json=body).status_code

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        statuses = list(pool.map(one, range(CALLS)))
    assert statuses == [200] * CALLS
    assert program.rows() == [("sale", 4_900, 980)]


def test_concurrent_first_sales_of_one_customer_pay_a_one_time_reward_once(
    program: Program,
) -> None:
    # Different invoices, so each is a sale of its own: only the first earns. The sale's
    # counter update locks the customer's row, so the second writer reads the first's
    # commission before it decides (PostgreSQL); SQLite has one writer at a time.
    program.reward(RewardEvent.sale, RewardType.flat, 1_000)
    program.lead("u1")
    server, token = program.server, program.tenant.token

    def one(n: int) -> int:
        with httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            body = {"customerExternalId": "u1", "amount": 2_000, "invoiceId": f"in_{n}"}
            return client.post("/api/track/sale", json=body).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(20)))
    assert statuses == [200] * 20
    assert program.rows() == [("sale", 2_000, 1_000)]


def test_a_failure_after_the_commission_claim_rolls_all_back_and_the_retry_earns(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    program.reward(RewardEvent.sale, RewardType.flat, 700, lifetime=True)
    program.lead("u1")
    real = earning.on_sale
    failures: list[int] = []

    def crash_once(*args: object, **kwargs: object) -> bool:
        made = real(*args, **kwargs)  # type: ignore[arg-type]
        assert made  # the commission's claim is taken by now
        if not failures:
            failures.append(1)
            raise RuntimeError("injected failure after the commission's claim")
        return made

    monkeypatch.setattr(flows.earning, "on_sale", crash_once)
    assert program.sale("u1", 3_000, "in_crash") == 500
    assert program.rows() == []  # neither the sale's claim nor the commission's stayed
    assert program.sale("u1", 3_000, "in_crash") == 200
    assert program.rows() == [("sale", 3_000, 700)]
    assert program.sale("u1", 3_000, "in_crash") == 200
    assert program.rows() == [("sale", 3_000, 700)]


def test_sale_earnings_round_half_up_to_the_minor_unit() -> None:
    from codeqr.program.models import Reward

    reward = Reward(type="percentage", amount=1_250)  # 12.5%
    assert earning.sale_earnings(reward, 1_000) == 125
    assert earning.sale_earnings(reward, 4) == 1  # 0.5 rounds up
    assert earning.sale_earnings(reward, 3) == 0  # 0.375 rounds down
    assert earning.sale_earnings(Reward(type="flat", amount=500), 99_999) == 500


def test_add_months_keeps_to_the_calendar() -> None:
    from datetime import UTC, datetime

    assert earning.add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert earning.add_months(datetime(2026, 3, 15, tzinfo=UTC), 12) == datetime(
        2027, 3, 15, tzinfo=UTC
    )


def test_a_lead_from_the_browser_earns_as_one_from_the_server(program: Program) -> None:
    from tests.conversion.test_client_endpoints import allow_hostnames
    from tests.factories import make_key

    program.reward(RewardEvent.lead, RewardType.flat, 400)
    allow_hostnames(program.server, program.tenant.slug, ["www.shop.test"])
    key = make_key(program.server, program.tenant, publishable=True)
    browser = program.server.client(key)
    body = {
        "clickId": visit(program.short_link),
        "eventName": "Sign up",
        "customerExternalId": "web-1",
    }
    for _ in range(2):  # sent twice: one lead, one commission
        answer = browser.post(
            "/api/track/lead/client", json=body, headers={"Origin": "https://www.shop.test"}
        )
        assert answer.status_code == 200, answer.text
    assert program.rows() == [("lead", 0, 400)]
