"""Shapes of program settings and rewards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from codeqr.kit.errors import Unprocessable
from codeqr.kit.schemas import Nullable
from codeqr.program.models import RewardDuration, RewardEvent, RewardType

PERCENT_SCALE = 100
"""Percentage rewards are stored in hundredths of a percent: 20% is 2000."""
FLAT_MAX = 100_000_000
"""The largest flat reward, in minor units (1,000,000.00 in a two-decimal currency)."""
MONTHS_MAX = 120
NAME_MAX = 190
URL_MAX = 2_000


@dataclass(frozen=True)
class RewardSpec:
    """A reward as set from the CLI (and later the dashboard), checked on creation.

    ``amount`` is in minor units for a flat reward and a percentage (up to two decimals)
    for a percentage reward. ``months`` makes a sale reward recurring, ``lifetime`` makes
    it pay for every sale; neither pays the first sale of each customer only.
    """

    event: RewardEvent
    type: RewardType
    amount: float
    months: int | None = None
    lifetime: bool = False

    def stored_amount(self) -> int:
        """The amount as the ``rewards`` table keeps it (integers only)."""
        if self.type is RewardType.flat:
            if self.amount != int(self.amount) or not 0 < self.amount <= FLAT_MAX:
                raise Unprocessable(
                    f"amount: a flat reward is a whole number of minor units, 1 to {FLAT_MAX}"
                )
            return int(self.amount)
        hundredths = round(self.amount * PERCENT_SCALE)
        if abs(self.amount * PERCENT_SCALE - hundredths) > 1e-6 or not 0 < hundredths <= 10_000:
            raise Unprocessable(
                "amount: a percentage reward is above 0 and at most 100, with up to two decimals"
            )
        return hundredths

    def duration(self) -> tuple[RewardDuration, int | None]:
        """The duration and months of the reward; 422 for what cannot apply."""
        if self.months is not None and self.lifetime:
            raise Unprocessable("months: give --months or --lifetime, not both")
        if self.event is not RewardEvent.sale:
            if self.months is not None or self.lifetime:
                raise Unprocessable("months: only sale rewards have a duration")
            if self.type is RewardType.percentage:
                raise Unprocessable(
                    f"type: a {self.event.value} reward is flat (percentage needs a sale amount)"
                )
            return RewardDuration.one_time, None
        if self.lifetime:
            return RewardDuration.lifetime, None
        if self.months is not None:
            if not 1 <= self.months <= MONTHS_MAX:
                raise Unprocessable(f"months: 1 to {MONTHS_MAX}")
            return RewardDuration.recurring, self.months
        return RewardDuration.one_time, None


# --- the API's shapes (``/api/program``: CodeQR's own routes, in Dub's style) ------------

FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class ProgramUpdate(_In):
    """``PATCH /api/program``: what is given changes, the rest stays. ``defaultUrl`` and
    ``defaultDomain`` are cleared by ``null`` or ``""``; ``currency`` is the one the
    program was made with and cannot change (commissions and payouts are in it)."""

    name: str | None = Field(default=None, max_length=NAME_MAX)
    holding_period_days: StrictInt | None = Field(default=None, alias="holdingPeriodDays")
    min_payout_amount: StrictInt | None = Field(default=None, alias="minPayoutAmount")
    default_url: Nullable[str] = Field(default=None, alias="defaultUrl", max_length=URL_MAX)
    default_domain: Nullable[str] = Field(default=None, alias="defaultDomain", max_length=190)
    currency: str | None = Field(default=None, max_length=3)

    def cleared_or(self, field: str) -> str | None:
        """A clearable field's change: ``None`` when not given, ``""`` to clear it."""
        if field not in self.model_fields_set:
            return None
        value: str | None = getattr(self, field)
        return (value or "").strip()


class RewardIn(_In):
    """``PUT /api/program/rewards/{event}``. ``amount`` is minor units of the program's
    currency for ``flat``, a percentage (up to two decimals) for ``percentage``.
    ``maxDuration`` (sale rewards, Dub's meaning): absent or ``0`` pays the customer's
    first sale only, ``N`` pays for N months from the customer's first commission,
    ``null`` pays for every sale (lifetime)."""

    type: RewardType
    amount: FiniteNumber
    max_duration: Nullable[StrictInt] = Field(default=0, alias="maxDuration", ge=0)

    def spec(self, event: RewardEvent) -> RewardSpec:
        """The reward as the service checks and stores it (the CLI's and dashboard's)."""
        given = "max_duration" in self.model_fields_set
        lifetime = given and self.max_duration is None and event is RewardEvent.sale
        months = self.max_duration or None
        return RewardSpec(event, self.type, self.amount, months=months, lifetime=lifetime)


class RewardOut(BaseModel):
    """A reward of the program's default group."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    event: RewardEvent
    type: RewardType
    amount: int | float
    """Minor units for ``flat``, a percentage for ``percentage``."""
    max_duration: int | None = Field(alias="maxDuration")
    duration: RewardDuration
    group_id: str = Field(alias="groupId")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")


class ProgramOut(BaseModel):
    """The workspace's program: its settings and rewards (money in minor units of
    ``currency``)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    currency: str
    default_domain: str | None = Field(alias="defaultDomain")
    default_url: str | None = Field(alias="defaultUrl")
    holding_period_days: int = Field(alias="holdingPeriodDays")
    min_payout_amount: int = Field(alias="minPayoutAmount")
    rewards: list[RewardOut]
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")


class RewardDeleted(BaseModel):
    """The answer of ``DELETE /api/program/rewards/{event}``."""

    event: RewardEvent
    deleted: bool = True
