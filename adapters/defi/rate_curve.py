"""Aave v3's variable interest-rate curve, shared by the local chain's deployment (which gives each
reserve one) and the stress scenarios (which push a reserve's utilization along it).

The data set records a reserve's kink ("optimal utilization") and, each day, one point of its
curve (utilization, borrow rate); a curve with zero base rate through that point fixes slope1.
"""

from __future__ import annotations

from dataclasses import dataclass

SLOPE2 = 0.80
"""Rate slope above the kink. Not in the data set (no recorded day sits far enough above the kink to
identify it); Aave's usual steep value for ETH and stablecoin reserves. Only matters past the kink."""
IDLE_UTILIZATION = 0.01
"""Below this recorded utilization a reserve's rate tells its base rate, not its slope."""


@dataclass(frozen=True)
class RateCurve:
    """Aave's variable-rate curve: base + slope1·U/U* below the kink U*, then slope2 above it."""

    optimal: float
    base: float
    slope1: float
    slope2: float

    def borrow_rate(self, utilization: float) -> float:
        """The variable borrow APR at ``utilization`` (``DefaultReserveInterestRateStrategy``)."""
        rate = self.base + self.slope1 * min(utilization, self.optimal) / self.optimal
        if utilization > self.optimal:
            rate += self.slope2 * (utilization - self.optimal) / (1.0 - self.optimal)
        return rate


def curve_through(optimal: float, utilization: float, borrow_rate: float) -> RateCurve:
    """A curve with the kink ``optimal`` through one recorded (utilization, borrow rate) below it.

    With a zero base rate that point fixes slope1; a reserve almost nobody borrows (utilization
    under 1 %) says nothing about its slope: its rate is its base rate.
    """
    if not 0.0 <= utilization < optimal:
        raise ValueError(f"utilization {utilization} is not below the kink {optimal}")
    if utilization < IDLE_UTILIZATION:
        return RateCurve(optimal, borrow_rate, 0.0, SLOPE2)
    return RateCurve(optimal, 0.0, borrow_rate * optimal / utilization, SLOPE2)
