"""CSV downloads of the events list and of the customers (issue 18)."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

from tests.conftest import LiveServer

from .helpers import dash, seed, viewer_of, wait_for_clicks


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_events_of_each_type_download_as_csv(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    wait_for_clicks(owner, 3)
    assert f'href="{owner.base}/events.csv?event=sales"' in owner.get("/events").text

    clicks = owner.get("/events.csv", params={"event": "clicks"})
    assert clicks.status_code == 200, clicks.text
    assert clicks.headers["content-type"].startswith("text/csv")
    assert "attachment" in clicks.headers["content-disposition"]
    rows = _rows(clicks.text)
    assert len(rows) == 3
    assert {r["Event"] for r in rows} == {"click"}
    assert {r["Referer"] for r in rows} == {"news0.example", "news1.example", "news2.example"}
    assert all(r["Short link"].endswith("/" + seeded.key) for r in rows)

    (lead,) = _rows(owner.get("/events.csv", params={"event": "leads"}).text)
    assert (lead["Event name"], lead["Customer"], lead["Customer email"]) == (
        "Sign up", "Grace Hopper", "grace@example.com"
    )  # fmt: skip
    (sale,) = _rows(owner.get("/events.csv", params={"event": "sales"}).text)
    assert (sale["Amount"], sale["Currency"], sale["Invoice ID"]) == ("49.00", "USD", "in_1")
    assert sale["Click ID"] == lead["Click ID"] != ""

    # A viewer reads them too; a range the API refuses is refused here in its envelope.
    assert len(_rows(viewer_of(server, owner.account).get("/events.csv").text)) == 3
    bad = owner.get("/events.csv", params={"event": "visits"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unprocessable_entity"


def test_customers_download_as_csv_with_the_search_applied(server: LiveServer) -> None:
    owner = dash(server)
    seed(server, owner.account)
    assert f'href="{owner.base}/customers.csv?q=grace"' in owner.get("/customers?q=grace").text
    (grace,) = _rows(owner.get("/customers.csv").text)
    assert (grace["Name"], grace["Email"], grace["External ID"]) == (
        "Grace Hopper", "grace@example.com", "user-42"
    )  # fmt: skip
    assert (grace["Sales"], grace["Revenue (USD)"]) == ("1", "49.00")
    assert _rows(owner.get("/customers.csv", params={"q": "nobody"}).text) == []


def test_the_exports_need_the_business_plan_and_stay_in_their_workspace(
    server: LiveServer,
) -> None:
    pro = dash(server, plan="pro")
    for path in ("/events.csv", "/customers.csv"):
        refused = pro.get(path)
        assert refused.status_code == 403, path
        assert "Business plan" in refused.json()["error"]["message"]
    mine, theirs = dash(server), dash(server)
    seed(server, theirs.account)
    assert "Grace" not in mine.get("/customers.csv").text
    assert mine.client.get(theirs.base + "/customers.csv").status_code == 404
    assert mine.client.get(theirs.base + "/events.csv").status_code == 404


def test_a_value_a_spreadsheet_would_run_is_written_as_text(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    visit = server.client().get(f"/{seeded.key}", headers={"user-agent": agent})
    click_id = parse_qs(urlsplit(visit.headers["location"]).query)["cq_id"][0]
    lead = server.client(seeded.token).post(
        "/api/track/lead",
        json={
            "clickId": click_id,
            "eventName": "Sign up",
            "customerExternalId": "formula",
            "customerName": '=HYPERLINK("https://evil.example","x")',
            "mode": "wait",
        },
    )
    assert lead.status_code == 200, lead.text
    names = {r["Name"] for r in _rows(owner.get("/customers.csv").text)}
    assert names == {"Grace Hopper", '\'=HYPERLINK("https://evil.example","x")'}
    leads = _rows(owner.get("/events.csv", params={"event": "leads"}).text)
    assert '\'=HYPERLINK("https://evil.example","x")' in {r["Customer"] for r in leads}
