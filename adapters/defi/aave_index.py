"""A streaming (no look-ahead) model of an Aave v3 reserve's liquidity and variable-borrow indices.

A supplied balance grows by the liquidity index's ratio, a variable debt by the borrow index's;
between daily snapshots the index accrues from the latest one at its rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_YEAR = 365 * 86400
"""Aave v3 ``MathUtils.SECONDS_PER_YEAR``: rates are APRs over a 365-day year."""

NANOS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class _Snapshot:
    ts_ns: int
    liquidity_index: float
    variable_borrow_index: float
    liquidity_rate: float
    variable_borrow_rate: float


class ReserveIndex:
    """Streaming liquidity / variable-borrow index of one reserve, with no look-ahead.

    Holds only the latest snapshot. Between snapshots the index is accrued forward from it at its
    own current rate, exactly as Aave updates its state on-chain (``ReserveLogic._updateIndexes``):

    - liquidity index, linear: ``I · (1 + r · Δt / SECONDS_PER_YEAR)``
      (``MathUtils.calculateLinearInterest``);
    - variable-borrow index, compounded per second: ``I · (1 + r / SECONDS_PER_YEAR) ** Δt``
      (``calculateCompoundedInterest``, which on-chain is a 3-term binomial expansion of this
      expression; the difference is ≈1e-17 relative over a day at 5 %).

    It never interpolates toward the next snapshot: that snapshot lies in the future of any time
    between the two, so using it would be look-ahead. A later snapshot simply replaces the
    accrual. A query before the latest snapshot raises, because the history it would need has
    been dropped; at a snapshot's time the value is the snapshot's exactly.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._latest: _Snapshot | None = None

    @property
    def last_ts_ns(self) -> int | None:
        """Time of the latest snapshot, None before the first one."""
        return None if self._latest is None else self._latest.ts_ns

    def update(
        self,
        ts_ns: int,
        liquidity_index: float,
        variable_borrow_index: float,
        liquidity_rate: float,
        variable_borrow_rate: float,
    ) -> None:
        """Record a snapshot; snapshots must arrive strictly in time order.

        A second snapshot at the same time is refused too: an index is a function of time, so two
        values at one instant are a data defect for ingestion to resolve, not to overwrite here.
        """
        if self._latest is not None and ts_ns <= self._latest.ts_ns:
            raise ValueError(
                f"{self.symbol}: snapshot at {ts_ns} ns is not after the latest one "
                f"at {self._latest.ts_ns} ns"
            )
        indices = {"liquidity_index": liquidity_index, "variable_borrow_index": variable_borrow_index}
        rates = {"liquidity_rate": liquidity_rate, "variable_borrow_rate": variable_borrow_rate}
        for name, value in indices.items():
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{self.symbol}: {name} must be finite and > 0, got {value}")
        for name, value in rates.items():
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{self.symbol}: {name} must be a finite APR ≥ 0, got {value}")
        self._latest = _Snapshot(
            ts_ns, liquidity_index, variable_borrow_index, liquidity_rate, variable_borrow_rate
        )

    def _since_latest(self, ts_ns: int) -> tuple[_Snapshot, float]:
        """The latest snapshot and the seconds elapsed since it; refuses to look backwards."""
        if self._latest is None:
            raise ValueError(f"{self.symbol}: no index snapshot yet, cannot value at {ts_ns} ns")
        if ts_ns < self._latest.ts_ns:
            raise ValueError(
                f"{self.symbol}: {ts_ns} ns is before the latest snapshot at {self._latest.ts_ns} ns "
                "(earlier history is not kept)"
            )
        return self._latest, (ts_ns - self._latest.ts_ns) / NANOS_PER_SECOND

    def liquidity_index(self, ts_ns: int) -> float:
        """Supply (aToken) index at ``ts_ns``: linear accrual from the latest snapshot."""
        snap, seconds = self._since_latest(ts_ns)
        return snap.liquidity_index * (1.0 + snap.liquidity_rate * seconds / SECONDS_PER_YEAR)

    def borrow_index(self, ts_ns: int) -> float:
        """Variable-debt index at ``ts_ns``: per-second compounding from the latest snapshot."""
        snap, seconds = self._since_latest(ts_ns)
        # exp(n·log1p(x)), not (1 + x) ** n: 1 + x rounds off ~1e-7 of a per-second rate x ≈ 1e-9
        growth = math.exp(seconds * math.log1p(snap.variable_borrow_rate / SECONDS_PER_YEAR))
        return snap.variable_borrow_index * growth
