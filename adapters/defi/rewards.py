"""EtherFi restaking reward programs, and crediting them to a holder from its own holdings history.

A reward program (:class:`RewardProgram`) pays ``per_eeth`` tokens for each eETH held over its
period. A strategy's holdings change during the period, so its reward is ``per_eeth`` × its
time-weighted average eETH over the period. The holdings are recorded as they happen
(:class:`HoldingsIntegral`), and the reward is computed at the payout, which comes at or after
the period end: only holdings that were already known are used.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime

REWARD_TOKENS = ("EIGEN", "ETHFI")
"""EtherFi's reward tokens."""


@dataclass(frozen=True)
class RewardProgram:
    """One reward distribution: ``per_eeth`` tokens for each eETH held over the whole period.

    A holder's reward is ``per_eeth`` × their time-weighted average eETH over
    [``period_start_ns``, ``period_end_ns``), credited at ``payout_ns`` (never earlier, so a
    backtest cannot spend a reward before it was paid). ``estimated`` programs were published
    only as a range; ``per_eeth`` is then the midpoint of [``per_eeth_low``, ``per_eeth_high``].
    """

    token: str
    program: str
    period_start_ns: int
    period_end_ns: int
    payout_ns: int
    per_eeth: float
    per_eeth_low: float
    per_eeth_high: float
    estimated: bool
    source: str

    def __post_init__(self) -> None:
        if self.token not in REWARD_TOKENS:
            raise ValueError(f"reward token {self.token!r} is not one of {REWARD_TOKENS}")
        if not self.period_start_ns < self.period_end_ns <= self.payout_ns:
            raise ValueError(
                f"{self.program}: need period start < period end <= payout, got "
                f"{_iso(self.period_start_ns)}, {_iso(self.period_end_ns)}, {_iso(self.payout_ns)}"
            )
        if not 0 <= self.per_eeth_low <= self.per_eeth <= self.per_eeth_high:
            raise ValueError(
                f"{self.program}: need 0 <= low <= per_eeth <= high, got "
                f"{self.per_eeth_low}, {self.per_eeth}, {self.per_eeth_high}"
            )


class HoldingsIntegral:
    """Time-weighted eETH holdings from samples recorded in time order.

    Holdings are piecewise constant: a sample's amount holds from its timestamp until the next
    sample (the last one holds onward). Before the first sample the holder had nothing. Keeps a
    running integral at each sample, so memory is O(samples) and :meth:`average` is O(log n).
    """

    def __init__(self) -> None:
        self._ts: list[int] = []
        self._amounts: list[float] = []
        self._integral: list[float] = []
        """∫ holdings dt (eETH·ns) from the first sample to each sample's timestamp."""

    def record(self, ts_ns: int, eeth_amount: float) -> None:
        """Holdings are ``eeth_amount`` from ``ts_ns`` on; a second sample at the same time replaces it."""
        if not eeth_amount >= 0:
            raise ValueError(f"eETH holdings must be a non-negative number, got {eeth_amount}")
        if self._ts and ts_ns < self._ts[-1]:
            raise ValueError(
                f"holdings sample at {ts_ns} ns is earlier than the last one at {self._ts[-1]} ns; "
                "samples must be recorded in time order"
            )
        if self._ts and ts_ns == self._ts[-1]:
            self._amounts[-1] = eeth_amount
            return
        self._integral.append(self._integral_to(ts_ns))
        self._ts.append(ts_ns)
        self._amounts.append(eeth_amount)

    def average(self, start_ns: int, end_ns: int) -> float:
        """Time-weighted average eETH held over [``start_ns``, ``end_ns``)."""
        if end_ns <= start_ns:
            raise ValueError(f"empty interval: end {end_ns} ns is not after start {start_ns} ns")
        return (self._integral_to(end_ns) - self._integral_to(start_ns)) / (end_ns - start_ns)

    def _integral_to(self, ts_ns: int) -> float:
        """∫ holdings dt from the first sample to ``ts_ns`` (0 before the first sample)."""
        i = bisect_right(self._ts, ts_ns) - 1
        if i < 0:
            return 0.0
        return self._integral[i] + self._amounts[i] * (ts_ns - self._ts[i])


def reward_amount(program: RewardProgram, holdings: HoldingsIntegral) -> float:
    """Reward tokens ``program`` pays a holder: per-eETH amount × average eETH over its period.

    Call it at the program's payout (after the period end), once holdings up to then are recorded;
    the last recorded amount is taken to hold until the period end.
    """
    return program.per_eeth * holdings.average(program.period_start_ns, program.period_end_ns)


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M")
