"""A synthetic hourly input frame (random walk with drift regimes, funding every 8 h, a spot pair)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adapters.hours import HOUR_NS
from signals.inputs import INPUT_COLUMNS

START_NS = 1_704_070_800_000_000_000
"""2024-01-01T01:00:00Z, the close of the first hourly bar."""


def synthetic_frame(hours: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.normal(0, 0.002, hours // 48 + 1), 48)[:hours]
    log_close = np.log(50_000.0) + np.cumsum(drift + rng.normal(0, 0.006, hours))
    close = np.exp(log_close)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, hours)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, hours)))
    volume = np.exp(rng.normal(8, 0.5, hours))
    spot = close * (1 - 0.0004 + rng.normal(0, 0.0002, hours))
    funding = np.repeat(rng.normal(0.0001, 0.0001, hours // 8 + 1), 8)[:hours]
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "spot_close": spot,
            "funding_rate": funding,
        },
        index=pd.Index(START_NS + HOUR_NS * np.arange(hours, dtype="int64"), name="ts"),
    )
    return frame[list(INPUT_COLUMNS)]
