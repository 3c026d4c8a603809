"""``python -m signals retrain``: fit the model the schedule calls for now, unless it is already saved.

The walk-forward schedule (``retrain_every`` from the data's first day, ``min_history_days``,
``train_window_days``) fixes when windows start. A window's model can be fitted as soon as every
label it trains on is known — once the catalog holds the bar stamped one hour before the window
starts — so the model for the next window is ready before its first bar closes. ``retrain`` finds
the latest such window; when the saved model is for an earlier window (or another model version),
it fits that window exactly as the walk-forward build does (the same training rows, the same fit,
so the saved file is byte-identical to the one a build on the same data saves) and saves it
atomically (:mod:`signals.saved_model`), where a running predictor picks it up on its next bar.
Otherwise it says that nothing is due and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adapters.hours import HOUR_NS
from signals.config import SignalConfig
from signals.features import FEATURES
from signals.inputs import SignalDataError
from signals.labels import CLASSES
from signals.model import model_version
from signals.saved_model import ModelManifest, read_manifest, save_model
from signals.walkforward import (
    FittedModel,
    TrainingWindow,
    build_samples,
    fit_model,
    next_window_start,
    prediction_windows,
    training_rows,
)


@dataclass(frozen=True)
class RetrainResult:
    due_start_ns: int
    """Start of the window the schedule calls for now."""
    fitted: bool
    """A new model was fitted and saved (False: the saved one is already for this window)."""
    manifest: ModelManifest
    """The model in force after the run."""


def due_window(samples: pd.DataFrame, config: SignalConfig) -> int:
    """The latest scheduled window start whose training labels are all known (start <= last bar + 1 h).

    Raises :class:`SignalDataError` when the history is too short for any window.
    """
    ts = samples.index.to_numpy(dtype="int64")
    labelled = np.isfinite(samples["label"].to_numpy())
    windows = (
        prediction_windows(int(ts[labelled][0]), int(ts[-1]) + HOUR_NS, config) if labelled.any() else []
    )
    if not windows:
        raise SignalDataError(
            f"{len(ts)} hours of history are too short for a first window (min_history_days="
            f"{config.min_history_days})"
        )
    return windows[-1][0]


def fit_window(samples: pd.DataFrame, start_ns: int, config: SignalConfig) -> FittedModel:
    """The model of the window starting at ``start_ns``, trained as :func:`walk_forward` trains it."""
    train = training_rows(samples, start_ns, config)
    labels = samples["label"].to_numpy()[train]
    if len(np.unique(labels)) < 2:
        raise SignalDataError(f"the window from {start_ns} has fewer than two label classes to train on")
    ts = samples.index.to_numpy(dtype="int64")
    known = samples["label_known_ns"].to_numpy(dtype="int64")[train]
    x = samples[list(FEATURES)].to_numpy(dtype="float64")[train]
    first_sample = int(ts[np.isfinite(samples["label"].to_numpy())][0])
    next_start = next_window_start(first_sample, start_ns, config)
    window = TrainingWindow(
        start_ns=start_ns,
        end_ns=next_start,
        train_start_ns=int(ts[train][0]),
        train_end_ns=int(known.max()),
        train_samples=int(train.sum()),
        train_classes={str(c): int((labels == c).sum()) for c in CLASSES},
        predictions=0,
    )
    return FittedModel(fit_model(x, labels.astype(int), config), window, next_start)


def retrain(frame: pd.DataFrame, config: SignalConfig, folder: Path) -> RetrainResult:
    """Fit and save the due window's model into ``folder`` unless it is the saved one."""
    samples = build_samples(frame, config)
    due = due_window(samples, config)
    current = read_manifest(folder)
    if (
        current is not None
        and current.window_start_ns == due
        and current.model_version == model_version(config)
    ):
        return RetrainResult(due, False, current)
    return RetrainResult(due, True, save_model(folder, fit_window(samples, due, config), config))
