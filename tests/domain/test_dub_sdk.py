"""The unmodified ``dub`` SDK (0.39) manages custom domains, and links on them redirect when
requested with the domain's ``Host`` (SPEC §3.1, §3.2, §7)."""

from __future__ import annotations

import httpx
import pytest
from dub.models import components, errors

from tests.conftest import LiveServer
from tests.factories import make_tenant
from tests.link.helpers import dub_sdk

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def visit(server: LiveServer, host: str, path: str) -> httpx.Response:
    """A browser's request for ``path`` on ``host``, served by the live server."""
    return server.client().get(path, headers={"Host": host, "User-Agent": BROWSER})


def test_create_list_update_delete(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        created = dub.domains.create(
            request={
                "slug": "Go.Acme-Shop.example",
                "not_found_url": "https://acme-shop.example/404",
                "expired_url": "https://acme-shop.example/expired",
                "placeholder": "https://acme-shop.example/spring",
            }
        )
        assert isinstance(created, components.DomainSchema)
        assert created.slug == "go.acme-shop.example"  # hostnames are case-insensitive
        assert created.not_found_url == "https://acme-shop.example/404"
        assert created.expired_url == "https://acme-shop.example/expired"
        assert created.verified is False
        assert created.archived is False
        assert created.registered_domain is None
        assert created.id.startswith("dom_")

        listed = dub.domains.list(request={})
        assert listed is not None
        assert [d.slug for d in listed.result] == ["go.acme-shop.example"]

        updated = dub.domains.update(
            slug="go.acme-shop.example",
            request_body={"not_found_url": "https://acme-shop.example/missing", "archived": True},
        )
        assert updated is not None
        assert updated.not_found_url == "https://acme-shop.example/missing"
        assert updated.archived is True
        assert updated.expired_url == "https://acme-shop.example/expired"  # not sent: kept
        listed = dub.domains.list(request={})
        assert listed is not None
        assert listed.result == []
        archived = dub.domains.list(request={"archived": True})
        assert archived is not None
        assert [d.slug for d in archived.result] == ["go.acme-shop.example"]

        deleted = dub.domains.delete(slug="go.acme-shop.example")
        assert deleted is not None
        assert deleted.slug == "go.acme-shop.example"
        listed = dub.domains.list(request={"archived": True})
        assert listed is not None
        assert listed.result == []
        with pytest.raises(errors.NotFound):
            dub.domains.delete(slug="go.acme-shop.example")


def test_links_on_the_domain_redirect_with_its_host(server: LiveServer) -> None:
    tenant = make_tenant(server)
    with dub_sdk(server, tenant.token) as dub:
        dub.domains.create(
            request={"slug": "go.brand.example", "not_found_url": "https://brand.example/nope"}
        )
        link = dub.links.create(
            request={"url": "https://brand.example/spring", "domain": "go.brand.example"}
        )
        assert link.domain == "go.brand.example"
        assert link.short_link == f"https://go.brand.example/{link.key}"

        hit = visit(server, "go.brand.example", f"/{link.key}")
        assert hit.status_code == 302
        assert hit.headers["location"] == "https://brand.example/spring"
        # The same key on the instance's own host is another link (none here).
        assert visit(server, f"127.0.0.1:{server.port}", f"/{link.key}").status_code == 404
        # An unknown key on the domain goes to the domain's not-found URL.
        miss = visit(server, "go.brand.example", "/no-such-key")
        assert miss.status_code == 302
        assert miss.headers["location"] == "https://brand.example/nope"

        # A change of the domain reaches the redirect at once.
        dub.domains.update(
            slug="go.brand.example", request_body={"not_found_url": "https://brand.example/gone"}
        )
        miss = visit(server, "go.brand.example", "/no-such-key")
        assert miss.headers["location"] == "https://brand.example/gone"

        # Deleted: its links go with it, and its host is no longer served as the domain.
        dub.domains.delete(slug="go.brand.example")
        assert visit(server, "go.brand.example", f"/{link.key}").status_code == 404
        with pytest.raises(errors.NotFound):
            dub.links.get(request={"link_id": link.id})


def test_errors_reach_the_sdk_as_its_types(server: LiveServer) -> None:
    owner, other = make_tenant(server), make_tenant(server)
    with dub_sdk(server, owner.token) as dub:
        dub.domains.create(request={"slug": "go.taken.example"})
        with pytest.raises(errors.UnprocessableEntity):
            dub.domains.create(request={"slug": "https://not a host/"})
    with dub_sdk(server, other.token) as dub:
        with pytest.raises(errors.Conflict):
            dub.domains.create(request={"slug": "go.taken.example"})
        with pytest.raises(errors.NotFound):
            dub.domains.update(slug="go.taken.example", request_body={"archived": True})
        with pytest.raises(errors.NotFound):
            dub.domains.delete(slug="go.taken.example")
