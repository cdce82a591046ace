"""The unmodified ``dub`` SDK (0.39) drives the whole links API and parses every answer (§7)."""

from __future__ import annotations

import pytest
from dub.models import components, errors, operations

from tests.conftest import LiveServer
from tests.factories import make_key, make_tenant

from .helpers import counts, db_link, dub_sdk

# Every nullable field of Dub's create body, sent as an explicit JSON null.
EXPLICIT_NULLS = {
    "external_id": None,
    "tenant_id": None,
    "program_id": None,
    "partner_id": None,
    "folder_id": None,
    "comments": None,
    "expires_at": None,
    "expired_url": None,
    "password": None,
    "title": None,
    "description": None,
    "image": None,
    "video": None,
    "ios": None,
    "android": None,
    "geo": None,
    "utm_source": None,
    "utm_medium": None,
    "utm_campaign": None,
    "utm_term": None,
    "utm_content": None,
    "ref": None,
    "test_variants": None,
    "test_started_at": None,
    "test_completed_at": None,
}


def test_create_with_every_field_and_read_back(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        link = dub.links.create(
            request={
                "url": "https://example.com/pricing",
                "key": "Spring-Sale",
                "external_id": "crm-42",
                "tenant_id": "tenant-7",
                "track_conversion": True,
                "tag_names": ["launch", "email"],
                "comments": "for the newsletter",
                "expires_at": "2031-05-06T07:08:09.000Z",
                "expired_url": "https://example.com/over",
                "password": "hunter2-hunter2",
                "title": "Spring sale",
                "description": "Up to 50% off",
                "image": "https://example.com/og.png",
                "ios": "https://apps.apple.com/app/id1",
                "android": "https://play.google.com/store/apps/details?id=x",
                "geo": {"fr": "https://example.fr/pricing"},
                "utm_source": "newsletter",
                "utm_medium": "email",
                "utm_campaign": "spring",
                "key_length": 7,
            }
        )
    assert isinstance(link, components.LinkSchema)
    assert link.key == "Spring-Sale"
    assert link.external_id == "crm-42"
    assert link.tenant_id == "tenant-7"
    assert link.track_conversion is True
    assert sorted(t.name for t in link.tags or []) == ["email", "launch"]
    assert link.expires_at == "2031-05-06T07:08:09.000Z"
    assert link.expired_url == "https://example.com/over"
    assert link.password is None
    assert link.geo == {"FR": "https://example.fr/pricing"}
    assert link.url == (
        "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
    )
    assert (link.utm_source, link.utm_medium, link.utm_campaign) == (
        "newsletter",
        "email",
        "spring",
    )
    assert link.workspace_id == tenant.workspace_id
    assert link.short_link == f"http://{server.base.removeprefix('http://')}/Spring-Sale"
    assert link.qr_code.startswith(server.base + "/api/qr?url=")
    assert link.clicks == 0
    assert link.created_at.endswith("Z")


def test_explicit_nulls_are_accepted_on_create_update_and_upsert(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        created = dub.links.create(request={"url": "https://example.com/n", **EXPLICIT_NULLS})
        assert created.title is None
        assert created.geo is None
        updated = dub.links.update(
            link_id=created.id,
            request_body={**EXPLICIT_NULLS, "title": "Now titled"},
        )
        assert updated.id == created.id
        assert updated.title == "Now titled"
        upserted = dub.links.upsert(request={"url": "https://example.com/n", **EXPLICIT_NULLS})
        assert upserted.id == created.id
        many = dub.links.create_many(request=[{"url": "https://example.com/m", **EXPLICIT_NULLS}])
        assert isinstance(many[0], components.LinkSchema)
        bulk = dub.links.update_many(
            request={"link_ids": [created.id], "data": {"comments": None, "title": None}}
        )
        assert bulk[0].title is None


def test_get_info_by_id_external_id_and_domain_key(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        link = dub.links.create(
            request={"url": "https://example.com/info", "key": "Info-Key", "external_id": "e-1"}
        )
        by_id = dub.links.get(request={"link_id": link.id})
        by_external = dub.links.get(request={"external_id": "e-1"})
        by_ext_prefix = dub.links.get(request={"external_id": "ext_e-1"})
        by_domain_key = dub.links.get(request={"domain": link.domain, "key": "info-key"})
        assert {by_id.id, by_external.id, by_ext_prefix.id, by_domain_key.id} == {link.id}
        with pytest.raises(errors.NotFound) as missing:
            dub.links.get(request={"link_id": "link_doesnotexist"})
        assert missing.value.status_code == 404
        assert missing.value.data.error.code == "not_found"
        assert "link_doesnotexist" in missing.value.data.error.message
        with pytest.raises(errors.UnprocessableEntity):
            dub.links.get(request={"domain": link.domain})


def test_update_changes_only_what_was_sent(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        link = dub.links.create(
            request={"url": "https://example.com/u", "title": "Old", "comments": "keep me"}
        )
        updated = dub.links.update(
            link_id=link.id,
            request_body={"title": "New", "url": "https://example.com/v", "archived": True},
        )
        assert (updated.title, updated.url, updated.archived) == (
            "New",
            "https://example.com/v",
            True,
        )
        assert updated.comments == "keep me"
        assert updated.key == link.key
        assert updated.updated_at >= link.updated_at
        # ext_<externalId> works as the id of the path too.
        dub.links.update(link_id=link.id, request_body={"external_id": "x-1"})
        renamed = dub.links.update(link_id="ext_x-1", request_body={"key": "renamed"})
        assert renamed.key == "renamed"
        untouched = dub.links.update(link_id=link.id)  # no body at all
        assert untouched.key == "renamed"
        with pytest.raises(errors.NotFound):
            dub.links.update(link_id="link_nope", request_body={"title": "x"})


def test_list_pages_and_next(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        made = [dub.links.create(request={"url": f"https://example.com/{i}"}) for i in range(5)]
        newest_first = [link.id for link in reversed(made)]
        first = dub.links.list(request={"page": 1, "page_size": 2})
        assert first is not None
        seen = [link.id for link in first.result]
        page = first.next()
        while page is not None:
            seen += [link.id for link in page.result]
            page = page.next()
        assert seen == newest_first
        everything = dub.links.list(request={})
        assert everything is not None
        assert [link.id for link in everything.result] == newest_first
        assert everything.next() is None  # fewer than the default 100: no second page


def test_list_when_the_last_page_is_full_ends_with_an_empty_page(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        for i in range(4):
            dub.links.create(request={"url": f"https://example.com/{i}"})
        first = dub.links.list(request={"page": 1, "page_size": 2})
        assert first is not None
        second = first.next()
        assert second is not None
        assert len(second.result) == 2
        third = second.next()
        assert third is not None
        assert third.result == []
        assert third.next() is None


def test_list_filters(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        a = dub.links.create(
            request={"url": "https://shop.example/a", "tag_names": ["red"], "tenant_id": "t1"}
        )
        b = dub.links.create(request={"url": "https://blog.example/b", "tag_names": ["blue"]})
        c = dub.links.create(request={"url": "https://shop.example/c", "archived": True})
        red = (a.tags or [])[0].id

        def ids(**params: object) -> set[str]:
            page = dub.links.list(request=params)
            assert page is not None
            return {link.id for link in page.result}

        assert ids() == {a.id, b.id}
        assert ids(show_archived=True) == {a.id, b.id, c.id}
        assert ids(search="shop") == {a.id}
        assert ids(search="shop", show_archived=True) == {a.id, c.id}
        assert ids(tag_ids=[red]) == {a.id}
        assert ids(tag_id=red) == {a.id}
        assert ids(tag_names=["BLUE", "red"]) == {a.id, b.id}
        assert ids(tenant_id="t1") == {a.id}
        assert ids(user_id=tenant.user_id) == {a.id, b.id}
        assert ids(domain=a.domain.upper()) == {a.id, b.id}
        assert ids(domain="other.example") == set()
        assert ids(starting_after=b.id) == {a.id}
        assert ids(ending_before=a.id) == {b.id}
        assert dub.links.count(request={"search": "shop", "show_archived": True}) == 2
        with pytest.raises(errors.NotFound):
            dub.links.list(request={"folder_id": "fold_1"})


def test_count(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        assert dub.links.count(request={}) == 0
        for i in range(3):
            dub.links.create(request={"url": f"https://example.com/{i}", "tag_names": ["t"]})
        dub.links.create(request={"url": "https://example.com/archived", "archived": True})
        assert dub.links.count(request={}) == 3
        assert dub.links.count(request={"show_archived": True}) == 4
        assert dub.links.count(request={"tag_names": ["t"]}) == 3


def test_count_group_by_is_dubs_array_which_the_sdk_types_as_a_number(
    server: LiveServer,
) -> None:
    # Dub answers groupBy with [{field: value, "_count": n}], but the SDK's getLinksCount
    # declares a plain number, so the SDK cannot parse it (against dub.co as well); the data
    # is still in the error's body.
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        link = dub.links.create(request={"url": "https://example.com/g"})
        with pytest.raises(errors.ResponseValidationError) as exc:
            dub.links.count(request={"group_by": operations.One.DOMAIN})
    assert exc.value.raw_response.status_code == 200
    assert exc.value.raw_response.json() == [{"domain": link.domain, "_count": 1}]


def test_upsert_updates_the_link_with_the_same_url_or_creates_one(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        first = dub.links.upsert(request={"url": "https://example.com/up", "title": "One"})
        again = dub.links.upsert(
            request={"url": "https://example.com/up", "title": "Two", "tag_names": ["x"]}
        )
        assert again.id == first.id
        assert again.key == first.key
        assert again.title == "Two"
        assert [t.name for t in again.tags or []] == ["x"]
        other = dub.links.upsert(request={"url": "https://example.com/other"})
        assert other.id != first.id
        # UTM fields are part of the destination: the same call twice is the same link.
        utm_a = dub.links.upsert(request={"url": "https://example.com/u", "utm_source": "a"})
        utm_b = dub.links.upsert(request={"url": "https://example.com/u", "utm_source": "a"})
        assert utm_a.id == utm_b.id
        assert dub.links.count(request={}) == 3


def test_bulk_create_update_delete(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        created = dub.links.create_many(
            request=[
                {"url": "https://example.com/1", "key": "bulk-1"},
                {"url": "https://example.com/2", "external_id": "bulk-ext"},
                {"url": "https://example.com/3", "tag_names": ["bulk"]},
            ]
        )
        assert all(isinstance(item, components.LinkSchema) for item in created)
        links = [item for item in created if isinstance(item, components.LinkSchema)]
        ids = [link.id for link in links]
        updated = dub.links.update_many(
            request={"link_ids": ids[:1], "external_ids": ["bulk-ext"], "data": {"title": "T"}}
        )
        assert sorted(link.id for link in updated) == sorted(ids[:2])
        assert {link.title for link in updated} == {"T"}
        deleted = dub.links.delete_many(request={"link_ids": [*ids[:2], "link_unknown"]})
        assert deleted.deleted_count == 2
        assert dub.links.count(request={}) == 1


def test_bulk_create_reports_each_failure_in_place(server: LiveServer) -> None:
    tenant = make_tenant(server, plan="pro")
    with dub_sdk(server, tenant.token) as dub:
        dub.links.create(request={"url": "https://example.com/taken", "key": "taken"})
        result = dub.links.create_many(
            request=[
                {"url": "https://example.com/ok-1"},
                {"url": "javascript:alert(1)"},
                {"url": "https://example.com/dup", "key": "TAKEN"},
                {"url": "https://example.com/ok-2", "key": "fresh"},
                {"url": "https://example.com/reserved", "key": "api"},
                {"url": "https://example.com/paid", "track_conversion": True},
                {"url": "https://example.com/same", "key": "twice"},
                {"url": "https://example.com/same-again", "key": "Twice"},
            ]
        )
    kinds = [type(item).__name__ for item in result]
    assert kinds == [
        "LinkSchema",
        "LinkErrorSchema",
        "LinkErrorSchema",
        "LinkSchema",
        "LinkErrorSchema",
        "LinkErrorSchema",
        "LinkSchema",
        "LinkErrorSchema",
    ]
    failures = [item for item in result if isinstance(item, components.LinkErrorSchema)]
    assert [f.code.value for f in failures] == [
        "unprocessable_entity",
        "conflict",
        "unprocessable_entity",
        "forbidden",
        "conflict",
    ]
    assert failures[0].link == {"url": "javascript:alert(1)"}
    assert "url" in failures[0].error
    assert "Business" in failures[3].error
    # Three created, plus the one made before; nothing of the failed items was written.
    assert counts(server, tenant.workspace_id)["links"] == 4


def test_delete(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        link = dub.links.create(request={"url": "https://example.com/d", "tag_names": ["t"]})
        deleted = dub.links.delete(link_id=link.id)
        assert deleted.id == link.id
        assert db_link(server, link.id) is None
        with pytest.raises(errors.NotFound):
            dub.links.delete(link_id=link.id)
        with pytest.raises(errors.NotFound):
            dub.links.get(request={"link_id": link.id})


def test_typed_errors(server: LiveServer) -> None:
    free = make_tenant(server, plan="free")
    with dub_sdk(server, free.token) as dub:
        dub.links.create(request={"url": "https://example.com/a", "key": "hello"})
        with pytest.raises(errors.Conflict) as conflict:
            dub.links.create(request={"url": "https://example.com/b", "key": "Hello"})
        assert conflict.value.data.error.code == "conflict"
        with pytest.raises(errors.UnprocessableEntity) as invalid:
            dub.links.create(request={"url": "ftp://example.com/file"})
        assert "url" in invalid.value.data.error.message
        with pytest.raises(errors.Forbidden) as forbidden:
            dub.links.create(request={"url": "https://example.com/c", "track_conversion": True})
        assert "Business" in forbidden.value.data.error.message
        with pytest.raises(errors.BadRequest) as bad:
            dub.links.create(
                request={"url": "https://example.com/d"},
                http_headers={"content-type": "text/plain"},
            )
        assert "application/json" in bad.value.data.error.message
    with dub_sdk(server, "cq_not_a_real_key") as dub, pytest.raises(errors.Unauthorized):
        dub.links.list(request={})
    publishable = make_key(server, free, publishable=True)
    with dub_sdk(server, publishable) as dub, pytest.raises(errors.Forbidden):
        dub.links.count(request={})
