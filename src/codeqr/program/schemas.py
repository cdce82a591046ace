"""Shapes of program settings and rewards."""

from __future__ import annotations

from dataclasses import dataclass

from codeqr.kit.errors import Unprocessable
from codeqr.program.models import RewardDuration, RewardEvent, RewardType

PERCENT_SCALE = 100
"""Percentage rewards are stored in hundredths of a percent: 20% is 2000."""
FLAT_MAX = 100_000_000
"""The largest flat reward, in minor units (1,000,000.00 in a two-decimal currency)."""
MONTHS_MAX = 120


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
