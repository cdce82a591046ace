"""Request and response shapes of the links API, as Dub's SDKs send and read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from codeqr.kit.schemas import Nullable


def _str_or_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v for v in value.split(",") if v] if "," in value else [value]
    return value


StrList = Annotated[list[str], BeforeValidator(_str_or_list)]


class LinkFields(BaseModel):
    """Fields a link can be created or updated with (camelCase on the wire)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    domain: Nullable[str] = None
    key: Nullable[str] = Field(default=None, max_length=190)
    key_length: Nullable[int] = Field(default=None, alias="keyLength", ge=3, le=190)
    prefix: Nullable[str] = Field(default=None, max_length=100)
    external_id: Nullable[str] = Field(default=None, alias="externalId", max_length=190)
    tenant_id: Nullable[str] = Field(default=None, alias="tenantId", max_length=190)
    track_conversion: Nullable[bool] = Field(default=None, alias="trackConversion")
    archived: Nullable[bool] = None
    public_stats: Nullable[bool] = Field(default=None, alias="publicStats")
    tag_id: Nullable[str] = Field(default=None, alias="tagId")
    tag_ids: Nullable[StrList] = Field(default=None, alias="tagIds")
    tag_names: Nullable[StrList] = Field(default=None, alias="tagNames")
    comments: Nullable[str] = Field(default=None, max_length=10_000)
    expires_at: Nullable[datetime] = Field(default=None, alias="expiresAt")
    expired_url: Nullable[str] = Field(default=None, alias="expiredUrl", max_length=32_000)
    password: Nullable[str] = Field(default=None, max_length=200)
    proxy: Nullable[bool] = None
    title: Nullable[str] = Field(default=None, max_length=1_000)
    description: Nullable[str] = Field(default=None, max_length=10_000)
    image: Nullable[str] = Field(default=None, max_length=32_000)
    video: Nullable[str] = None
    rewrite: Nullable[bool] = None
    ios: Nullable[str] = Field(default=None, max_length=32_000)
    android: Nullable[str] = Field(default=None, max_length=32_000)
    geo: Nullable[dict[str, str]] = None
    do_index: Nullable[bool] = Field(default=None, alias="doIndex")
    utm_source: Nullable[str] = Field(default=None, max_length=190)
    utm_medium: Nullable[str] = Field(default=None, max_length=190)
    utm_campaign: Nullable[str] = Field(default=None, max_length=190)
    utm_term: Nullable[str] = Field(default=None, max_length=190)
    utm_content: Nullable[str] = Field(default=None, max_length=190)

    @field_validator("geo")
    @classmethod
    def _geo_countries(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        out: dict[str, str] = {}
        for country, url in value.items():
            if len(country) != 2 or not country.isalpha():
                raise ValueError(f"{country!r} is not a two-letter country code")
            out[country.upper()] = url
        return out


class LinkCreate(LinkFields):
    """``POST /links``: the destination is required."""

    url: str = Field(max_length=32_000)


class LinkUpdate(LinkFields):
    """``PATCH /links/{id}``: every field optional; ``null`` clears it."""

    url: Nullable[str] = Field(default=None, max_length=32_000)


class BulkUpdate(BaseModel):
    """``PATCH /links/bulk``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    link_ids: Nullable[list[str]] = Field(default=None, alias="linkIds", max_length=100)
    external_ids: Nullable[list[str]] = Field(default=None, alias="externalIds", max_length=100)
    data: LinkUpdate


class TagOut(BaseModel):
    id: str
    name: str
    color: str


class LinkOut(BaseModel):
    """A link as the API answers it; every field Dub's ``LinkSchema`` requires is present."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    domain: str
    key: str
    url: str
    track_conversion: bool = Field(alias="trackConversion")
    external_id: str | None = Field(alias="externalId")
    tenant_id: str | None = Field(alias="tenantId")
    program_id: str | None = Field(default=None, alias="programId")
    partner_id: str | None = Field(default=None, alias="partnerId")
    archived: bool
    expires_at: str | None = Field(alias="expiresAt")
    expired_url: str | None = Field(alias="expiredUrl")
    disabled_at: str | None = Field(default=None, alias="disabledAt")
    password: str | None
    proxy: bool = False
    title: str | None
    description: str | None
    image: str | None
    video: str | None = None
    rewrite: bool = False
    do_index: bool = Field(default=False, alias="doIndex")
    ios: str | None
    android: str | None
    geo: dict[str, str] | None
    public_stats: bool = Field(default=False, alias="publicStats")
    tag_id: str | None = Field(alias="tagId")
    tags: list[TagOut]
    folder_id: str | None = Field(default=None, alias="folderId")
    webhook_ids: list[str] = Field(default_factory=list, alias="webhookIds")
    comments: str | None
    short_link: str = Field(alias="shortLink")
    qr_code: str = Field(alias="qrCode")
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    test_variants: list[Any] | None = Field(default=None, alias="testVariants")
    test_started_at: str | None = Field(default=None, alias="testStartedAt")
    test_completed_at: str | None = Field(default=None, alias="testCompletedAt")
    user_id: str | None = Field(alias="userId")
    workspace_id: str = Field(alias="workspaceId")
    project_id: str = Field(alias="projectId")
    clicks: int
    leads: int
    conversions: int
    sales: int
    sale_amount: int = Field(alias="saleAmount")
    last_clicked: str | None = Field(alias="lastClicked")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")


class LinkError(BaseModel):
    """One failed item of a bulk create."""

    link: Any
    error: str
    code: str


class Deleted(BaseModel):
    id: str


class BulkDeleted(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    deleted_count: int = Field(alias="deletedCount")
