"""Where the 302 points: query merge, reserved parameters, click ids, device targets (§3.2)."""

from __future__ import annotations

from urllib.parse import urlsplit

from .helpers import (
    ANDROID_CHROME,
    CHROME_WINDOWS,
    IPHONE_SAFARI,
    Shortener,
    cq_id_of,
    query_of,
)

DESTINATION = "https://example.com/landing?ref=newsletter&lang=en#pricing"
PAYMENT_LINK = "https://buy.stripe.com/test_28o5lg?codeqr_client_reference_id=1&prefilled=x"
SERVER_ONLY = ("cq_id", "client_reference_id", "codeqr_client_reference_id")


def test_destination_without_visitor_query_is_unchanged(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION)
    response = shortener.visit(link)
    assert response.status_code == 302
    assert response.headers["location"] == DESTINATION


def test_destination_query_survives_a_visitor_query(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION)
    location = shortener.visit(link, params="utm_source=x").headers["location"]
    assert query_of(location) == {"ref": ["newsletter"], "lang": ["en"], "utm_source": ["x"]}
    assert location.startswith("https://example.com/landing?")


def test_repeated_destination_parameters_survive_a_visitor_query(shortener: Shortener) -> None:
    link = shortener.link(url="https://shop.example.com/list?size=s&size=m")
    location = shortener.visit(link, params="color=red").headers["location"]
    assert query_of(location) == {"size": ["s", "m"], "color": ["red"]}


def test_visitor_parameters_win_over_the_destination(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION)
    location = shortener.visit(link, params="lang=de&extra=1").headers["location"]
    assert query_of(location) == {"ref": ["newsletter"], "lang": ["de"], "extra": ["1"]}


def test_fragment_is_kept(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION)
    location = shortener.visit(link, params="a=1").headers["location"]
    assert urlsplit(location).fragment == "pricing"
    assert location.endswith("#pricing")


def test_qr_parameter_is_stripped(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION)
    location = shortener.visit(link, params="qr=1&a=1").headers["location"]
    assert "qr" not in query_of(location)
    assert query_of(location)["a"] == ["1"]


def test_visitor_cannot_set_server_parameters_on_an_untracked_link(
    shortener: Shortener,
) -> None:
    link = shortener.link(url=DESTINATION)
    params = "cq_id=x&client_reference_id=x&codeqr_client_reference_id=1"
    location = shortener.visit(link, params=params).headers["location"]
    query = query_of(location)
    for name in SERVER_ONLY:
        assert name not in query
    assert query == {"ref": ["newsletter"], "lang": ["en"]}


def test_visitor_cq_id_does_not_override_the_server_one(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION, trackConversion=True)
    location = shortener.visit(link, params="cq_id=x").headers["location"]
    click_id = cq_id_of(location)
    assert click_id != "x"
    assert [c["id"] for c in shortener.clicks(link)] == [click_id]


def test_visitor_client_reference_id_is_dropped_on_a_tracked_link(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION, trackConversion=True)
    location = shortener.visit(link, params="client_reference_id=x").headers["location"]
    assert "client_reference_id" not in query_of(location)
    cq_id_of(location)


def test_visitor_payment_link_marker_is_ignored(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION, trackConversion=True)
    location = shortener.visit(link, params="codeqr_client_reference_id=1").headers["location"]
    query = query_of(location)
    assert "codeqr_client_reference_id" not in query
    assert "client_reference_id" not in query
    cq_id_of(location)


def test_tracked_link_gets_a_cq_id(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION, trackConversion=True)
    response = shortener.visit(link)
    assert response.status_code == 302
    location = response.headers["location"]
    cq_id_of(location)
    assert query_of(location)["ref"] == ["newsletter"]
    assert location.endswith("#pricing")


def test_payment_link_gets_client_reference_id_instead_of_cq_id(shortener: Shortener) -> None:
    link = shortener.link(url=PAYMENT_LINK, trackConversion=True)
    location = shortener.visit(link, params="client_reference_id=evil").headers["location"]
    query = query_of(location)
    assert "cq_id" not in query
    assert "codeqr_client_reference_id" not in query
    assert query["prefilled"] == ["x"]
    (reference,) = query["client_reference_id"]
    assert reference.startswith("codeqr_id_")
    (click,) = shortener.clicks(link)
    assert reference == f"codeqr_id_{click['id']}"


def test_untracked_payment_link_keeps_its_marker(shortener: Shortener) -> None:
    link = shortener.link(url=PAYMENT_LINK)
    location = shortener.visit(link, params="a=1").headers["location"]
    query = query_of(location)
    assert query["codeqr_client_reference_id"] == ["1"]
    assert "client_reference_id" not in query
    assert "cq_id" not in query


def test_click_id_in_location_is_the_stored_click(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION, trackConversion=True)
    click_id = cq_id_of(shortener.visit(link).headers["location"])
    # Looked up at once, through the events store a lead would use.
    click = shortener.server.services.events.get_click(click_id)
    assert click is not None
    assert click.link_id == link["id"]
    assert click.workspace_id == shortener.tenant.workspace_id
    assert click.key == link["key"]
    assert click.url == DESTINATION


def test_untracked_link_gets_no_cq_id(shortener: Shortener) -> None:
    link = shortener.link(url=DESTINATION)
    location = shortener.visit(link, params="a=1").headers["location"]
    assert "cq_id" not in query_of(location)
    shortener.assert_counted(link, 1)


def test_iphone_goes_to_the_ios_target(shortener: Shortener) -> None:
    link = shortener.link(
        url=DESTINATION, ios="https://apps.apple.com/app/id1", android="https://play.google.com/x"
    )
    response = shortener.visit(link, user_agent=IPHONE_SAFARI)
    assert response.headers["location"] == "https://apps.apple.com/app/id1"
    (click,) = shortener.clicks(link)
    assert click["url"] == "https://apps.apple.com/app/id1"


def test_android_goes_to_the_android_target(shortener: Shortener) -> None:
    link = shortener.link(
        url=DESTINATION, ios="https://apps.apple.com/app/id1", android="https://play.google.com/x"
    )
    response = shortener.visit(link, user_agent=ANDROID_CHROME)
    assert response.headers["location"] == "https://play.google.com/x"


def test_desktop_goes_to_the_main_url(shortener: Shortener) -> None:
    link = shortener.link(
        url=DESTINATION, ios="https://apps.apple.com/app/id1", android="https://play.google.com/x"
    )
    response = shortener.visit(link, user_agent=CHROME_WINDOWS)
    assert response.headers["location"] == DESTINATION


def test_device_target_gets_the_visitor_query_and_click_id(shortener: Shortener) -> None:
    link = shortener.link(
        url=DESTINATION, ios="https://apps.apple.com/app/id1?pt=9", trackConversion=True
    )
    location = shortener.visit(link, user_agent=IPHONE_SAFARI, params="a=1&qr=1").headers[
        "location"
    ]
    assert location.startswith("https://apps.apple.com/app/id1?")
    query = query_of(location)
    assert query["pt"] == ["9"]
    assert query["a"] == ["1"]
    assert "qr" not in query
    cq_id_of(location)
