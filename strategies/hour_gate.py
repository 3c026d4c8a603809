"""When a strategy acts: once per data hour, when every leg's bar for that hour has arrived.

Venues stamp the same hourly bar differently (Binance at …:59:59.999, Bybit and OKX at the round
hour), so bars are grouped by the hour they close in, never compared with each other or with the
clock. An hour whose legs do not all arrive is skipped when the next hour's data arrives, or, when
the strategy is to act on what is there, acted on with the last prices once a wait runs out (or
the next hour's data arrives first); logged either way.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from nautilus_trader.model.identifiers import InstrumentId

from adapters.hours import closing_hour

OnHour = Callable[[int, int], None]
"""Called with (closing hour, stamp of the bar that completed it) when the strategy is to act."""


class HourGate:
    """Gathers the legs' bars of each hour and opens once per hour (see the module docstring)."""

    def __init__(self, log, on_hour: OnHour, wait_secs: float, action: str) -> None:
        self._clock = None
        self._log = log
        self._on_hour = on_hour
        self._wait = pd.Timedelta(seconds=wait_secs)
        self._act_on_missing = action == "act"
        self.legs: set[InstrumentId] = set()
        self.hour = 0
        """The last hour acted on or given up (ns)."""
        self.tick_ns = 0
        """Stamp of the bar that completed :attr:`hour`."""
        self.skipped: list[tuple[int, str]] = []
        """(hour, missing legs) of hours not acted on."""
        self._bucket = 0
        self._arrived: set[InstrumentId] = set()
        self._has_price: Callable[[InstrumentId], bool] = lambda _: False

    def watch(self, legs: list[InstrumentId], has_price: Callable[[InstrumentId], bool], clock) -> None:
        """Gate on ``legs``; ``has_price`` says whether a leg has any price yet (acting on a gap);
        ``clock`` times the wait for missing legs."""
        self.legs = set(legs)
        self._has_price = has_price
        self._clock = clock

    def on_bar(self, instrument_id: InstrumentId, ts: int) -> None:
        if instrument_id not in self.legs:
            return  # an optional price (exit pools, reward tokens): read when needed, never gates
        hour = closing_hour(ts)
        if hour <= self.hour:
            return  # a late bar of an hour already acted on or given up
        if hour != self._bucket:
            if self._bucket > self.hour:
                self._resolve(self._bucket, "the next hour's data arrived")
            self._bucket, self._arrived = hour, set()
            if self._act_on_missing and len(self.legs) > 1:  # skipping needs no timer: nothing is done
                self._clock.set_time_alert(
                    f"legs-{hour}",
                    self._clock.utc_now() + self._wait,
                    lambda _, h=hour: self._resolve(h, "the wait ran out"),
                )
        self._arrived.add(instrument_id)
        if len(self._arrived) == len(self.legs):
            self._open(hour, ts)

    def _resolve(self, hour: int, why: str) -> None:
        if hour <= self.hour or hour != self._bucket:
            return  # acted on, or already resolved
        missing = ", ".join(sorted(str(i) for i in self.legs - self._arrived))
        when = pd.Timestamp(hour, tz="UTC")
        if self._act_on_missing and all(self._has_price(i) for i in self.legs):
            self._log.warning(f"{when}: no bar from {missing} ({why}): acting on the last prices")
            self._open(hour, hour)
            return
        self._log.warning(f"{when}: no bar from {missing} ({why}): hour skipped")
        self.skipped.append((hour, missing))
        self.hour = hour

    def to_json(self) -> dict:
        return {
            "hour": self.hour,
            "tick_ns": self.tick_ns,
            "skipped": self.skipped,
            "bucket": self._bucket,
            "arrived": sorted(str(i) for i in self._arrived),
        }

    def load_json(self, values: dict) -> None:
        """Carry on from a saved gate: the hour acted on and the legs of the next one already in."""
        self.hour, self.tick_ns = values["hour"], values["tick_ns"]
        self.skipped = [(hour, missing) for hour, missing in values["skipped"]]
        self._bucket = values["bucket"]
        self._arrived = {InstrumentId.from_str(i) for i in values["arrived"]}

    def _open(self, hour: int, ts: int) -> None:
        self.hour, self.tick_ns = hour, ts
        self._on_hour(hour, ts)
