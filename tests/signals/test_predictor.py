"""The predictor actor on replayed real history: its calls equal the catalog's bit for bit, it
publishes nothing until its features are warm, never calls a bar before its model's window, and
makes no call from a model it refuses. (Picking up a retrained model: test_saved_model.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from adapters.hours import HOUR_NS
from adapters.signals import SignalPrediction
from signals.features import lookback_rows
from signals.paths import saved_model_dir
from signals.predictor import PredictorConfig, SignalPredictor
from signals.saved_model import read_manifest
from signals.store import read_predictions

pytestmark = pytest.mark.integration
PERP, SPOT = "BTCUSDT-PERP.BINANCE", "BTCUSDT.BINANCE_SPOT"
MS = 1_000_000
TOPIC = "data.SignalPrediction.BINANCE.BTCUSDT-PERP"
"""The topic the catalog's predictions are published on in a backtest."""


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _replay(
    catalog_dir: Path,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    serve_history: bool = True,
    kline_stamps: bool = False,
    **config,
) -> tuple[SignalPredictor, list[SignalPrediction]]:
    """Run the actor in a backtest engine fed the catalog's perp and spot bars and funding prints
    of ``[start, end]`` (bars restamped 1 ms before the hour, as live Binance klines, if
    ``kline_stamps``); return it and every call published on the predictions' topic."""
    catalog = ParquetDataCatalog(str(catalog_dir))
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    for venue, account in (("BINANCE", AccountType.MARGIN), ("BINANCE_SPOT", AccountType.CASH)):
        engine.add_venue(Venue(venue), OmsType.NETTING, account, starting_balances=[Money(1000, USDT)])
    for instrument in catalog.instruments(instrument_ids=[PERP, SPOT]):
        engine.add_instrument(instrument)
    bars = catalog.bars(bar_types=[str(bar_type_for(i)) for i in (PERP, SPOT)], start=start, end=end)
    bars.sort(key=lambda b: (b.ts_init, str(b.bar_type.instrument_id) == PERP))  # spot first at a stamp
    if kline_stamps:
        bars = [
            Bar(b.bar_type, b.open, b.high, b.low, b.close, b.volume, b.ts_event - MS, b.ts_init - MS)
            for b in bars
        ]
    engine.add_data(catalog.query(FundingRateUpdate, identifiers=[PERP], start=start, end=end), sort=False)
    engine.add_data(bars, sort=False)
    engine.sort_data()
    if serve_history:
        engine.kernel.data_engine.register_catalog(catalog)
    config.setdefault("model_dir", str(saved_model_dir(catalog_dir, PERP)))
    actor = SignalPredictor(PredictorConfig(**config))
    engine.add_actor(actor)
    calls: list[SignalPrediction] = []
    engine.kernel.msgbus.subscribe(TOPIC, calls.append)
    engine.run(start=start - pd.Timedelta(1, "ms"), end=end)
    engine.dispose()
    return actor, calls


def _fields(calls: list[SignalPrediction]) -> list[dict]:
    return [c.to_dict() for c in calls]


def test_calls_on_replayed_history_equal_the_catalogs_bit_for_bit(built_signals):
    catalog, _ = built_signals
    start, end = _utc("2025-09-20"), _utc("2025-09-21T23:00")  # in the saved model's window
    actor, calls = _replay(catalog, start, end)
    expected = read_predictions(catalog, PERP, start, end)
    assert len(expected) == 48
    assert _fields(calls) == _fields(expected)  # signal, confidence, sd, version, train window, stamps
    assert actor.calls == 48 and actor.confident_calls == sum(c.confidence >= 0.8 for c in expected)


def test_without_served_history_it_warms_up_on_the_stream_first(built_signals):
    catalog, _ = built_signals
    start, end = _utc("2025-09-10"), _utc("2025-09-19T23:00")
    _, calls = _replay(catalog, start, end, serve_history=False)
    first = start.value + (lookback_rows(24.0) - 1) * HOUR_NS  # the first bar with a full buffer
    assert calls[0].ts_event == first
    assert _fields(calls) == _fields(read_predictions(catalog, PERP, first, end))


def test_live_kline_stamps_give_the_catalogs_calls_but_at_funding_hours(built_signals):
    """Klines stamped 1 ms before the hour: calls are stamped at the round hour and equal the
    catalog's, except the call of an hour whose funding print (stamped at the round hour) arrives
    after the kline — made without that print. The print still reaches every later call's rows."""
    catalog, _ = built_signals
    start, end = _utc("2025-09-10"), _utc("2025-09-19T23:00")
    _, calls = _replay(catalog, start, end, serve_history=False, kline_stamps=True)
    first = start.value + (lookback_rows(24.0) - 1) * HOUR_NS
    expected = read_predictions(catalog, PERP, first, end)
    assert [c.ts_event for c in calls] == [c.ts_event for c in expected]
    prints = {
        f.ts_event for f in ParquetDataCatalog(str(catalog)).query(FundingRateUpdate, identifiers=[PERP])
    }
    differ = {c.ts_event for c, e in zip(calls, expected, strict=True) if c.to_dict() != e.to_dict()}
    assert differ <= prints
    same = [c.to_dict() for c in calls if c.ts_event not in prints]
    assert same == [e.to_dict() for e in expected if e.ts_event not in prints] and len(same) == 42


def test_bars_before_the_models_window_get_no_call(built_signals):
    catalog, _ = built_signals
    window_start = read_manifest(saved_model_dir(catalog, PERP)).window_start_ns
    start, end = (
        pd.Timestamp(window_start - 5 * HOUR_NS, tz="UTC"),
        pd.Timestamp(window_start + 2 * HOUR_NS, tz="UTC"),
    )
    _, calls = _replay(catalog, start, end)
    assert [c.ts_event for c in calls] == [window_start + h * HOUR_NS for h in range(3)]
    assert _fields(calls) == _fields(read_predictions(catalog, PERP, window_start, end))


def test_a_model_for_another_instrument_or_a_refused_model_makes_no_call(built_signals, tmp_path):
    catalog, _ = built_signals
    start, end = _utc("2025-09-20"), _utc("2025-09-20T03:00")
    actor, calls = _replay(catalog, start, end, instrument_id="BTCUSDT-LINEAR.BYBIT")
    assert calls == [] and actor.features is None
    broken = tmp_path / "model"
    shutil.copytree(saved_model_dir(catalog, PERP), broken)
    manifest = read_manifest(broken)
    (broken / manifest.file).write_bytes(b"not the model")
    actor, calls = _replay(catalog, start, end, model_dir=str(broken))
    assert calls == [] and actor.watcher is None


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("confidence_threshold", 1.0, "must be in"),
        ("threads", 0, "must be >= 1"),
        ("spot_instrument_id", "BTCUSDT", "must look like SYMBOL.VENUE"),
    ],
)
def test_config_errors_name_the_field(field, value, says):
    with pytest.raises(ValueError, match=f"`{field}` {says}"):
        PredictorConfig(model_dir="m", **{field: value})
