"""Order-rate cap: a guard against a runaway loop flooding a venue with orders.

The strategy (every world) and, live, Nautilus' risk engine (``max_order_submit_rate``) both
count submissions — an order, or an order list as one — over a sliding minute and refuse what
goes beyond ``max_orders_per_minute``. The strategy counts on the venues' time (the node's clock
live and in a backtest, the replay's data time in paper), so a backtest and its paper replay
refuse the same orders. The default is far above what any mode sends (the busiest minute of any
mode over the full window at the default capital: 7 orders, README) and far below what a loop would send.
"""

from __future__ import annotations

from collections import deque

MINUTE_NS = 60_000_000_000
DEFAULT_MAX_ORDERS_PER_MINUTE = 30


class OrderRateCap:
    """Sliding-minute count of submissions (see the module docstring)."""

    def __init__(self, max_per_minute: int = DEFAULT_MAX_ORDERS_PER_MINUTE) -> None:
        if max_per_minute < 1:
            raise ValueError(f"max_orders_per_minute must be >= 1, got {max_per_minute}")
        self.max_per_minute = max_per_minute
        self._sent: deque[int] = deque()

    def admit(self, now_ns: int) -> str | None:
        """Count a submission at ``now_ns`` and return None, or why it is refused (not counted)."""
        while self._sent and self._sent[0] <= now_ns - MINUTE_NS:
            self._sent.popleft()
        if len(self._sent) >= self.max_per_minute:
            return (
                f"{len(self._sent)} orders already sent in the minute up to now: max_orders_per_minute "
                f"{self.max_per_minute} (mode YAML)"
            )
        self._sent.append(now_ns)
        return None

    def risk_engine_rate(self) -> str:
        """The same cap in Nautilus' ``RiskEngineConfig.max_order_submit_rate`` notation."""
        return f"{self.max_per_minute}/00:01:00"
