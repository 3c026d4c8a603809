"""The live feature path equals the batch path, bit for bit, on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from signals.config import SignalConfig
from signals.features import FEATURES, compute_features, forecast_sd
from signals.streaming import FeatureState

pytestmark = pytest.mark.integration
CONFIG = SignalConfig()


def _prints(catalog_dir):
    prints = ParquetDataCatalog(str(catalog_dir)).query(FundingRateUpdate, identifiers=[CONFIG.instrument_id])
    return [(p.ts_event, float(p.rate)) for p in prints]


def _stream(frame: pd.DataFrame, prints: list[tuple[int, float]], state: FeatureState) -> np.ndarray:
    """Feed the rows in live order (funding prints, spot bar, perp bar per stamp); collect rows."""
    out, i = [], 0
    for ts, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        while i < len(prints) and prints[i][0] <= ts:
            state.add_funding(*prints[i])
            i += 1
        if np.isnan(row.close):
            out.append(np.full(len(FEATURES), np.nan))  # no bar this hour: nothing to stream
            continue
        if not np.isnan(row.spot_close):
            state.add_spot_close(ts, row.spot_close)
        r = state.add_bar(ts, row.open, row.high, row.low, row.close, row.volume)
        assert r.ts_ns == ts
        sd = forecast_sd(r.values[FEATURES.index("vol_ewma")], CONFIG.horizon_hours)
        assert r.sd == sd or (np.isnan(r.sd) and np.isnan(sd))
        out.append(r.values)
    return np.array(out)


def test_streaming_features_equal_batch_from_the_first_bar(catalog_dir, real_inputs):
    frame = real_inputs.iloc[:1200]
    batch = compute_features(real_inputs, CONFIG.vol_halflife_hours).iloc[:1200].to_numpy()
    streamed = _stream(frame, _prints(catalog_dir), FeatureState(CONFIG))
    assert np.array_equal(streamed, batch, equal_nan=True)
    assert np.isfinite(streamed[-1]).all()


def test_streaming_features_equal_batch_mid_history_across_proxied_hours(catalog_dir, real_inputs):
    # 2024-02-08 .. 2024-04-10 holds the 2024-02-10 and 2024-03-22 Binance holes filled from Bybit
    start = real_inputs.index.get_loc(pd.Timestamp("2024-02-08", tz="UTC").value)
    frame = real_inputs.iloc[start : start + 1500]
    batch = compute_features(real_inputs, CONFIG.vol_halflife_hours).iloc[start : start + 1500].to_numpy()
    state = FeatureState(CONFIG)
    streamed = _stream(frame, _prints(catalog_dir), state)
    warm = state.capacity - 1
    assert np.isnan(streamed[: warm - 1]).any(axis=1).all(), "a state started mid-history warms up first"
    assert np.array_equal(streamed[warm:], batch[warm:])


def test_nautilus_objects_are_routed(catalog_dir, real_inputs):
    catalog = ParquetDataCatalog(str(catalog_dir))
    end = pd.Timestamp(int(real_inputs.index[400]), tz="UTC")
    perp = catalog.bars(bar_types=[str(bar_type_for(CONFIG.instrument_id))], end=end)
    spot = catalog.bars(bar_types=[str(bar_type_for(CONFIG.spot_instrument_id))], end=end)
    funding = catalog.query(FundingRateUpdate, identifiers=[CONFIG.instrument_id], end=end)
    events = sorted(
        [(f.ts_event, 0, f) for f in funding]
        + [(b.ts_event, 1, b) for b in spot]
        + [(b.ts_event, 2, b) for b in perp],
        key=lambda e: (e[0], e[1]),
    )
    state = FeatureState(CONFIG)
    rows = []
    for _, kind, item in events:
        if kind == 0:
            state.on_funding(item)
        else:
            row = state.on_bar(item)
            assert (row is None) == (kind == 1)
            if row is not None:
                rows.append(row)
    batch = compute_features(real_inputs, CONFIG.vol_halflife_hours)
    assert rows[-1].ts_ns == int(real_inputs.index[400]) and rows[-1].complete
    assert np.array_equal(rows[-1].values, batch.iloc[400].to_numpy())
    assert set(rows[-1].features) == set(FEATURES)
