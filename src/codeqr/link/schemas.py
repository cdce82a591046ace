"""Request and response shapes of the links API, as Dub's SDKs send and read them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
)

from codeqr.kit import jsonvalues
from codeqr.kit.schemas import Nullable
from codeqr.link.countries import COUNTRY_CODES
from codeqr.money.bounds import Total

TAG_NAME_MAX = 64
# Dates outside these years cannot round-trip through every database and ISO 8601 with "Z".
EARLIEST_YEAR, LATEST_YEAR = 1970, 9999


def _str_or_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


StrList = Annotated[list[str], BeforeValidator(_str_or_list)]
"""A list of strings that also accepts one comma-separated string (Dub's ``tagIds``)."""


def _no_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL, and no URL, key, name or filter needs one.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class LinkFields(BaseModel):
    """Fields a link can be created or updated with (camelCase on the wire).

    Explicit JSON ``null`` is accepted everywhere (Dub's SDKs send them). Fields Dub has and
    CodeQR does not store yet (``proxy``, ``rewrite``, ``doIndex``, ``video``, ``folderId``,
    ``programId``, ``partnerId``, ``testVariants``, ``webhookIds``…) are accepted and ignored.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    domain: Nullable[str] = Field(default=None, max_length=190)
    key: Nullable[str] = Field(default=None, max_length=190)
    key_length: Nullable[int] = Field(default=None, alias="keyLength", ge=3, le=190)
    prefix: Nullable[str] = Field(default=None, max_length=100)
    external_id: Nullable[str] = Field(default=None, alias="externalId", max_length=190)
    tenant_id: Nullable[str] = Field(default=None, alias="tenantId", max_length=190)
    track_conversion: Nullable[StrictBool] = Field(default=None, alias="trackConversion")
    archived: Nullable[StrictBool] = None
    public_stats: Nullable[StrictBool] = Field(default=None, alias="publicStats")
    tag_id: Nullable[str] = Field(default=None, alias="tagId", max_length=40)
    tag_ids: Nullable[StrList] = Field(default=None, alias="tagIds", max_length=100)
    tag_names: Nullable[StrList] = Field(default=None, alias="tagNames", max_length=100)
    comments: Nullable[str] = Field(default=None, max_length=10_000)
    expires_at: Nullable[datetime] = Field(default=None, alias="expiresAt")
    expired_url: Nullable[str] = Field(default=None, alias="expiredUrl", max_length=32_000)
    password: Nullable[str] = Field(default=None, max_length=200)
    proxy: Nullable[StrictBool] = None
    title: Nullable[str] = Field(default=None, max_length=1_000)
    description: Nullable[str] = Field(default=None, max_length=10_000)
    image: Nullable[str] = Field(default=None, max_length=32_000)
    video: Nullable[str] = Field(default=None, max_length=32_000)
    rewrite: Nullable[StrictBool] = None
    ios: Nullable[str] = Field(default=None, max_length=32_000)
    android: Nullable[str] = Field(default=None, max_length=32_000)
    geo: Nullable[dict[str, str]] = Field(default=None, max_length=250)
    do_index: Nullable[StrictBool] = Field(default=None, alias="doIndex")
    utm_source: Nullable[str] = Field(default=None, max_length=190)
    utm_medium: Nullable[str] = Field(default=None, max_length=190)
    utm_campaign: Nullable[str] = Field(default=None, max_length=190)
    utm_term: Nullable[str] = Field(default=None, max_length=190)
    utm_content: Nullable[str] = Field(default=None, max_length=190)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)

    @field_validator("geo")
    @classmethod
    def _geo_countries(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        out: dict[str, str] = {}
        for country, url in value.items():
            code = country.strip().upper()
            if code not in COUNTRY_CODES:
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
            out[code] = url
        return out

    @field_validator("expires_at")
    @classmethod
    def _expiry_in_range(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            value = value.replace(year=1)  # out of range either way, reported below
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)")
        return value

    @field_validator("tag_names")
    @classmethod
    def _tag_names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if len(name) > TAG_NAME_MAX:
                raise ValueError(f"{name[:20]!r}… is longer than {TAG_NAME_MAX} characters")
        return value


class LinkCreate(LinkFields):
    """``POST /links``, ``PUT /links/upsert``, items of ``POST /links/bulk``."""

    url: str = Field(max_length=32_000)


class LinkUpdate(LinkFields):
    """``PATCH /links/{id}``: every field optional; ``null`` clears it."""

    url: Nullable[str] = Field(default=None, max_length=32_000)


class BulkUpdate(BaseModel):
    """``PATCH /links/bulk``: the same change to up to 100 links, all or nothing."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    link_ids: Nullable[list[str]] = Field(default=None, alias="linkIds", max_length=100)
    external_ids: Nullable[list[str]] = Field(default=None, alias="externalIds", max_length=100)
    data: LinkUpdate


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class CountGroupBy(StrEnum):
    """What ``GET /links/count?groupBy=`` can group by (Dub's values)."""

    domain = "domain"
    tag_id = "tagId"
    user_id = "userId"
    folder_id = "folderId"


class LinkFilters(BaseModel):
    """Query filters shared by list and count (Dub's names)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    domain: str | None = Field(default=None, max_length=190)
    tag_id: str | None = Field(default=None, alias="tagId", max_length=40)
    tag_ids: str | None = Field(default=None, alias="tagIds", max_length=5_000)
    tag_names: str | None = Field(default=None, alias="tagNames", max_length=5_000)
    folder_id: str | None = Field(default=None, alias="folderId", max_length=40)
    search: str | None = Field(default=None, max_length=500)
    user_id: str | None = Field(default=None, alias="userId", max_length=40)
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=190)
    show_archived: bool = Field(default=False, alias="showArchived")
    with_tags: bool = Field(default=False, alias="withTags")

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)

    def tag_id_list(self) -> list[str]:
        """``tagId`` and ``tagIds`` together."""
        ids = _str_or_list(self.tag_ids or "")
        return [*ids, self.tag_id] if self.tag_id else list(ids)

    def tag_name_list(self) -> list[str]:
        """``tagNames`` split on commas."""
        return list(_str_or_list(self.tag_names or ""))


class TagOut(BaseModel):
    id: str
    name: str
    color: str


class LinkOut(BaseModel):
    """A link as the API answers it; every field Dub's ``LinkSchema`` requires is present.

    ``password`` is always ``null``: it is stored as an argon2 hash and never shown again.
    """

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
    sale_amount: Total = Field(alias="saleAmount")
    """Net revenue in minor units of the reporting currency, within ``±TOTAL_MAX``."""
    last_clicked: str | None = Field(alias="lastClicked")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")


LinkErrorCode = Literal[
    "bad_request",
    "forbidden",
    "not_found",
    "conflict",
    "unprocessable_entity",
    "rate_limit_exceeded",
]
"""Codes a bulk-create item can fail with (a subset of Dub's ``LinkErrorSchema`` codes)."""


BULK_ITEM_DEPTH = 32
"""How deeply a bulk-create item may nest: far more than a link has (3), and far less than
what echoing it back in a ``LinkError`` could serialize."""


def _echoable(item: Any) -> Any:
    why = jsonvalues.problem(item, max_depth=BULK_ITEM_DEPTH, numbers=False)
    if why is not None:
        raise ValueError(why)
    return item


BulkItem = Annotated[Any, AfterValidator(_echoable)]
"""One item of a bulk create, checked item by item later; only its nesting is bounded here,
as the item is echoed back whole when it fails."""


class LinkError(BaseModel):
    """One failed item of a bulk create, in the place of the link it would have been."""

    link: Any
    error: str
    code: LinkErrorCode


class Deleted(BaseModel):
    id: str


class BulkDeleted(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    deleted_count: int = Field(alias="deletedCount")
