"""What a Stripe event must look like before CodeQR acts on it, and what of it is kept.

A signed body is Stripe's (or a holder of the endpoint's secret's), but its fields are still
an outsider's values: each one a handler reads is checked here first, so none of them can
reach a 500 (which Stripe would retry for days, failing the same way every time).

Two rules, by what is wrong:

- **The envelope** (``id``, ``type``, ``created``, ``livemode``, ``account``, ``data.object``)
  identifies and orders the event in the inbox. When it is not Stripe's shape the body is
  not an event CodeQR can even file: **400, nothing stored**.
- **The object's fields** (amounts, currencies, ids, nested objects) of an event that is well
  filed: when one has the wrong type or a value CodeQR cannot hold, the event is **stored
  refused**: stamped handled with no effects and the reason as its outcome and error, and
  acknowledged 200 with that reason. Its body can never change, so a retry could never
  succeed; the inbox row shows the operator what came and why nothing was counted, and
  neither ``codeqr stripe replay`` nor a waiting refund picks it up again.

What is kept of an event (``kept``) is what attribution and a replay read, not the buyer's
address, phone, tax ids or card details, which Stripe sends and CodeQR never needs.
"""

from __future__ import annotations

import json
from typing import Any

from codeqr.kit.errors import BadRequest, Unprocessable
from codeqr.money.bounds import AMOUNT_MAX
from codeqr.money.currency import normalize_currency

ID_MAX = 190
"""The longest Stripe id CodeQR stores (customer, invoice, payment intent and charge ids)."""
EVENT_ID_MAX = 255
ACCOUNT_MAX = 64
CREATED_MAX = 4_102_444_800
"""2100-01-01 in Unix seconds: a ``created`` past it is no time Stripe sends."""


def text(payload: bytes) -> str:
    """The body as text; 400 unless it is UTF-8 (what Stripe sends, and what its signature
    is computed over)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The body is not UTF-8 (byte {exc.start}): not a Stripe event.") from exc


def parse(body: str) -> dict[str, Any]:
    """The event, once its envelope is Stripe's shape; 400 otherwise (nothing is stored)."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("The body is not a JSON Stripe event.") from exc
    if not isinstance(event, dict):
        raise BadRequest("The body is not a Stripe event (a JSON object is needed).")
    data = event.get("data")
    if (
        not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    ):
        raise BadRequest("The body is not a Stripe event (id, type and data.object needed).")
    if not 0 < len(event["id"]) <= EVENT_ID_MAX:
        raise BadRequest(f"id: a Stripe event id has 1 to {EVENT_ID_MAX} characters.")
    if not 0 < len(event["type"]) <= 128:
        raise BadRequest("type: a Stripe event type has 1 to 128 characters.")
    created = event.get("created")
    if type(created) is not int or not 0 <= created <= CREATED_MAX:
        raise BadRequest(
            f"created: {_shown(created)} is not a time in Unix seconds (an integer from 0 "
            f"to {CREATED_MAX})."
        )
    if not isinstance(event.get("livemode", False), bool):
        raise BadRequest(f"livemode: {_shown(event.get('livemode'))} is not true or false.")
    account = event.get("account")
    if account is not None and (not isinstance(account, str) or not account):
        raise BadRequest(f"account: {_shown(account)} is not a Stripe account id.")
    if isinstance(account, str) and len(account) > ACCOUNT_MAX:
        raise BadRequest(f"account: a Stripe account id has at most {ACCOUNT_MAX} characters.")
    return event


class _Odd(Exception):
    """A field of the event's object that CodeQR cannot act on; the message says which."""


def problem(event: dict[str, Any]) -> str | None:
    """Why the event's object cannot be handled (a field of the wrong type, or a value
    CodeQR cannot hold), or ``None`` when every field its handler reads is usable."""
    kind: str = event["type"]
    check = _CHECKS.get(kind.rpartition(".")[0]) or _CHECKS.get(kind)
    if check is None:
        return None
    try:
        check(event["data"]["object"])
    except _Odd as odd:
        return str(odd)
    return None


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _object(parent: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = parent.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Odd(f"{where}.{name}: {_shown(value)} is not an object.")
    return value


def _amount(parent: dict[str, Any], name: str, where: str) -> None:
    value = parent.get(name)
    if value is None:
        return
    if type(value) is not int or abs(value) > AMOUNT_MAX:
        raise _Odd(
            f"{where}.{name}: {_shown(value)} is not an amount in minor units (an integer "
            f"of at most {AMOUNT_MAX})."
        )


def _string(parent: dict[str, Any], name: str, where: str, limit: int | None = None) -> None:
    value = parent.get(name)
    if value is None:
        return
    if not isinstance(value, str):
        raise _Odd(f"{where}.{name}: {_shown(value)} is not a string.")
    if limit is not None and len(value) > limit:
        raise _Odd(f"{where}.{name}: longer than {limit} characters.")


def _id(parent: dict[str, Any], name: str, where: str) -> None:
    value = parent.get(name)
    if not isinstance(value, str) or not value:
        raise _Odd(f"{where}.{name}: {_shown(value)} is not a Stripe id.")
    _string(parent, name, where, ID_MAX)


def _ref(parent: dict[str, Any], name: str, where: str) -> None:
    """An expandable reference: an id, the object itself (with its id), or null."""
    value = parent.get(name)
    if isinstance(value, dict):
        _id(value, "id", f"{where}.{name}")
    else:
        _string(parent, name, where, ID_MAX)


def _currency(parent: dict[str, Any], name: str, where: str, *, required: bool) -> None:
    value = parent.get(name)
    if value is None and not required:
        return
    try:
        if not isinstance(value, str) or len(value) > 16:
            raise Unprocessable("not a string")
        normalize_currency(value)
    except Unprocessable as exc:
        raise _Odd(f"{where}.{name}: {_shown(value)} is not an ISO 4217 currency code.") from exc


_AT = "data.object"


def _check_customer(obj: dict[str, Any]) -> None:
    _id(obj, "id", _AT)
    _object(obj, "metadata", _AT)
    _string(obj, "name", _AT)
    _string(obj, "email", _AT)


def _check_session(obj: dict[str, Any]) -> None:
    _id(obj, "id", _AT)
    _amount(obj, "amount_total", _AT)
    _amount(_object(obj, "total_details", _AT), "amount_tax", f"{_AT}.total_details")
    conversion = obj.get("currency_conversion")
    converted = isinstance(conversion, dict) and bool(conversion.get("source_currency"))
    if isinstance(conversion, dict):
        where = f"{_AT}.currency_conversion"
        _amount(conversion, "amount_total", where)
        _currency(conversion, "source_currency", where, required=False)
    # A paid session's sale is in its currency, unless an older Adaptive Pricing conversion
    # names the merchant's; only a setup-mode session has none.
    _currency(obj, "currency", _AT, required=obj.get("mode") != "setup" and not converted)
    _ref(obj, "customer", _AT)
    details = _object(obj, "customer_details", _AT)
    _string(details, "name", f"{_AT}.customer_details")
    _string(details, "email", f"{_AT}.customer_details")
    _string(obj, "customer_email", _AT)
    _object(obj, "metadata", _AT)
    _ref(obj, "invoice", _AT)
    _ref(obj, "payment_intent", _AT)


def _check_invoice(obj: dict[str, Any]) -> None:
    _id(obj, "id", _AT)
    for name in ("total", "total_excluding_tax", "amount_paid"):
        _amount(obj, name, _AT)
    _currency(obj, "currency", _AT, required=True)
    _ref(obj, "customer", _AT)
    _string(obj, "customer_name", _AT)
    _string(obj, "customer_email", _AT)
    parent = _object(obj, "parent", _AT)
    details = _object(parent, "subscription_details", f"{_AT}.parent")
    _object(details, "metadata", f"{_AT}.parent.subscription_details")


def _check_charge(obj: dict[str, Any]) -> None:
    _id(obj, "id", _AT)
    _amount(obj, "amount", _AT)
    _amount(obj, "amount_refunded", _AT)
    _currency(obj, "currency", _AT, required=True)
    _ref(obj, "payment_intent", _AT)


_CHECKS = {
    "customer": _check_customer,
    "checkout.session": _check_session,
    "invoice": _check_invoice,
    "charge": _check_charge,
}
"""By the event type less its last word (``checkout.session.completed`` → ``checkout.session``)."""


# --- what is kept ---------------------------------------------------------------------------

_ENVELOPE = ("id", "object", "api_version", "created", "livemode", "account", "type", "request")
_PERSON = ("id", "object", "name", "email", "metadata", "deleted")
_COMMON = ("id", "object", "created", "livemode", "status", "currency")
_KEPT: dict[str, tuple[str, ...]] = {
    "customer": (*_PERSON, "created", "livemode"),
    "checkout.session": (
        *_COMMON,
        "metadata",
        "mode",
        "payment_status",
        "amount_subtotal",
        "amount_total",
        "total_details",
        "currency_conversion",
        "presentment_details",
        "client_reference_id",
        "customer",
        "customer_details",
        "customer_email",
        "invoice",
        "payment_intent",
        "payment_link",
        "subscription",
    ),
    "invoice": (
        *_COMMON,
        "billing_reason",
        "total",
        "total_excluding_tax",
        "subtotal",
        "amount_due",
        "amount_paid",
        "customer",
        "customer_name",
        "customer_email",
        "parent",
    ),
    "charge": (
        *_COMMON,
        "amount",
        "amount_captured",
        "amount_refunded",
        "refunded",
        "payment_intent",
    ),
}
_NESTED: dict[str, tuple[str, ...]] = {
    # The buyer's name and email identify them for attribution; their address, phone and
    # tax ids, which Stripe sends beside them, are left out.
    "customer_details": ("name", "email"),
    "customer": _PERSON,
    "total_details": ("amount_discount", "amount_shipping", "amount_tax"),
}


def kept(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the inbox stores it: the envelope and the fields of its object that
    attribution, refunds and a replay read; everything else (addresses, phones, tax ids,
    payment method details, ``previous_attributes``) is dropped before it is written."""
    kind: str = event["type"]
    obj: dict[str, Any] = event["data"]["object"]
    names = _KEPT.get(kind.rpartition(".")[0]) or _KEPT.get(kind) or ("id", "object", "name")
    kept_obj: dict[str, Any] = {}
    for name in names:
        if name not in obj:
            continue
        value = obj[name]
        nested = _NESTED.get(name)
        if isinstance(value, dict) and nested is not None:
            value = {k: value[k] for k in nested if k in value}
        kept_obj[name] = value
    out = {k: event[k] for k in _ENVELOPE if k in event}
    out["data"] = {"object": kept_obj}
    return out
