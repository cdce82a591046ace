"""Request dependencies: the transaction the request owns, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from codeqr.kit.errors import Forbidden, Unauthorized
from codeqr.link.service import AFTER_COMMIT
from codeqr.services import Services
from codeqr.workspace.models import ApiKey, KeyKind, Workspace
from codeqr.workspace.service import authenticate_key, touch_key


def get_services(request: Request) -> Services:
    """The app's service container."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed after the endpoint, rolled back on any error."""
    session = services.db.session()
    try:
        yield session
        session.commit()
        for callback in session.info.pop(AFTER_COMMIT, []):
            callback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit runs when the endpoint returns, before the response is sent.
# With the default ("request") FastAPI sends the answer first and commits afterwards, so a
# client could read its own write back as missing, and a failed commit would follow a 200.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller: the key and the workspace it belongs to."""

    key: ApiKey
    workspace: Workspace


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Unauthorized: Missing or malformed Authorization header.")
    return token.strip()


def get_caller(request: Request, session: SessionDep) -> Caller:
    """The secret key's workspace; publishable keys only reach the client tracking routes."""
    key, workspace = authenticate_key(session, _bearer(request))
    if key.kind == KeyKind.publishable:
        raise Forbidden("Publishable keys can only be used for client-side tracking.")
    touch_key(session, key)
    return Caller(key=key, workspace=workspace)


CallerDep = Annotated[Caller, Depends(get_caller)]
