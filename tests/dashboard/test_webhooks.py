"""The webhooks pages: create (secret shown once), edit, test event and redelivery through
the real worker to a receiver on loopback, the delivery log, disabled endpoints turned back
on, roles, the plan gate, and another workspace kept out."""

from __future__ import annotations

import html
import re
import time

from sqlalchemy import select

from codeqr.sdk.webhooks import verify
from codeqr.webhook.models import Webhook, WebhookDelivery
from tests.conftest import LiveServer
from tests.webhook.conftest import Receiver

from .helpers import Dash, dash, field_error, viewer_of


def _secret(page: str) -> str | None:
    found = re.search(r'<code class="token" id="secret-token">([^<]+)</code>', page)
    return found.group(1) if found else None


def _create(owner: Dash, url: str, triggers: list[str], name: str = "CRM") -> str:
    """Add a webhook through the form; its id (the page it lands on shows the secret)."""
    posted = owner.client.post(
        owner.base + "/webhooks",
        data={
            "csrf_token": owner.csrf("/webhooks"),
            "name": name,
            "url": url,
            "triggers": triggers,
        },
    )
    assert posted.status_code == 303, posted.text
    found = re.search(r"/webhooks/(wh_[A-Za-z0-9]+)\?done=created", posted.headers["location"])
    assert found, posted.headers["location"]
    return found.group(1)


def _rows(page: str) -> list[tuple[str, str]]:
    """``(event id, status cell)`` of each attempt in the log, newest first."""
    rows = re.findall(
        r'<tr data-event-id="([^"]+)" class="attempt [^"]+">'
        r'.*?<td data-label="HTTP status">(.*?)</td>',
        page,
        re.S,
    )
    return [(event, re.sub(r"<[^>]+>", "", cell).strip()) for event, cell in rows]


def _log_rows(owner: Dash, webhook_id: str, count: int) -> tuple[str, list[tuple[str, str]]]:
    deadline = time.monotonic() + 10
    while True:
        page = owner.get(f"/webhooks/{webhook_id}").text
        rows = _rows(page)
        if len(rows) >= count:
            return page, rows
        assert time.monotonic() < deadline, page
        time.sleep(0.05)


def test_create_see_the_secret_once_send_a_test_and_redeliver(
    hooked: LiveServer, receiver: Receiver
) -> None:
    owner = dash(hooked)
    webhook_id = _create(owner, receiver.url, ["link.created", "sale.created"])
    shown = owner.get(f"/webhooks/{webhook_id}?done=created")
    secret = _secret(shown.text)
    assert secret is not None
    assert secret.startswith("whsec_")
    assert "shown this once" in shown.text
    assert _secret(owner.get(f"/webhooks/{webhook_id}").text) is None  # a reload
    listed = owner.get("/webhooks").text
    assert "CRM" in listed
    assert receiver.url in listed
    assert secret not in listed

    test = owner.post(f"/webhooks/{webhook_id}/test", {"trigger": "sale.created"})
    assert test.status_code == 303
    assert test.headers["location"].endswith("?done=test#log")
    receiver.wait(lambda: len(receiver.got) == 1)
    got = receiver.got[0]
    assert verify(secret, got.body, got.headers)
    envelope = got.json()
    assert envelope["test"] is True
    assert envelope["event"] == "sale.created"
    page, rows = _log_rows(owner, webhook_id, 1)
    assert rows == [(envelope["id"], "200")]
    assert ">test</span>" in page
    assert "ms</td>" in page

    again = owner.post(f"/webhooks/{webhook_id}/redeliver", {"event_id": envelope["id"]})
    assert again.status_code == 303
    receiver.wait(lambda: len(receiver.got) == 2)
    assert receiver.got[1].body == got.body
    _, rows = _log_rows(owner, webhook_id, 2)
    assert rows == [(envelope["id"], "200"), (envelope["id"], "200")]


def test_the_log_shows_failures_and_a_410_disables_with_its_reason(
    hooked: LiveServer, receiver: Receiver
) -> None:
    owner = dash(hooked)
    webhook_id = _create(owner, receiver.url, ["link.created"])
    receiver.answers = [500, 410]
    owner.post(f"/webhooks/{webhook_id}/test", {})
    _, rows = _log_rows(owner, webhook_id, 2)
    assert [status for _, status in rows] == ["410", "500"]
    page = owner.get(f"/webhooks/{webhook_id}").text
    assert "Disabled" in page
    assert "410 Gone" in html.unescape(page)
    assert 'id="send-test"' not in page  # nothing can be queued for a disabled endpoint
    listed = owner.get("/webhooks").text
    assert "The endpoint answered 410 Gone." in html.unescape(listed)
    refused = owner.post(f"/webhooks/{webhook_id}/redeliver", {"event_id": rows[0][0]})
    assert refused.status_code == 409
    assert "enable it again" in refused.text

    enabled = owner.post(f"/webhooks/{webhook_id}/enable", {})
    assert enabled.status_code == 303
    page = owner.client.get(enabled.headers["location"]).text
    assert "Webhook enabled again" in page
    assert 'id="send-test"' in page
    owner.post(f"/webhooks/{webhook_id}/redeliver", {"event_id": rows[0][0]})
    receiver.wait(lambda: len(receiver.got) == 3)
    _, rows = _log_rows(owner, webhook_id, 3)
    assert rows[0][1] == "200"


def test_edit_rotate_and_delete(server: LiveServer) -> None:
    owner = dash(server)
    webhook_id = _create(owner, "https://hooks.example/in", ["link.created"])
    bad = owner.post(
        f"/webhooks/{webhook_id}", {"name": "Renamed", "url": "ftp://x", "triggers": "lead.created"}
    )
    assert bad.status_code == 400
    assert "http" in field_error(bad.text, "url")
    saved = owner.client.post(
        owner.base + f"/webhooks/{webhook_id}",
        data={
            "csrf_token": owner.csrf("/webhooks"),
            "name": "Renamed",
            "url": "https://hooks.example/other",
            "triggers": ["lead.created", "partner.enrolled"],
        },
    )
    assert saved.status_code == 303
    with server.services.db.transaction() as session:
        row = session.get(Webhook, webhook_id)
        assert row is not None
        assert (row.name, row.url, row.triggers) == (
            "Renamed",
            "https://hooks.example/other",
            ["lead.created", "partner.enrolled"],
        )
        before = row.secret
    none = owner.post(f"/webhooks/{webhook_id}", {"name": "X", "url": "https://x.example"})
    assert none.status_code == 400
    assert "at least one" in field_error(none.text, "triggers")

    rotated = owner.post(f"/webhooks/{webhook_id}/secret", {})
    assert rotated.status_code == 303
    fresh = _secret(owner.client.get(rotated.headers["location"]).text)
    assert fresh is not None
    assert fresh != before
    with server.services.db.transaction() as session:
        assert (
            session.scalars(select(Webhook.secret).where(Webhook.id == webhook_id)).one() == fresh
        )

    deleted = owner.post(f"/webhooks/{webhook_id}/delete", {})
    assert deleted.status_code == 303
    assert "Webhook deleted" in owner.client.get(deleted.headers["location"]).text
    assert owner.get(f"/webhooks/{webhook_id}").status_code == 404


def test_a_bad_new_webhook_shows_what_to_fix(server: LiveServer) -> None:
    owner = dash(server)
    refused = owner.post("/webhooks", {"name": "", "url": "https://x.example", "triggers": "x.y"})
    assert refused.status_code == 400
    assert field_error(refused.text, "name")
    with server.services.db.transaction() as session:
        assert session.scalars(select(Webhook.id)).all() == []
    unknown = owner.post("/webhooks", {"name": "A", "url": "https://x.example", "triggers": "x.y"})
    assert unknown.status_code == 400
    assert "Unknown event" in field_error(unknown.text, "triggers")


def test_viewers_see_but_cannot_change(server: LiveServer) -> None:
    owner = dash(server)
    webhook_id = _create(owner, "https://hooks.example/in", ["link.created"])
    viewer = viewer_of(server, owner.account)
    listed = viewer.get("/webhooks")
    assert listed.status_code == 200
    assert "https://hooks.example/in" in listed.text
    assert 'action="' + viewer.base + '/webhooks"' not in listed.text  # no create form
    page = viewer.get(f"/webhooks/{webhook_id}")
    assert page.status_code == 200
    assert 'id="send-test"' not in page.text
    assert 'id="rotate"' not in page.text
    assert "Redeliver" not in page.text
    token = viewer.csrf(f"/webhooks/{webhook_id}")
    for path, data in [
        ("/webhooks", {"name": "V", "url": "https://v.example", "triggers": "link.created"}),
        (f"/webhooks/{webhook_id}/test", {}),
        (f"/webhooks/{webhook_id}/secret", {}),
        (f"/webhooks/{webhook_id}/delete", {}),
        (f"/webhooks/{webhook_id}/enable", {}),
        (f"/webhooks/{webhook_id}/redeliver", {"event_id": "evt_x"}),
    ]:
        assert viewer.post(path, data, token).status_code == 403, path
    with server.services.db.transaction() as session:
        assert session.scalars(select(Webhook.id)).all() == [webhook_id]
        assert session.scalars(select(WebhookDelivery.id)).all() == []


def test_below_business_the_page_says_so_and_changes_are_refused(server: LiveServer) -> None:
    owner = dash(server, plan="pro")
    page = owner.get("/webhooks")
    assert page.status_code == 200
    assert "Webhooks need the Business plan" in page.text
    made = owner.post(
        "/webhooks", {"name": "A", "url": "https://x.example", "triggers": "link.created"}
    )
    assert made.status_code == 403
    assert "Business plan" in made.text


def test_another_workspace_cannot_see_edit_or_redeliver(
    hooked: LiveServer, receiver: Receiver
) -> None:
    a, b = dash(hooked), dash(hooked)
    webhook_a = _create(a, receiver.url, ["link.created"], name="Alpha CRM")
    a.post(f"/webhooks/{webhook_a}/test", {})
    receiver.wait(lambda: len(receiver.got) == 1)
    event_a = receiver.got[0].json()["id"]
    webhook_b = _create(b, receiver.url + "/b", ["link.created"], name="Beta CRM")
    # A's workspace in B's session, and B's workspace naming A's webhook: not found.
    assert b.client.get(f"{a.base}/webhooks").status_code == 404
    assert b.get(f"/webhooks/{webhook_a}").status_code == 404
    assert "Alpha CRM" not in b.get("/webhooks").text
    token = b.csrf("/webhooks")
    for path in ("", "/test", "/secret", "/delete", "/enable", "/redeliver"):
        data = {"name": "B", "url": "https://b.example", "triggers": "link.created"}
        answer = b.post(f"/webhooks/{webhook_a}{path}", {**data, "event_id": event_a}, token)
        assert answer.status_code == 404, path
        assert event_a not in answer.text
    # B's own webhook naming A's event: not found, nothing queued or sent.
    own = b.post(f"/webhooks/{webhook_b}/redeliver", {"event_id": event_a}, token)
    assert own.status_code == 404
    assert "Alpha" not in own.text
    with hooked.services.db.transaction() as session:
        row = session.get(Webhook, webhook_a)
        assert row is not None
        assert row.name == "Alpha CRM"
        assert (
            session.scalars(
                select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_b)
            ).all()
            == []
        )
    time.sleep(0.3)
    assert len(receiver.got) == 1
