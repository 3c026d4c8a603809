"""The live hour clock: one ``HourClosed`` per hour, ``grace_secs`` after it, for the hour ended."""

from __future__ import annotations

import pandas as pd
import pytest
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.model.identifiers import TraderId
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.test_kit.stubs.component import TestComponentStubs

from adapters.hour_marks import HourClosed
from live.funding import DATA_ENGINE_PROCESS
from live.hour_clock import HourClock, HourClockConfig

START = pd.Timestamp("2024-08-01 10:17", tz="UTC").value


def _started(grace_secs: float) -> tuple[HourClock, TestClock, list]:
    clock = TestClock()
    clock.set_time(START)
    msgbus = MessageBus(TraderId("TEST-001"), clock)
    cache = TestComponentStubs.cache()
    sent: list = []
    msgbus.register(DATA_ENGINE_PROCESS, sent.append)
    actor = HourClock(HourClockConfig(grace_secs=grace_secs))
    actor.register_base(Portfolio(msgbus, cache, clock), msgbus, cache, clock)
    actor.start()
    return actor, clock, sent


def _advance(clock: TestClock, to: pd.Timestamp) -> None:
    """Minute by minute (a test clock fires only the alerts set before each advance)."""
    for ts in pd.date_range(pd.Timestamp(clock.timestamp_ns(), tz="UTC"), to, freq="1min")[1:]:
        for handler in clock.advance_time(ts.value):
            handler.handle()


def test_one_mark_per_hour_after_the_grace_period() -> None:
    _, clock, sent = _started(grace_secs=120)
    _advance(clock, pd.Timestamp("2024-08-01 11:01:59", tz="UTC"))
    assert sent == []  # 11:00 closes at 11:02
    _advance(clock, pd.Timestamp("2024-08-01 13:30", tz="UTC"))
    marks = [d.data for d in sent]
    assert all(isinstance(m, HourClosed) for m in marks)
    hours = [pd.Timestamp(m.hour_ns, tz="UTC") for m in marks]
    assert hours == [pd.Timestamp(f"2024-08-01 {h}:00", tz="UTC") for h in (11, 12, 13)]
    assert [m.ts_event for m in marks] == [m.hour_ns + 1 for m in marks]  # as the backtest's marks
    assert [m.ts_init for m in marks] == [m.hour_ns + 120 * 10**9 for m in marks]


def test_started_inside_the_grace_period_closes_the_hour_just_ended() -> None:
    _, clock, sent = _started(grace_secs=30 * 60)  # 10:17 is within 10:00's grace: 10:00 is next
    _advance(clock, pd.Timestamp("2024-08-01 10:31", tz="UTC"))
    assert [pd.Timestamp(d.data.hour_ns, tz="UTC") for d in sent] == [
        pd.Timestamp("2024-08-01 10:00", tz="UTC")
    ]


def test_stop_cancels_the_clock() -> None:
    actor, clock, sent = _started(grace_secs=60)
    actor.stop()
    _advance(clock, pd.Timestamp("2024-08-01 14:00", tz="UTC"))
    assert sent == []


@pytest.mark.parametrize("grace", [-1, 3600])
def test_grace_out_of_range_is_refused(grace: float) -> None:
    with pytest.raises(ValueError, match="grace_secs"):
        HourClockConfig(grace_secs=grace)
