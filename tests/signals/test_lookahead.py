"""The look-ahead test on real data: deleting or perturbing everything after t changes no
prediction stamped at or before t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signals.config import ModelParams, SignalConfig
from signals.walkforward import walk_forward

pytestmark = pytest.mark.integration
# the shipped design with fewer boosting rounds (the rule under test does not depend on them)
CONFIG = SignalConfig(model=ModelParams(max_iter=40))


def _upto(p: pd.DataFrame, t: int) -> pd.DataFrame:
    return p[p.index <= t]


@pytest.mark.parametrize("cut", ["2024-08-17T13:00", "2025-03-01T00:00"])
def test_data_after_t_never_changes_a_prediction_at_or_before_t(real_inputs, cut):
    frame = real_inputs[real_inputs.index <= pd.Timestamp("2025-05-31", tz="UTC").value]
    t = pd.Timestamp(cut, tz="UTC").value
    full = walk_forward(frame, CONFIG).predictions
    assert (full.index <= t).sum() > 2000 and (full.index > t).sum() > 1000

    truncated = walk_forward(frame[frame.index <= t], CONFIG).predictions
    pd.testing.assert_frame_equal(_upto(full, t), truncated, check_exact=True)

    changed = frame.copy()
    after = changed.index > t
    rng = np.random.default_rng(0)
    shock = np.exp(np.cumsum(rng.normal(0, 0.01, after.sum())))  # a different future path
    for column in ("open", "high", "low", "close", "spot_close"):
        changed.loc[after, column] *= shock
    changed.loc[after, "volume"] *= 3.0
    changed.loc[after, "funding_rate"] = -changed.loc[after, "funding_rate"]
    changed = changed.drop(changed.index[after][5::11])  # and delete some hours
    perturbed = walk_forward(changed, CONFIG).predictions
    pd.testing.assert_frame_equal(_upto(full, t), _upto(perturbed, t), check_exact=True)
    assert not perturbed[perturbed.index > t]["confidence"].equals(full[full.index > t]["confidence"])
