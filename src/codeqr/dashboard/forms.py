"""Dashboard forms: posted fields into the API's schemas, and errors back onto the fields.

Services report a bad value as ``"<field>: what is wrong"`` and pydantic by location; both
are turned into ``{form field: message}`` so each message is shown next to its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from codeqr.kit.errors import CodeQRError, Forbidden
from codeqr.link.models import Link
from codeqr.link.schemas import LinkCreate, LinkUpdate

# Form fields of the link editor; the wire aliases the services name map back to them.
LINK_TEXT_FIELDS = (
    "url",
    "domain",
    "key",
    "title",
    "comments",
    "external_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "expires_at",
    "expired_url",
    "ios",
    "android",
    "password",
)
_ALIASES = {
    "externalId": "external_id",
    "expiresAt": "expires_at",
    "expiredUrl": "expired_url",
    "trackConversion": "track_conversion",
}
_FRIENDLY = {
    "string_too_long": "is too long: shorten it to {max_length} characters or fewer.",
    "datetime_from_date_parsing": "is not a date and time; pick one with the date picker.",
    "datetime_parsing": "is not a date and time; pick one with the date picker.",
}


class FormErrors(Exception):
    """Messages for the fields of a form that could not be saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _field_of(name: str, known: set[str]) -> str:
    name = _ALIASES.get(name, name)
    return name if name in known else "form"


def from_validation(exc: ValidationError, known: set[str]) -> FormErrors:
    """Pydantic's errors, one plain sentence per form field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        field = _field_of(loc[0], known) if loc else "form"
        template = _FRIENDLY.get(error["type"])
        if template:
            message = template.format(**(error.get("ctx") or {}))
            message = f"This {message}"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(field, message[:1].upper() + message[1:])
    return FormErrors(errors)


def from_service(exc: CodeQRError, known: set[str], *, forbidden_field: str = "form") -> FormErrors:
    """A service's ``"field: message"`` refusal, put on that field."""
    head, sep, rest = exc.message.partition(": ")
    field = _field_of(head, known) if sep and " " not in head else "form"
    message = rest if field != "form" else exc.message
    if isinstance(exc, Forbidden) and field == "form":
        field = forbidden_field if forbidden_field in known else "form"
    return FormErrors({field: message[:1].upper() + message[1:]})


def workspace_field(exc: CodeQRError, prefix: str) -> str:
    """Which of a workspace form's two inputs (``<prefix>slug``, ``<prefix>name``) a refusal
    of the workspace service is about."""
    return prefix + ("slug" if exc.message.startswith(("slug", "The slug")) else "name")


def link_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The link editor's text fields as posted, trimmed (for showing the form again)."""
    return {name: str(form.get(name) or "").strip() for name in LINK_TEXT_FIELDS}


def _expiry(text: str) -> datetime | None:
    # ``<input type="datetime-local">`` sends a time without zone; the form labels it UTC.
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FormErrors(
            {"expires_at": "This is not a date and time; pick one with the date picker."}
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def link_create(form: Mapping[str, Any]) -> LinkCreate:
    """A new link from the editor: empty fields are left out (defaults apply)."""
    values: dict[str, Any] = {k: v for k, v in link_values(form).items() if v}
    if "expires_at" in values:
        values["expires_at"] = _expiry(values["expires_at"])
    if form.get("track_conversion"):
        values["track_conversion"] = True
    try:
        return LinkCreate.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc, set(LINK_TEXT_FIELDS) | {"track_conversion"}) from exc


def link_update(form: Mapping[str, Any]) -> LinkUpdate:
    """Changes from the editor: an emptied field is cleared, except the URL (required), the
    domain and key (kept) and the password (kept unless "remove password" is ticked)."""
    values: dict[str, Any] = {}
    for name, text in link_values(form).items():
        if name in {"domain", "key", "password"} and not text:
            continue
        values[name] = text or None
    values["expires_at"] = _expiry(values.get("expires_at") or "")
    if form.get("remove_password"):
        values["password"] = None
    values["track_conversion"] = bool(form.get("track_conversion"))
    values["archived"] = bool(form.get("archived"))
    if not values.get("url"):
        raise FormErrors({"url": "Enter the destination URL, e.g. https://example.com/page."})
    try:
        return LinkUpdate.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc, set(LINK_TEXT_FIELDS) | {"track_conversion"}) from exc


class LinkForm(BaseModel):
    """The link editor as posted (a checkbox is absent when unticked)."""

    model_config = ConfigDict(extra="ignore", str_max_length=32_000)

    url: str = ""
    domain: str = ""
    key: str = ""
    title: str = ""
    comments: str = ""
    external_id: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    expires_at: str = ""
    expired_url: str = ""
    ios: str = ""
    android: str = ""
    password: str = ""
    track_conversion: bool = False
    archived: bool = False
    remove_password: bool = False


def link_form_of(link: Link) -> dict[str, str]:
    """The editor's fields filled from a stored link (the password is never shown)."""
    expires = ""
    if link.expires_at is not None:
        moment = link.expires_at
        moment = moment.astimezone(UTC) if moment.tzinfo else moment
        expires = moment.strftime("%Y-%m-%dT%H:%M")
    values = {name: str(getattr(link, name, "") or "") for name in LINK_TEXT_FIELDS}
    values.update(expires_at=expires, password="")
    return values
