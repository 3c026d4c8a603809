"""The live source of :class:`~adapters.hour_marks.HourClosed`: the end of each data hour.

A backtest and a paper replay carry the marks in their data. Live, nothing on the venues says
"the hour is over": the marks are a clock's. Each round hour plus a grace period (the time the
venues take to close and stream the hour's bars, funding prints and fills), the clock sends one
mark for the hour just ended through the data engine, as a data client would, so the accounting
samples NAV and attribution on the same hours as in a backtest. A mark missed (the node was
down) needs no catch-up here: the accounting samples every hour up to the mark it receives.
"""

from __future__ import annotations

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.model.data import CustomData, DataType

from adapters.hour_marks import HourClosed
from adapters.hours import HOUR_NS
from live.funding import DATA_ENGINE_PROCESS

TIMER = "hour-closed"


class HourClockConfig(ActorConfig, frozen=True):
    grace_secs: float = 180.0
    """How long after a round hour its mark is sent (s): longer than the venues take to stream
    the hour's closing bars, and than the strategies' ``missing_leg_wait_secs``."""

    def __post_init__(self) -> None:
        if not 0 <= self.grace_secs < 3600:
            raise ValueError(f"grace_secs must be in [0, 3600), got {self.grace_secs}")


class HourClock(Actor):
    """Sends ``HourClosed`` for each hour, ``grace_secs`` after it ends, from the node's clock."""

    def __init__(self, config: HourClockConfig | None = None) -> None:
        config = config or HourClockConfig()
        super().__init__(config)
        self._grace_ns = int(config.grace_secs * 1e9)

    def on_start(self) -> None:
        self._schedule()

    def on_stop(self) -> None:
        if TIMER in self.clock.timer_names:
            self.clock.cancel_timer(TIMER)

    def _schedule(self) -> None:
        now = self.clock.timestamp_ns()
        hour = (now - self._grace_ns) // HOUR_NS * HOUR_NS + HOUR_NS  # the next hour to close
        self.clock.set_time_alert_ns(TIMER, hour + self._grace_ns, self._on_alert)

    def _on_alert(self, event: TimeEvent) -> None:
        hour = (event.ts_event - self._grace_ns) // HOUR_NS * HOUR_NS
        mark = HourClosed(ts_event=hour + 1, ts_init=self.clock.timestamp_ns(), hour_ns=hour)
        self.msgbus.send(endpoint=DATA_ENGINE_PROCESS, msg=CustomData(DataType(HourClosed), mark))
        self._schedule()
