"""Plain helpers for the links API tests: the Dub SDK on a live server, and database peeks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dub import Dub
from sqlalchemy import func, select

from codeqr.kit.ids import new_id
from codeqr.link.models import Domain, Link, LinkTag, Tag
from tests.conftest import LiveServer


@contextmanager
def dub_sdk(server: LiveServer, token: str) -> Iterator[Dub]:
    """The unmodified ``dub`` SDK pointed at the live server."""
    with Dub(token=token, server_url=server.base + "/api") as sdk:
        yield sdk


def counts(server: LiveServer, workspace_id: str | None = None) -> dict[str, int]:
    """Rows of links, tags and link-tags (of one workspace, or all)."""
    with server.services.db.transaction() as session:
        links = select(func.count(Link.id))
        tags = select(func.count(Tag.id))
        link_tags = select(func.count()).select_from(LinkTag).join(Link)
        if workspace_id:
            links = links.where(Link.workspace_id == workspace_id)
            tags = tags.where(Tag.workspace_id == workspace_id)
            link_tags = link_tags.where(Link.workspace_id == workspace_id)
        return {
            "links": int(session.scalar(links) or 0),
            "tags": int(session.scalar(tags) or 0),
            "link_tags": int(session.scalar(link_tags) or 0),
        }


def db_link(server: LiveServer, link_id: str) -> dict[str, Any] | None:
    """The stored row of a link as a dict, or ``None``."""
    with server.services.db.transaction() as session:
        link = session.get(Link, link_id)
        if link is None:
            return None
        return {c.key: getattr(link, c.key) for c in Link.__table__.columns}


def add_domain(server: LiveServer, workspace_id: str, slug: str) -> None:
    """A custom short domain of a workspace, written straight into its table (the domains
    API has tests of its own: tests/domain)."""
    with server.services.db.transaction() as session:
        session.add(Domain(id=new_id("dom"), workspace_id=workspace_id, slug=slug))


def error_of(response: Any) -> dict[str, str]:
    """The envelope's ``error`` object, checking its shape on the way."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "doc_url"}, error
    assert error["doc_url"].endswith("#" + error["code"])
    return dict(error)
