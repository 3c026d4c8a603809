"""Features of the hour closing at row ``i``, computed from rows ``i - lookback + 1 .. i`` only.

One function, :func:`feature_arrays`, serves both the batch build (the whole history at once) and
live trading (:class:`~signals.streaming.FeatureState` calls it on its rolling buffer and keeps
the last row). To make the two agree *exactly*, every rolling statistic is an explicit sum over
the window accumulated in a fixed order (``acc += x[i - k]`` for k = 0, 1, …) with element-wise
NumPy operations: the value at row ``i`` is the same sequence of floating-point operations
whatever the array length, which a cumulative sum or pandas' online rolling algorithms are not.
Nothing is normalised with statistics of the whole sample (that would leak the future).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

FEATURE_VERSION = "f1"
"""Bump whenever a feature's definition changes (part of every prediction's ``model_version``)."""

RETURN_HOURS = (1, 4, 12, 24, 72, 168)
"""Horizons of the past log returns (hours)."""
Z_RETURN_HOURS = (4, 24, 168)
"""Past returns also expressed in units of the EWMA forecast sd over the same span."""
RV_HOURS = (24, 168)
"""Windows of the realised volatility (root mean square of hourly log returns)."""
VOLUME_WINDOW = 168
"""Hours of log volume the volume z-scores are measured against."""
FUNDING_MEAN_HOURS = (72, 168)
"""Multi-day means (3 and 7 days) of the latest funding print, sampled hourly."""
BASIS_MEAN_HOURS = 24
EWMA_HALFLIVES = 8
"""The EWMA variance is truncated after this many half-lives (weights below 0.4% are dropped)."""

FEATURES: tuple[str, ...] = (
    *(f"ret_{h}h" for h in RETURN_HOURS),
    *(f"zret_{h}h" for h in Z_RETURN_HOURS),
    "vol_ewma",
    *(f"rv_{h}h" for h in RV_HOURS),
    "vol_ratio",
    "range_24h",
    "volume_z_1h",
    "volume_z_24h",
    "funding",
    *(f"funding_mean_{h}h" for h in FUNDING_MEAN_HOURS),
    "funding_dev",
    "basis",
    "basis_mean_24h",
    "basis_dev",
)
"""The model's inputs, in column order. ``vol_ewma`` is the hourly forecast sd (a fraction)."""


def ewma_window(halflife_hours: float) -> int:
    """Rows of hourly returns the truncated EWMA variance reads."""
    return max(2, math.ceil(EWMA_HALFLIVES * halflife_hours))


def lookback_rows(halflife_hours: float) -> int:
    """Rows of history (the current one included) any feature of the current row depends on."""
    longest = max(*RETURN_HOURS, *RV_HOURS, VOLUME_WINDOW, *FUNDING_MEAN_HOURS, BASIS_MEAN_HOURS)
    return max(longest, ewma_window(halflife_hours)) + 1


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """``x[i - k]`` at row ``i`` (NaN before the start)."""
    out = np.full_like(x, np.nan)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def _rolling_sum(x: np.ndarray, window: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Σ_k weights[k]·x[i-k] for k < window, accumulated k = 0, 1, … (NaN if any term is)."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    acc = x[window - 1 :].copy() if weights is None else weights[0] * x[window - 1 :]
    for k in range(1, window):
        term = x[window - 1 - k : n - k]
        acc += term if weights is None else weights[k] * term
    out[window - 1 :] = acc
    return out


def _rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    return _rolling_sum(x, window) / window


def _rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation over the window (two passes: mean first, then squared deviations)."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    mean = _rolling_mean(x, window)[window - 1 :]
    acc = (x[window - 1 :] - mean) ** 2
    for k in range(1, window):
        acc += (x[window - 1 - k : n - k] - mean) ** 2
    out[window - 1 :] = np.sqrt(acc / (window - 1))
    return out


def _ewma_sd(r: np.ndarray, halflife_hours: float) -> np.ndarray:
    window = ewma_window(halflife_hours)
    weights = 0.5 ** (np.arange(window, dtype="float64") / halflife_hours)
    weights /= weights.sum()
    return np.sqrt(_rolling_sum(r * r, window, weights))


def feature_arrays(inputs: Mapping[str, np.ndarray], halflife_hours: float) -> dict[str, np.ndarray]:
    """Every feature of every row of ``inputs`` (arrays of one hourly grid, oldest first).

    ``inputs`` holds the :data:`~signals.inputs.INPUT_COLUMNS`; the result holds :data:`FEATURES`.
    """
    close = np.asarray(inputs["close"], dtype="float64")
    log_close = np.log(close)
    r1 = log_close - _shift(log_close, 1)
    out: dict[str, np.ndarray] = {}
    for h in RETURN_HOURS:
        out[f"ret_{h}h"] = log_close - _shift(log_close, h)
    vol = _ewma_sd(r1, halflife_hours)
    for h in Z_RETURN_HOURS:
        out[f"zret_{h}h"] = out[f"ret_{h}h"] / (vol * math.sqrt(h))
    out["vol_ewma"] = vol
    r2 = r1 * r1
    for h in RV_HOURS:
        out[f"rv_{h}h"] = np.sqrt(_rolling_mean(r2, h))
    out["vol_ratio"] = out[f"rv_{RV_HOURS[0]}h"] / out[f"rv_{RV_HOURS[-1]}h"]
    high = np.asarray(inputs["high"], dtype="float64")
    low = np.asarray(inputs["low"], dtype="float64")
    out["range_24h"] = _rolling_mean(np.log(high / low), 24)

    log_volume = np.log1p(np.asarray(inputs["volume"], dtype="float64"))
    volume_mean = _rolling_mean(log_volume, VOLUME_WINDOW)
    volume_sd = _rolling_std(log_volume, VOLUME_WINDOW)
    out["volume_z_1h"] = (log_volume - volume_mean) / volume_sd
    out["volume_z_24h"] = (_rolling_mean(log_volume, 24) - volume_mean) / volume_sd

    funding = np.asarray(inputs["funding_rate"], dtype="float64")
    out["funding"] = funding
    for h in FUNDING_MEAN_HOURS:
        out[f"funding_mean_{h}h"] = _rolling_mean(funding, h)
    out["funding_dev"] = funding - out[f"funding_mean_{FUNDING_MEAN_HOURS[0]}h"]

    basis = log_close - np.log(np.asarray(inputs["spot_close"], dtype="float64"))
    out["basis"] = basis
    out["basis_mean_24h"] = _rolling_mean(basis, BASIS_MEAN_HOURS)
    out["basis_dev"] = basis - out["basis_mean_24h"]
    return {name: out[name] for name in FEATURES}


def compute_features(frame: pd.DataFrame, halflife_hours: float) -> pd.DataFrame:
    """The batch path: :func:`feature_arrays` over a whole input frame, indexed like it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        arrays = feature_arrays(
            {c: frame[c].to_numpy(dtype="float64") for c in frame.columns}, halflife_hours
        )
    return pd.DataFrame(arrays, index=frame.index)


def forecast_sd(vol_ewma: np.ndarray | float, horizon_hours: int) -> np.ndarray | float:
    """Forecast sd of the log return over the horizon: hourly EWMA sd × √horizon (random walk)."""
    return vol_ewma * math.sqrt(horizon_hours)
