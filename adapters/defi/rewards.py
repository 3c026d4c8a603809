"""Crediting EtherFi restaking rewards to a holder from its own holdings history, without look-ahead.

A reward program pays ``per_eeth`` tokens for each eETH held over its period (see
:class:`data_catalog.rewards.RewardProgram`). A strategy's holdings change during the period, so
its reward is ``per_eeth`` × its time-weighted average eETH over the period. The holdings are
recorded as they happen (:class:`HoldingsIntegral`), and the reward is computed at the payout,
which comes at or after the period end: only holdings that were already known are used.
"""

from __future__ import annotations

from bisect import bisect_right

from data_catalog.rewards import RewardProgram


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
