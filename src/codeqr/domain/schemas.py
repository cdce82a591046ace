"""Request and response shapes of the custom domains API, as Dub's SDKs send and read them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from codeqr.kit.schemas import Nullable

SLUG_MAX = 190
URL_MAX = 32_000
# Dub's placeholder is "an example of a link to be shortened", at most 100 characters.
PLACEHOLDER_MAX = 100
# Fields Dub has and CodeQR does not serve yet (a QR logo upload, the .well-known files of
# deep links): accepted so that SDK calls setting them still work, bounded, not stored.
IGNORED_MAX = 100_000


def _no_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL, and no hostname or URL needs one.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class DomainFields(BaseModel):
    """What a domain can be created or updated with (camelCase on the wire); explicit JSON
    ``null`` is accepted everywhere, an empty URL reads as ``null`` (as Dub's)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    slug: Nullable[str] = Field(default=None, min_length=1, max_length=SLUG_MAX)
    expired_url: Nullable[str] = Field(default=None, alias="expiredUrl", max_length=URL_MAX)
    not_found_url: Nullable[str] = Field(default=None, alias="notFoundUrl", max_length=URL_MAX)
    archived: Nullable[StrictBool] = None
    placeholder: Nullable[str] = Field(default=None, max_length=PLACEHOLDER_MAX)
    logo: Nullable[str] = Field(default=None, max_length=IGNORED_MAX)
    asset_links: Nullable[str] = Field(default=None, alias="assetLinks", max_length=IGNORED_MAX)
    apple_app_site_association: Nullable[str] = Field(
        default=None, alias="appleAppSiteAssociation", max_length=IGNORED_MAX
    )

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class DomainCreate(DomainFields):
    """``POST /api/domains``: ``slug`` (the hostname) is required."""

    slug: str = Field(min_length=1, max_length=SLUG_MAX)


class DomainUpdate(DomainFields):
    """``PATCH /api/domains/{slug}``: fields not sent stay as they are; ``slug`` renames."""


class RegisteredDomain(BaseModel):
    """Dub's record of a domain it registered for the workspace; CodeQR registers none."""


class DomainOut(BaseModel):
    """A domain as the API answers it: every field of Dub's ``DomainSchema``."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    slug: str
    verified: bool
    """Whether ``codeqr domains verify`` last found the domain's DNS pointing here."""
    primary: bool = False
    """Links without a domain always go on the instance's default domain."""
    archived: bool
    placeholder: str | None
    expired_url: str | None = Field(alias="expiredUrl")
    not_found_url: str | None = Field(alias="notFoundUrl")
    logo: str | None = None
    asset_links: str | None = Field(default=None, alias="assetLinks")
    apple_app_site_association: str | None = Field(default=None, alias="appleAppSiteAssociation")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    registered_domain: RegisteredDomain | None = Field(default=None, alias="registeredDomain")


class DomainDeleted(BaseModel):
    """``DELETE /api/domains/{slug}`` answers the slug it deleted."""

    slug: str
