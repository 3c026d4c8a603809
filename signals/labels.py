"""What the model learns: the class of the forward log return over the horizon.

A sample at row ``t`` gets ``+1`` (long) when ``log(close[t+h] / close[t]) > k·sd[t]``, ``-1``
(short) when it is below ``-k·sd[t]`` and ``0`` (neutral) in between, where ``sd[t]`` is the
forecast sd of the h-hour log return known at ``t``. The label is only *known* at ``t + h``
(:func:`label_known_at`): walk-forward training must never use a label whose end is not strictly
before the window it predicts.
"""

from __future__ import annotations

import numpy as np

from adapters.hours import HOUR_NS

CLASSES = (-1, 0, 1)
"""Short, neutral, long (the order of the model's probability columns)."""


def forward_log_return(close: np.ndarray, horizon_hours: int) -> np.ndarray:
    """``log(close[t + h] / close[t])`` on an hourly grid (NaN where either close is missing)."""
    close = np.asarray(close, dtype="float64")
    out = np.full(len(close), np.nan)
    if horizon_hours < len(close):
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:-horizon_hours] = np.log(close[horizon_hours:] / close[:-horizon_hours])
    return out


def make_labels(forward_return: np.ndarray, sd: np.ndarray, k: float) -> np.ndarray:
    """-1/0/+1 per sample as float (NaN where the return or the sd is unknown)."""
    forward_return = np.asarray(forward_return, dtype="float64")
    sd = np.asarray(sd, dtype="float64")
    labels = np.where(forward_return > k * sd, 1.0, np.where(forward_return < -k * sd, -1.0, 0.0))
    labels[~(np.isfinite(forward_return) & np.isfinite(sd))] = np.nan
    return labels


def label_known_at(ts_ns: np.ndarray, horizon_hours: int) -> np.ndarray:
    """When each sample's label becomes known: the close of the bar ``h`` hours later."""
    return np.asarray(ts_ns, dtype="int64") + horizon_hours * HOUR_NS
