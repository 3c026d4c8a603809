"""Input rows: funding as of the bar close, missing hours as NaN rows, clear errors on bad catalogs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adapters.hours import HOUR_NS, MINUTE_NS
from signals.config import SignalConfig
from signals.inputs import SignalDataError, assemble_inputs, frame_fingerprint, load_inputs

T0 = 1_704_096_000_000_000_000  # 2024-01-01T08:00:00Z


def _perp(hours: list[int]) -> pd.DataFrame:
    ts = [T0 + h * HOUR_NS for h in hours]
    close = [100.0 + h for h in hours]
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": [1.0] * len(hours)},
        index=pd.Index(ts, name="ts"),
    )


def test_funding_is_the_latest_print_at_or_before_the_close_and_gaps_are_nan_rows():
    perp = _perp([-1, 0, 1, 2, 4, 8])  # 07:00 .. 16:00, 11:00 and 13:00-15:00 missing
    spot = pd.Series([99.0, 100.5], index=[T0, T0 + 4 * HOUR_NS])
    funding = pd.Series([0.0001, 0.0003, 0.0005], index=[T0 - 8 * HOUR_NS, T0, T0 + 8 * HOUR_NS])
    frame = assemble_inputs(perp, spot, funding)
    assert frame.index.tolist() == [T0 + h * HOUR_NS for h in range(-1, 9)]
    assert frame["funding_rate"].tolist()[:4] == [0.0001, 0.0003, 0.0003, 0.0003]
    assert frame["funding_rate"].iloc[-1] == 0.0005, "the 16:00 print is known at the 16:00 close"
    assert frame.loc[T0 + 3 * HOUR_NS].isna().all(), "a missing perp hour is an all-NaN row"
    assert frame.loc[T0 + 5 * HOUR_NS].isna().all()
    assert frame["spot_close"].loc[T0] == 99.0 and np.isnan(frame["spot_close"].loc[T0 + HOUR_NS])


def test_prints_after_a_bar_do_not_reach_it():
    perp = _perp(list(range(10)))
    funding = pd.Series([0.0001], index=[T0])
    later = pd.concat([funding, pd.Series([0.009], index=[T0 + 5 * HOUR_NS + 1])])
    a = assemble_inputs(perp, pd.Series(dtype=float), funding)
    b = assemble_inputs(perp, pd.Series(dtype=float), later)
    pd.testing.assert_frame_equal(a.iloc[:6], b.iloc[:6])
    assert b["funding_rate"].iloc[6] == 0.009


def test_off_grid_bars_are_refused():
    perp = _perp([0, 1, 2])
    perp.index = perp.index + pd.Index([0, 0, MINUTE_NS])
    with pytest.raises(SignalDataError, match="hourly grid"):
        assemble_inputs(perp, pd.Series(dtype=float), pd.Series(dtype=float))


def test_fingerprint_changes_with_any_value():
    frame = assemble_inputs(_perp([0, 1, 2]), pd.Series(dtype=float), pd.Series([0.0001], index=[T0]))
    changed = frame.copy()
    changed.iloc[1, 4] = 2.0
    assert frame_fingerprint(frame) == frame_fingerprint(frame.copy()) != frame_fingerprint(changed)


def test_missing_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(SignalDataError, match=r"not a built catalog.*python -m data_catalog build"):
        load_inputs(tmp_path / "nowhere", SignalConfig())


def test_catalog_without_the_bars_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"fingerprint": "x", "series": {}}))
    with pytest.raises(SignalDataError, match=r"no BTCUSDT-PERP\.BINANCE-1-HOUR-LAST-EXTERNAL bars"):
        load_inputs(tmp_path, SignalConfig())
