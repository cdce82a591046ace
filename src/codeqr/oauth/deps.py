"""Bearer OAuth access tokens on API routes: ``get_oauth_grant`` resolves one into an
``OAuthGrant``; ``require_scope(name)`` also insists on a scope.

    @router.patch("/stripe/integration")
    def bind(grant: Annotated[OAuthGrant, Depends(require_scope(STRIPE_WRITE))]) -> …
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from codeqr.api.deps import ServicesDep, SessionDep, limit_credential
from codeqr.api.errors import answers
from codeqr.kit.errors import Forbidden, Unauthorized
from codeqr.oauth import service


@dataclass(frozen=True)
class OAuthGrant:
    """What a live access token allows: which app acts for which user on which workspace."""

    user_id: str
    workspace_id: str
    app_id: str
    scopes: tuple[str, ...]

    def has(self, scope: str) -> bool:
        """Whether the grant includes ``scope``."""
        return scope in self.scopes


def _refused(description: str) -> Unauthorized:
    # RFC 6750 §3: say which scheme and why; CORS lets a browser-based client read it.
    return Unauthorized(
        f"Unauthorized: {description}",
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"',
            "Access-Control-Allow-Origin": "*",
        },
    )


@answers(401, 429)
def get_oauth_grant(request: Request, session: SessionDep, services: ServicesDep) -> OAuthGrant:
    """The grant of the request's ``Authorization: Bearer`` OAuth access token; 401 in the
    error envelope when it is missing, unknown, expired or revoked. A token's calls count
    against its workspace plan's API rate, as a key's do (429 past it)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refused("Missing or malformed Authorization header.")
    found = service.resolve_access_token(session, token)
    if found is None:
        raise _refused("The access token is invalid, expired or revoked.")
    row, _user, workspace = found
    limit_credential(session, request, services, f"oauth:{row.id}", workspace.plan)
    return OAuthGrant(
        user_id=row.user_id,
        workspace_id=row.workspace_id,
        app_id=row.app_id,
        scopes=tuple(row.scopes),
    )


OAuthGrantDep = Annotated[OAuthGrant, Depends(get_oauth_grant)]


def require_scope(scope: str) -> Callable[[OAuthGrant], OAuthGrant]:
    """A dependency: the grant, which must include ``scope`` (else 403)."""

    @answers(403)
    def dependency(grant: OAuthGrantDep) -> OAuthGrant:
        if not grant.has(scope):
            raise Forbidden(f"This access token was not granted the {scope} scope.")
        return grant

    return dependency
