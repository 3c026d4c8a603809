"""Label construction checked by hand on a tiny series."""

from __future__ import annotations

import math

import numpy as np

from adapters.hours import HOUR_NS
from signals.labels import forward_log_return, label_known_at, make_labels


def test_one_hour_labels_by_hand():
    close = np.array([100.0, 101.0, 99.0, 99.2, 105.0, 105.0])
    sd = np.full(6, 0.01)
    fwd = forward_log_return(close, 1)
    expected = [math.log(101 / 100), math.log(99 / 101), math.log(99.2 / 99), math.log(105 / 99.2), 0.0]
    np.testing.assert_allclose(fwd[:5], expected, rtol=0, atol=1e-15)
    assert np.isnan(fwd[5]), "the last hour's future is unknown"
    # k·sd = 0.005: +0.00995 long, -0.0200 short, +0.00202 neutral, +0.0568 long, 0 neutral
    labels = make_labels(fwd, sd, 0.5)
    assert labels[:5].tolist() == [1.0, -1.0, 0.0, 1.0, 0.0]
    assert np.isnan(labels[5])


def test_multi_hour_horizon_and_threshold_scaling():
    close = np.array([100.0, 90.0, 103.0, 110.0, 97.0])
    fwd = forward_log_return(close, 2)
    np.testing.assert_allclose(
        fwd[:3], [math.log(1.03), math.log(110 / 90), math.log(97 / 103)], rtol=0, atol=1e-15
    )
    assert np.isnan(fwd[3:]).all()
    sd = np.array([0.02, 0.02, 0.2, 0.02, 0.02])
    # 0.0296 > 1.0·0.02 long; 0.2007 > 0.02 long; -0.060 within ±1.0·0.2 neutral (sd is per sample)
    assert make_labels(fwd, sd, 1.0)[:3].tolist() == [1.0, 1.0, 0.0]
    # with k = 2: 0.0296 < 0.04 neutral
    assert make_labels(fwd, sd, 2.0)[:3].tolist() == [0.0, 1.0, 0.0]


def test_band_edges_are_neutral_and_unknowns_are_nan():
    fwd = np.array([0.01, -0.01, 0.0100001, np.nan, 0.05])
    sd = np.array([0.02, 0.02, 0.02, 0.02, np.nan])
    labels = make_labels(fwd, sd, 0.5)
    assert labels[:3].tolist() == [0.0, 0.0, 1.0], "exactly ±k·sd is neutral (strict inequalities)"
    assert np.isnan(labels[3]) and np.isnan(labels[4])
    # a missing close anywhere in the pair makes the return unknown
    assert np.isnan(forward_log_return(np.array([100.0, np.nan, 101.0]), 1)[:2]).all()


def test_label_is_known_at_the_close_h_hours_later():
    ts = np.array([0, HOUR_NS, 5 * HOUR_NS])
    assert label_known_at(ts, 24).tolist() == [24 * HOUR_NS, 25 * HOUR_NS, 29 * HOUR_NS]
