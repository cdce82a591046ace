"""The analytics page and its JSON: counts, funnel, breakdowns, filters and plan limits."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from codeqr.dashboard import charts, csv_export
from codeqr.events.models import click_events
from codeqr.kit.clock import now_ms
from codeqr.kit.ids import click_id
from tests.conftest import LiveServer

from .helpers import VISITORS, backdate_click, dash, seed, viewer_of, wait_for_clicks


def test_the_data_holds_the_series_funnel_and_breakdowns(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    data = wait_for_clicks(owner, 3)
    assert data["totals"] == {"clicks": 3, "leads": 1, "sales": 1, "saleAmount": 4900}
    series = data["timeseries"]
    assert isinstance(series, list)
    assert sum(row["clicks"] for row in series) == 3
    assert sum(row["saleAmount"] for row in series) == 4900
    funnel = data["funnel"]
    assert isinstance(funnel, dict)
    assert [s["count"] for s in funnel["steps"]] == [3, 1, 1]
    assert funnel["steps"][1]["conversionRate"] == round(1 / 3, 6)
    assert funnel["steps"][1]["dropOff"] == 2
    breakdowns = data["breakdowns"]
    assert isinstance(breakdowns, dict)
    devices = {row["value"]: row["clicks"] for row in breakdowns["devices"]["rows"]}
    assert devices == {"Desktop": 2, "Mobile": 1}
    assert breakdowns["devices"]["filter"] == "device"
    top = breakdowns["top_links"]["rows"]
    assert top[0]["value"] == seeded.link_id
    assert top[0]["label"] == f"127.0.0.1:{server.port}/spring"
    assert len(breakdowns["referers"]["rows"]) == 3


def test_filters_narrow_every_figure(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    wait_for_clicks(owner, 3)
    mobile = owner.get("/analytics/data?interval=24h&device=Mobile").json()
    assert mobile["totals"]["clicks"] == 1
    not_mobile = owner.get("/analytics/data?interval=24h&device=-Mobile").json()
    assert not_mobile["totals"]["clicks"] == 2
    by_link = owner.get(f"/analytics/data?interval=7d&linkId={seeded.link_id}").json()
    assert by_link["totals"]["clicks"] == 3
    page = owner.get(f"/analytics?interval=7d&device=Mobile&linkId={seeded.link_id}")
    assert 'data-remove-filter="device"' in page.text
    assert f'<option value="{seeded.link_id}" selected>' in page.text


def test_a_range_beyond_the_plan_is_refused_with_the_plan_needed(server: LiveServer) -> None:
    owner = dash(server, plan="free")
    page = owner.get("/analytics")
    assert "shows the last 30 days" in page.text
    refused = owner.get("/analytics/data?interval=1y")
    assert refused.status_code == 403
    message = refused.json()["error"]["message"]
    assert "requires a Pro plan" in message
    assert owner.get("/analytics/data?interval=30d").status_code == 200


def test_bad_parameters_get_a_message(server: LiveServer) -> None:
    owner = dash(server)
    answer = owner.get("/analytics/data?interval=forever")
    assert answer.status_code == 422
    assert answer.json()["error"]["message"]
    zone = owner.get("/analytics/data?timezone=Mars/Olympus")
    assert zone.status_code == 422


def test_another_workspaces_link_cannot_be_used_as_a_filter(server: LiveServer) -> None:
    mine, theirs = dash(server), dash(server)
    seeded = seed(server, theirs.account)
    answer = mine.get(f"/analytics/data?interval=24h&linkId={seeded.link_id}")
    assert answer.status_code == 404
    assert mine.get("/analytics/data?interval=24h").json()["totals"]["clicks"] == 0


def test_a_viewer_reads_analytics(server: LiveServer) -> None:
    owner = dash(server)
    seed(server, owner.account)
    wait_for_clicks(owner, 3)
    viewer = viewer_of(server, owner.account)
    assert viewer.get("/analytics").status_code == 200
    assert viewer.get("/analytics/data?interval=24h").json()["totals"]["clicks"] == 3


def test_clicks_without_a_country_are_shown_as_unknown(server: LiveServer) -> None:
    """Clicks from an address no geolocation database places (here 127.0.0.1) are left out
    of the API's countries, but the page's rows must add up to its totals."""
    owner = dash(server)
    seed(server, owner.account)
    wait_for_clicks(owner, 3)
    data = owner.get("/analytics/data?interval=24h&part=countries").json()
    rows = data["breakdowns"]["countries"]["rows"]
    assert rows == [
        {"value": None, "label": "Unknown", "clicks": 3, "leads": 1, "sales": 1,
         "saleAmount": 4900}
    ]  # fmt: skip
    assert (
        owner.get("/analytics/data?interval=24h&part=countries&device=Mobile").json()["breakdowns"][
            "countries"
        ]["rows"][0]["clicks"]
        == 1
    )
    empty = dash(server).get("/analytics/data?interval=24h&part=countries").json()
    assert empty["breakdowns"]["countries"]["rows"] == []


def test_the_summary_names_its_step(server: LiveServer) -> None:
    owner = dash(server)
    steps = {
        interval: owner.get(f"/analytics/data?interval={interval}&part=summary").json()[
            "granularity"
        ]
        for interval in ("24h", "7d", "90d", "1y", "ytd", "all")
    }
    assert steps == {"24h": "hour", "7d": "day", "90d": "day", "1y": "month", "ytd": "month",
                     "all": "month"}  # fmt: skip


def test_a_filter_chip_names_the_filter_and_the_link(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    page = owner.get(f"/analytics?interval=7d&linkId={seeded.link_id}&utm_source=news").text
    chips = page.split('aria-label="Active filters"', 1)[1].split("</div>", 1)[0]
    assert '<span class="chip-name">Link</span>' in chips
    assert f"/{seeded.key}</span>" in chips
    assert '<span class="chip-name">UTM source</span>' in chips
    assert ">linkId<" not in chips
    assert seeded.link_id not in chips.replace('data-remove-filter="linkId"', "")
    assert 'data-remove-filter="linkId"' in chips


def test_the_number_cards_compare_with_the_period_before(server: LiveServer) -> None:
    owner = dash(server)
    seed(server, owner.account)
    backdate_click(server, owner.account.workspace_id, days=10)
    week = owner.get("/analytics/data?interval=7d&part=summary").json()
    assert week["totals"]["clicks"] == 3
    previous = week["previous"]
    assert previous["totals"] == {"clicks": 1, "leads": 0, "sales": 0, "saleAmount": 0}
    start, end = (datetime.fromisoformat(previous[k]) for k in ("start", "end"))
    assert end - start == timedelta(days=7)
    assert abs((datetime.now(UTC) - end) - timedelta(days=7)) < timedelta(minutes=1)
    day = owner.get("/analytics/data?interval=24h&part=summary").json()
    assert day["previous"]["totals"]["clicks"] == 0
    assert owner.get("/analytics/data?interval=all&part=summary").json()["previous"] is None
    # A plan reaching 30 days back has nothing to compare a 30-day range with.
    free = dash(server, plan="free").get("/analytics/data?interval=30d&part=summary").json()
    assert free["previous"] is None


def test_a_breakdown_downloads_as_csv(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    answer = owner.get("/analytics/data?interval=24h&timezone=UTC&part=referers&format=csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="codeqr-{owner.account.slug}-referers-24h.csv"'
    )
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0] == [
        "Referer", "Value", "Clicks", "Leads", "Sales", "Revenue (USD)", "Share of clicks"
    ]  # fmt: skip
    assert sorted(lines[1:]) == [
        ["news0.example", "news0.example", "1", "1", "1", "49.00", "33.3%"],
        ["news1.example", "news1.example", "1", "0", "0", "0.00", "33.3%"],
        ["news2.example", "news2.example", "1", "0", "0", "0.00", "33.3%"],
    ]
    links = owner.get("/analytics/data?interval=24h&part=top_links&format=csv").text
    assert f"/spring,{seeded.link_id},3,1,1,49.00,100.0%" in links
    countries = owner.get("/analytics/data?interval=24h&part=countries&format=csv").text
    assert countries.splitlines()[1] == "Unknown,,3,1,1,49.00,100.0%"
    refused = owner.get("/analytics/data?interval=24h&part=summary&format=csv")
    assert refused.status_code == 422
    assert "CSV is for one of" in refused.json()["error"]["message"]
    assert owner.get("/analytics/data?interval=24h&format=xml").status_code == 422
    # The page's single-breakdown cards link their CSV.
    page = owner.get("/analytics?interval=24h").text
    base = f"/dashboard/{owner.account.slug}/analytics/data"
    assert f'data-csv="referers" href="{base}?part=referers&amp;format=csv"' in page


def test_csv_cells_are_never_formulas() -> None:
    rows = [
        {"label": label, "value": label, "clicks": 1, "leads": 0, "sales": 0, "saleAmount": 0}
        for label in ('=HYPERLINK("http://evil")', "+1", "-1", "@SUM(A1)", "plain")
    ]
    text = csv_export.breakdown_csv("referers", rows, "JPY")
    cells = [line[0] for line in csv.reader(io.StringIO(text))][1:]
    assert cells == ['\'=HYPERLINK("http://evil")', "'+1", "'-1", "'@SUM(A1)", "plain"]
    assert text.splitlines()[0].endswith("Revenue (JPY),Share of clicks")
    assert text.splitlines()[1].endswith(",1,0,0,0,20.0%")  # yen: no minor units


def test_a_custom_range_out_of_reach_or_malformed_says_why_on_the_page(server: LiveServer) -> None:
    free = dash(server, plan="free")
    today = datetime.now(UTC).date()
    far = (today - timedelta(days=100)).isoformat()
    page = free.get(f"/analytics?start={far}&end={today.isoformat()}")
    assert page.status_code == 200
    assert 'id="range-error"' in page.text
    assert "requires a Pro plan" in page.text
    assert 'data-invalid="true"' in page.text
    near = (today - timedelta(days=10)).isoformat()
    fine = free.get(f"/analytics?start={near}&end={today.isoformat()}")
    assert 'id="range-error"' not in fine.text
    assert f'value="{near}"' in fine.text
    assert free.get(f"/analytics/data?start={near}&part=summary").json()["granularity"] == "day"
    for bad, said in [
        ("start=yesterday", "is not an ISO 8601 date"),
        ("start=2026-03-10&end=2026-03-01", "end: must be after start"),
        ("end=2026-03-01", "start: required when end is given"),
        ("start=0001-01-01", "is not between"),
        ("start=2026-01-01%00", "NUL"),
        ("start=" + "9" * 200, "is not an ISO 8601"),
        ("start=2026-01-01&timezone=Mars/Olympus", "not an IANA timezone"),
    ]:
        answer = free.get(f"/analytics?{bad}")
        assert answer.status_code == 200, bad
        assert said in answer.text, (bad, answer.text[:300])


def _copies_of_a_click(server: LiveServer, workspace_id: str, **columns: list[str]) -> None:
    """Store copies of one of the workspace's clicks (now), the n-th with the n-th value of
    each of ``columns``."""
    rows = []
    with server.services.db.transaction() as session:
        row = session.execute(
            select(click_events).where(click_events.c.workspace_id == workspace_id).limit(1)
        ).one()
        count = len(next(iter(columns.values())))
        for n in range(count):
            at = now_ms() - n
            values = {name: found[n] for name, found in columns.items()}
            rows.append({**row._mapping, "id": click_id(at), "timestamp": at, **values})
        session.execute(click_events.insert(), rows)


def test_cities_os_utm_and_triggers_are_broken_down_and_filter(server: LiveServer) -> None:
    owner = dash(server)
    seeded = seed(server, owner.account)
    wait_for_clicks(owner, 3)
    api = server.client(seeded.token)
    # UTM tags belong to the link: tagged now, its clicks count under them.
    tagged = api.patch(f"/api/links/{seeded.link_id}", json={"utm_source": "newsletter"})
    assert tagged.status_code == 200, tagged.text
    qr = server.client().get(f"/{seeded.key}?qr=1", headers={"user-agent": VISITORS[0] + " QR"})
    assert qr.status_code == 302
    wait_for_clicks(owner, 4)
    data = owner.get("/analytics/data?interval=24h&timezone=UTC").json()["breakdowns"]
    assert set(data) == set(charts.BREAKDOWNS)
    triggers = {row["label"]: row["clicks"] for row in data["triggers"]["rows"]}
    assert triggers == {"Link click": 3, "QR code scan": 1}
    assert {row["value"] for row in data["triggers"]["rows"]} == {"link", "qr"}
    assert data["triggers"]["filter"] == "trigger"
    assert data["utm_sources"]["rows"][0] == {
        "value": "newsletter", "label": "newsletter", "clicks": 4, "leads": 1, "sales": 1,
        "saleAmount": 4900,
    }  # fmt: skip
    assert data["utm_mediums"]["rows"] == [
        {"value": None, "label": "No UTM medium", "clicks": 4, "leads": 1, "sales": 1,
         "saleAmount": 4900}
    ]  # fmt: skip
    assert data["cities"]["rows"][0]["label"] == "Unknown"  # 127.0.0.1 is nowhere
    assert sum(row["clicks"] for row in data["os"]["rows"]) == 4
    assert data["os"]["filter"] == "os"
    os_name = data["os"]["rows"][0]["value"]
    narrowed = owner.get(f"/analytics/data?interval=24h&part=summary&os={os_name}").json()
    assert narrowed["totals"]["clicks"] == data["os"]["rows"][0]["clicks"]
    only_qr = owner.get("/analytics/data?interval=24h&part=summary&trigger=qr").json()
    assert only_qr["totals"]["clicks"] == 1
    by_source = owner.get("/analytics/data?interval=24h&part=summary&utm_source=newsletter")
    assert by_source.json()["totals"]["clicks"] == 4
    for part, header in [("os", "OS"), ("triggers", "Trigger"), ("utm_campaigns", "UTM campaign"),
                         ("cities", "City"), ("utm_sources", "UTM source")]:  # fmt: skip
        text = owner.get(f"/analytics/data?interval=24h&part={part}&format=csv").text
        assert text.startswith(f"{header},Value,Clicks"), part
    page = owner.get("/analytics?interval=24h").text
    for part in charts.BREAKDOWNS:
        assert f'data-breakdown="{part}"' in page
        assert f'data-view-all="{part}"' in page


def test_a_breakdown_says_when_it_has_more_rows_and_gives_them_all(server: LiveServer) -> None:
    owner = dash(server)
    seed(server, owner.account)
    wait_for_clicks(owner, 3)
    _copies_of_a_click(
        server, owner.account.workspace_id, referer=[f"r{n:02}.example" for n in range(12)]
    )
    top = owner.get("/analytics/data?interval=24h&part=referers").json()["breakdowns"]["referers"]
    assert len(top["rows"]) == 10
    assert top["more"] is True
    every = owner.get("/analytics/data?interval=24h&part=referers&rows=1000").json()
    assert len(every["breakdowns"]["referers"]["rows"]) == 15
    assert every["breakdowns"]["referers"]["more"] is False
    few = owner.get("/analytics/data?interval=24h&part=devices").json()["breakdowns"]["devices"]
    assert few["more"] is False
    for bad in ("0", "1001", "-1", "ten", "1e3", "9" * 30):
        answer = owner.get(f"/analytics/data?interval=24h&part=referers&rows={bad}")
        assert answer.status_code == 422, bad
        assert "rows" in answer.json()["error"]["message"]
