"""The hour gate: one decision per data hour, whatever stamp each venue puts on its bar."""

from __future__ import annotations

import pandas as pd
from nautilus_trader.model.identifiers import InstrumentId

from adapters.hours import HOUR_NS
from strategies.hour_gate import HourGate
from tests.strategies.recording_log import RecordingLog

BINANCE = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
BYBIT = InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT")
H = 100 * HOUR_NS


class _Clock:
    """Records the time alerts the gate sets (a live clock would fire them later)."""

    def __init__(self) -> None:
        self.alerts: list[tuple[str, pd.Timestamp, object]] = []

    def utc_now(self) -> pd.Timestamp:
        return pd.Timestamp(H, tz="UTC")

    def set_time_alert(self, name, alert_time, callback) -> None:
        self.alerts.append((name, alert_time, callback))


def _gate(action: str = "skip", priced: bool = True):
    opened: list[tuple[int, int]] = []
    log, clock = RecordingLog(), _Clock()
    gate = HourGate(log, lambda hour, ts: opened.append((hour, ts)), 120.0, action)
    gate.watch([BINANCE, BYBIT], lambda _: priced, clock)
    return gate, opened, log, clock


def test_binance_and_bybit_stamps_of_one_hour_open_it_once():
    gate, opened, _, _ = _gate()
    gate.on_bar(BINANCE, H - 1_000_000)  # Binance closes the kline at …:59:59.999
    assert opened == []
    gate.on_bar(BYBIT, H)  # Bybit at the round hour
    assert opened == [(H, H)] and gate.hour == H
    gate.on_bar(BYBIT, H)  # a repeated bar of an hour already acted on
    assert opened == [(H, H)]


def test_an_hour_missing_a_leg_is_skipped_when_the_next_hour_arrives():
    gate, opened, log, clock = _gate("skip")
    gate.on_bar(BINANCE, H)
    gate.on_bar(BINANCE, H + HOUR_NS)
    assert opened == [] and gate.skipped == [(H, str(BYBIT))]
    assert "hour skipped" in log.warnings[0] and str(BYBIT) in log.warnings[0]
    assert clock.alerts == []  # skipping needs no timer
    gate.on_bar(BYBIT, H)  # its late bar changes nothing
    gate.on_bar(BYBIT, H + HOUR_NS)
    assert opened == [(H + HOUR_NS, H + HOUR_NS)]


def test_acting_without_a_leg_waits_for_the_alert_then_uses_the_last_prices():
    gate, opened, log, clock = _gate("act")
    gate.on_bar(BINANCE, H)
    ((_, when, fire),) = clock.alerts
    assert when == pd.Timestamp(H, tz="UTC") + pd.Timedelta(seconds=120)
    fire(None)
    assert opened == [(H, H)] and "acting on the last prices" in log.warnings[0]
    fire(None)  # resolved once
    assert opened == [(H, H)]


def test_acting_without_a_leg_that_never_had_a_price_skips_the_hour():
    gate, opened, _, clock = _gate("act", priced=False)
    gate.on_bar(BINANCE, H)
    clock.alerts[0][2](None)
    assert opened == [] and gate.skipped == [(H, str(BYBIT))]
