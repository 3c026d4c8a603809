"""Features: values checked against independent formulas, no dependence on later rows, and the
window arithmetic that makes streaming and batch agree bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from signals.features import (
    FEATURES,
    compute_features,
    ewma_window,
    feature_arrays,
    forecast_sd,
    lookback_rows,
)
from tests.signals.synthetic import synthetic_frame

HALFLIFE = 24.0


def test_features_match_independent_formulas():
    frame = synthetic_frame(600)
    f = compute_features(frame, HALFLIFE)
    assert list(f.columns) == list(FEATURES)
    close = frame["close"]
    r1 = np.log(close).diff()
    i = 500
    for h in (1, 4, 12, 24, 72, 168):
        assert math.isclose(
            f[f"ret_{h}h"].iloc[i], math.log(close.iloc[i] / close.iloc[i - h]), rel_tol=1e-12
        )
    assert math.isclose(f["rv_24h"].iloc[i], math.sqrt((r1.iloc[i - 23 : i + 1] ** 2).mean()), rel_tol=1e-12)
    assert math.isclose(
        f["rv_168h"].iloc[i], math.sqrt((r1.iloc[i - 167 : i + 1] ** 2).mean()), rel_tol=1e-12
    )
    n = ewma_window(HALFLIFE)
    w = 0.5 ** (np.arange(n) / HALFLIFE)
    ewma = math.sqrt(float(np.sum(w * r1.iloc[i - n + 1 : i + 1].to_numpy()[::-1] ** 2) / w.sum()))
    assert math.isclose(f["vol_ewma"].iloc[i], ewma, rel_tol=1e-12)
    assert math.isclose(f["zret_24h"].iloc[i], f["ret_24h"].iloc[i] / (ewma * math.sqrt(24)), rel_tol=1e-12)
    lv = np.log1p(frame["volume"])
    window = lv.iloc[i - 167 : i + 1]
    assert math.isclose(f["volume_z_1h"].iloc[i], (lv.iloc[i] - window.mean()) / window.std(), rel_tol=1e-9)
    assert math.isclose(
        f["volume_z_24h"].iloc[i],
        (lv.iloc[i - 23 : i + 1].mean() - window.mean()) / window.std(),
        rel_tol=1e-9,
    )
    funding = frame["funding_rate"]
    assert f["funding"].iloc[i] == funding.iloc[i]
    assert math.isclose(f["funding_mean_72h"].iloc[i], funding.iloc[i - 71 : i + 1].mean(), rel_tol=1e-12)
    assert math.isclose(f["funding_mean_168h"].iloc[i], funding.iloc[i - 167 : i + 1].mean(), rel_tol=1e-12)
    basis = np.log(close / frame["spot_close"])
    assert math.isclose(f["basis"].iloc[i], basis.iloc[i], rel_tol=1e-12)
    assert math.isclose(f["basis_mean_24h"].iloc[i], basis.iloc[i - 23 : i + 1].mean(), rel_tol=1e-12)
    rng = np.log(frame["high"] / frame["low"])
    assert math.isclose(f["range_24h"].iloc[i], rng.iloc[i - 23 : i + 1].mean(), rel_tol=1e-12)
    assert forecast_sd(0.01, 16) == 0.04


def test_warm_up_rows_are_nan_then_complete():
    frame = synthetic_frame(400)
    f = compute_features(frame, HALFLIFE)
    lookback = lookback_rows(HALFLIFE)
    assert f.iloc[lookback - 1 :].notna().all().all(), "every feature known once the lookback is full"
    assert f.iloc[: lookback - 2].isna().any(axis=1).all()


def test_features_never_read_later_rows():
    frame = synthetic_frame(500)
    base = compute_features(frame, HALFLIFE)
    t = 321
    changed = frame.copy()
    changed.iloc[t + 1 :] *= 1.7  # every input after row t
    changed.iloc[t + 5, changed.columns.get_loc("close")] = np.nan
    after = compute_features(changed, HALFLIFE)
    pd.testing.assert_frame_equal(after.iloc[: t + 1], base.iloc[: t + 1], check_exact=True)
    assert not after.iloc[t + 1 :].equals(base.iloc[t + 1 :])


def test_last_row_is_bit_identical_on_any_tail_of_the_history():
    """The streaming path computes on a short buffer; exact equality needs position-independent sums."""
    frame = synthetic_frame(700)
    full = compute_features(frame, HALFLIFE)
    lookback = lookback_rows(HALFLIFE)
    for end in (lookback, 400, 699):
        tail = frame.iloc[end + 1 - lookback : end + 1]
        arrays = feature_arrays({c: tail[c].to_numpy() for c in tail.columns}, HALFLIFE)
        last = np.array([arrays[name][-1] for name in FEATURES])
        assert np.array_equal(last, full.iloc[end].to_numpy()), end


def test_a_missing_hour_blanks_only_the_windows_that_contain_it():
    frame = synthetic_frame(500)
    frame.iloc[300] = np.nan
    f = compute_features(frame, HALFLIFE)
    assert f.iloc[300].isna().all()
    assert np.isnan(f["ret_4h"].iloc[304]) and not np.isnan(f["ret_4h"].iloc[305])
    assert np.isnan(f["rv_24h"].iloc[324]) and not np.isnan(f["rv_24h"].iloc[325])
    assert not np.isnan(f["funding_mean_72h"].iloc[372]) and np.isnan(f["funding_mean_72h"].iloc[371])
