"""The workspace API under ``/api/workspaces`` (Dub-shaped): read and change settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field

from codeqr.api.deps import CallerDep, ServicesDep, SessionDep
from codeqr.conversion import flows
from codeqr.kit.clock import iso
from codeqr.kit.errors import NotFound
from codeqr.kit.schemas import Nullable
from codeqr.workspace import service
from codeqr.workspace.models import Workspace

router = APIRouter(prefix="/workspaces", tags=["workspaces"])


class WorkspaceUpdate(BaseModel):
    """Fields a workspace can be changed with; a missing field or a JSON ``null`` leaves
    it as it is. Other Dub fields (``logo``, ``conversionEnabled``…) are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: Nullable[str] = Field(default=None, max_length=190)
    slug: Nullable[str] = Field(default=None, max_length=64)
    # Wide enough for "dollars" to reach the service, whose message names ISO 4217.
    currency: Nullable[str] = Field(default=None, max_length=32)
    allowed_hostnames: Nullable[list[Annotated[str, Field(max_length=300)]]] = Field(
        default=None, alias="allowedHostnames", max_length=service.MAX_HOSTNAMES
    )
    client_sales_enabled: Nullable[bool] = Field(default=None, alias="clientSalesEnabled")
    """Let publishable keys record sales (off by default; needs ``clientSaleMax``)."""
    client_sale_max: Nullable[int] = Field(default=None, alias="clientSaleMax")
    """The largest client sale, in minor units of the reporting currency."""


class WorkspaceOut(BaseModel):
    """A workspace as the API answers it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    slug: str
    plan: str
    currency: str
    allowed_hostnames: list[str] = Field(alias="allowedHostnames")
    client_sales_enabled: bool = Field(alias="clientSalesEnabled")
    client_sale_max: int | None = Field(alias="clientSaleMax")
    created_at: str | None = Field(alias="createdAt")

    @classmethod
    def of(cls, workspace: Workspace) -> WorkspaceOut:
        """The wire shape of a workspace."""
        return cls(
            id=workspace.id,
            name=workspace.name,
            slug=workspace.slug,
            plan=workspace.plan,
            currency=workspace.currency,
            allowed_hostnames=list(workspace.allowed_hostnames or []),
            client_sales_enabled=bool(workspace.client_sales_enabled),
            client_sale_max=workspace.client_sale_max,
            created_at=iso(workspace.created_at),
        )


def _own(caller_workspace: Workspace, id_or_slug: str) -> Workspace:
    # A key reaches its own workspace only; any other id or slug reads as absent (SPEC §2).
    if id_or_slug not in {caller_workspace.id, caller_workspace.slug}:
        raise NotFound(f"Workspace {id_or_slug} not found.")
    return caller_workspace


IdOrSlug = Annotated[str, Path(alias="idOrSlug", max_length=200)]


@router.get("/{idOrSlug}", response_model=WorkspaceOut)
def get_workspace(id_or_slug: IdOrSlug, caller: CallerDep) -> WorkspaceOut:
    """The key's workspace, by id or slug."""
    return WorkspaceOut.of(_own(caller.workspace, id_or_slug))


@router.patch("/{idOrSlug}", response_model=WorkspaceOut)
def update_workspace(
    id_or_slug: IdOrSlug,
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    body: Annotated[WorkspaceUpdate | None, Body()] = None,
) -> WorkspaceOut:
    """Change name, slug, reporting currency, allowed hostnames or client sales; all or none."""
    update = body or WorkspaceUpdate()
    workspace = _own(caller.workspace, id_or_slug)
    previous = workspace.currency
    workspace = service.update_workspace(
        session,
        workspace,
        name=update.name,
        slug=update.slug,
        currency=update.currency,
        allowed_hostnames=update.allowed_hostnames,
        client_sales_enabled=update.client_sales_enabled,
        client_sale_max=update.client_sale_max,
    )
    flows.currency_changed(
        session, services.rates, workspace, previous, max_given=update.client_sale_max is not None
    )
    return WorkspaceOut.of(workspace)
