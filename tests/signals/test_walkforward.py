"""Walk-forward rules on a synthetic history: windows never train on labels ending at or after
their start, the minimum history is respected, and cutting or changing the data after t leaves
every prediction at or before t unchanged (the look-ahead test; the real-data version is in
test_lookahead.py)."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest

from adapters.hours import DAY_NS, HOUR_NS
from signals import walkforward
from signals.config import ModelParams, SignalConfig
from signals.features import FEATURES
from signals.walkforward import build_samples, prediction_windows, walk_forward, window_starts
from tests.signals.synthetic import START_NS, synthetic_frame

FAST = ModelParams(max_iter=15, min_samples_leaf=40, max_leaf_nodes=7)


def _config(**kw: Any) -> SignalConfig:
    return msgspec.structs.replace(SignalConfig(horizon_hours=6, min_history_days=20, model=FAST), **kw)


class Recorder:
    """Stands in for the classifier and keeps every training set it is given."""

    fits: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, x, y):
        Recorder.fits.append((x.copy(), y.copy()))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, x):
        return np.full((len(x), len(self.classes_)), 1 / len(self.classes_))


def _iso(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def test_window_boundaries():
    first, last = _iso("2024-01-09T00:00"), _iso("2024-06-15T05:00")
    assert window_starts(first, last, "month") == [_iso(f"2024-0{m}-01") for m in range(2, 7)]
    assert window_starts(first, last, "30d")[:2] == [_iso("2024-02-08"), _iso("2024-03-09")]
    config = SignalConfig(min_history_days=60)
    windows = prediction_windows(first, last, config)
    # first window opens at the first midnight with 60 days of samples behind it, runs to April
    assert windows[0] == (_iso("2024-03-09"), _iso("2024-04-01"))
    assert windows[-1] == (_iso("2024-06-01"), last + 1)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert prediction_windows(first, first + 59 * DAY_NS, config) == []


@pytest.mark.parametrize("retrain_every", ["month", "9d"])
def test_windows_never_train_on_labels_known_at_or_after_their_start(monkeypatch, retrain_every):
    frame = synthetic_frame(24 * 110)
    config = _config(retrain_every=retrain_every)
    Recorder.fits = []
    monkeypatch.setattr(walkforward, "make_model", lambda _config: Recorder())
    result = walk_forward(frame, config)
    samples = build_samples(frame, config)
    ts = samples.index.to_numpy()
    x_all = samples[list(FEATURES)].to_numpy()
    labelled = np.isfinite(samples["label"].to_numpy())
    assert len(Recorder.fits) == len(result.windows) > 2
    h_ns = config.horizon_hours * HOUR_NS
    for (x, y), window in zip(Recorder.fits, result.windows, strict=True):
        expected = labelled & (ts + h_ns < window.start_ns)  # label end strictly before the window
        assert np.array_equal(x, x_all[expected], equal_nan=True)
        assert np.array_equal(y, samples["label"].to_numpy()[expected].astype(int))
        assert window.train_end_ns < window.start_ns
        assert window.train_end_ns == window.start_ns - HOUR_NS, "the last label allowed is used"
    p = result.predictions
    assert (p["train_end_ns"].to_numpy() < p.index.to_numpy()).all()
    first_labelled = ts[labelled][0]
    assert p.index[0] >= first_labelled + config.min_history_days * DAY_NS
    assert p.index[0] == result.windows[0].start_ns


def test_rolling_training_window(monkeypatch):
    frame = synthetic_frame(24 * 110)
    config = _config(train_window_days=25)
    Recorder.fits = []
    monkeypatch.setattr(walkforward, "make_model", lambda _config: Recorder())
    result = walk_forward(frame, config)
    for window in result.windows:
        assert window.train_start_ns >= window.start_ns - 25 * DAY_NS
        assert window.train_samples <= 25 * 24


def _assert_same_up_to(a: pd.DataFrame, b: pd.DataFrame, t: int) -> None:
    pd.testing.assert_frame_equal(a[a.index <= t], b[b.index <= t], check_exact=True)


def test_cutting_or_changing_the_data_after_t_changes_no_prediction_up_to_t():
    frame = synthetic_frame(24 * 120)
    config = _config()
    full = walk_forward(frame, config).predictions
    t = int(frame.index[24 * 75 + 13])  # inside a window, well after the first one
    assert (full.index <= t).sum() > 24 * 30 and (full.index > t).sum() > 24 * 30
    cut = walk_forward(frame[frame.index <= t], config).predictions
    _assert_same_up_to(full, cut, t)
    assert cut.index[-1] == t
    changed = frame.copy()
    after = changed.index > t
    rng = np.random.default_rng(1)
    for column in changed.columns:
        changed.loc[after, column] *= rng.uniform(0.5, 1.5, after.sum())
    changed.loc[changed.index[after][::7], "close"] = np.nan
    perturbed = walk_forward(changed, config).predictions
    _assert_same_up_to(full, perturbed, t)
    assert not perturbed[perturbed.index > t].equals(full[full.index > t])


def test_the_look_ahead_check_catches_a_leaky_feature(monkeypatch):
    """The same comparison fails as soon as a feature peeks one hour ahead."""
    frame = synthetic_frame(24 * 120)
    config = _config()
    honest = walkforward.compute_features

    def leaky(f, halflife):
        out = honest(f, halflife)
        out["ret_1h"] = np.log(f["close"]).diff().shift(-1)  # next hour's return
        return out

    monkeypatch.setattr(walkforward, "compute_features", leaky)
    t = int(frame.index[24 * 75 + 13])
    full = walk_forward(frame, config).predictions
    changed = frame.copy()
    changed.loc[changed.index > t, "close"] *= 1.3
    with pytest.raises(AssertionError):
        _assert_same_up_to(full, walk_forward(changed, config).predictions, t)


def test_same_inputs_same_predictions():
    frame = synthetic_frame(24 * 90)
    a = walk_forward(frame, _config()).predictions
    b = walk_forward(frame.copy(), _config()).predictions
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert set(a["signal"].unique()) <= {-1, 0, 1}
    assert ((a["confidence"] >= 1 / 3 - 1e-12) & (a["confidence"] <= 1)).all()
    probs = a[["p_short", "p_neutral", "p_long"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert (probs.max(axis=1) == a["confidence"].to_numpy()).all()
    assert a.index[0] > START_NS


def test_the_thread_count_changes_no_prediction():
    frame = synthetic_frame(24 * 90)
    one = walk_forward(frame, _config(threads=1)).predictions
    two = walk_forward(frame, _config(threads=2)).predictions
    pd.testing.assert_frame_equal(one, two, check_exact=True)
