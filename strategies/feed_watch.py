"""Stale data: which of a strategy's feeds have gone silent for longer than they should.

Every feed a strategy decides on has an expected interval: hourly bars, funding prints every 8 h
(00/08/16 UTC on Binance, Bybit and OKX), the hourly gas price and model calls, daily Aave
snapshots. A feed whose last point is older than ``interval × stale_after_intervals`` is stale;
while any is, the strategy opens nothing new (risk-reducing actions go on) and says so. Ages are
measured on the venues' time (data time in a backtest and in paper), from a feed's last point, or
for a feed not heard from yet, from the strategy's first decision (before it, such a feed's age
is unknown): a backtest and its paper replay see the same feeds go stale at the same points.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.hours import HOUR_NS

FUNDING_INTERVAL_NS = 8 * HOUR_NS
DAY_NS = 24 * HOUR_NS


@dataclass(frozen=True)
class StaleFeed:
    feed: str
    age_ns: int
    interval_ns: int

    def describe(self) -> str:
        return (
            f"{self.feed} silent for {self.age_ns / HOUR_NS:.1f} h (expected every "
            f"{self.interval_ns / HOUR_NS:g} h)"
        )


class FeedWatch:
    """Last point per feed and the feeds gone stale (see the module docstring)."""

    def __init__(self, stale_after_intervals: float) -> None:
        if not stale_after_intervals >= 1:
            raise ValueError(f"stale_after_intervals must be >= 1, got {stale_after_intervals}")
        self.tolerance = stale_after_intervals
        self.intervals: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.origin: int | None = None
        """The strategy's first decision: where a feed not heard from yet is aged from."""

    def expect(self, feed: str, interval_ns: int) -> None:
        self.intervals[feed] = interval_ns

    def seen(self, feed: str, ts_ns: int) -> None:
        if feed not in self.intervals:
            return
        if ts_ns > self.last.get(feed, 0):
            self.last[feed] = ts_ns

    def start(self, ts_ns: int) -> None:
        """The strategy decides for the first time: feeds not heard from are aged from here."""
        if self.origin is None:
            self.origin = ts_ns

    def ages(self, now_ns: int) -> dict[str, int | None]:
        """Age (ns) of every feed's last point at ``now_ns`` (None: not heard from, and no decision yet)."""
        return {feed: self._age(feed, now_ns) for feed in self.intervals}

    def _age(self, feed: str, now_ns: int) -> int | None:
        since = self.last.get(feed, self.origin)
        return None if since is None else max(0, now_ns - since)

    def stale(self, now_ns: int) -> list[StaleFeed]:
        return [
            StaleFeed(feed, age, self.intervals[feed])
            for feed, age in self.ages(now_ns).items()
            if age is not None and age > self.intervals[feed] * self.tolerance
        ]

    def to_json(self) -> dict:
        return {"last": self.last, "origin": self.origin}

    def load_json(self, values: dict) -> None:
        self.last = {feed: int(ts) for feed, ts in values["last"].items()}
        self.origin = values["origin"]
