"""Wire shapes of the OAuth endpoints and of the ``oauth-apps`` CLI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codeqr.kit.clock import iso
from codeqr.oauth.models import OAuthApp
from codeqr.oauth.scopes import USER_READ, WORKSPACE_READ
from codeqr.oauth.service import IssuedTokens
from codeqr.workspace.models import User, Workspace


class TokenResponse(BaseModel):
    """A successful token answer (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    refresh_token: str
    scope: str

    @classmethod
    def of(cls, issued: IssuedTokens) -> TokenResponse:
        """The wire shape of a new token pair."""
        return cls(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            refresh_token=issued.refresh_token,
            scope=" ".join(issued.scopes),
        )


class TokenError(BaseModel):
    """A refused token request (RFC 6749 §5.2)."""

    error: str
    error_description: str


class UserInfoUser(BaseModel):
    id: str
    name: str | None
    email: str


class UserInfoWorkspace(BaseModel):
    id: str
    slug: str
    name: str
    plan: str


class UserInfo(BaseModel):
    """Who granted the token, and the workspace it is for: each only as far as the token's
    scopes allow (``user.read``: the user; ``workspace.read``: the workspace), else ``null``.
    A token for the Stripe App alone (``stripe.write``) learns neither."""

    user: UserInfoUser | None
    workspace: UserInfoWorkspace | None

    @classmethod
    def of(cls, user: User, workspace: Workspace, scopes: tuple[str, ...]) -> UserInfo:
        """The wire shape of a grant's user and workspace, as its scopes allow."""
        return cls(
            user=UserInfoUser(id=user.id, name=user.name, email=user.email)
            if USER_READ in scopes
            else None,
            workspace=UserInfoWorkspace(
                id=workspace.id, slug=workspace.slug, name=workspace.name, plan=workspace.plan
            )
            if WORKSPACE_READ in scopes
            else None,
        )


class OAuthAppOut(BaseModel):
    """A registered app as the CLI prints it; ``clientSecret`` only when just created."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    client_id: str = Field(alias="clientId")
    client_secret: str | None = Field(default=None, alias="clientSecret")
    name: str
    redirect_uris: list[str] = Field(alias="redirectUris")
    pkce_required: bool = Field(alias="pkceRequired")
    created_at: str | None = Field(alias="createdAt")

    @classmethod
    def of(cls, app: OAuthApp, client_secret: str | None = None) -> OAuthAppOut:
        """The wire shape of an app."""
        return cls(
            id=app.id,
            client_id=app.client_id,
            client_secret=client_secret,
            name=app.name,
            redirect_uris=list(app.redirect_uris),
            pkce_required=app.pkce_required,
            created_at=iso(app.created_at),
        )
