"""Walk-forward training: one model per prediction window, trained on labels known before it.

The windows tile the history (calendar months or every N days, from the data's first day). For a
window starting at ``W`` the training set is every sample ``s`` whose label is known strictly
before ``W`` (``s + horizon < W``; with ``train_window_days`` also ``s >= W - train_window_days``);
the model then predicts every hour of ``[W, next W)``. The first window opens once
``min_history_days`` of labelled samples exist; earlier hours get no prediction. Everything here is a
pure function of the input frame and the config, which is what the look-ahead test relies on.
The model trains and predicts on ``config.threads`` OpenMP threads (its default, one per core,
oversubscribes a shared machine and slows the build by minutes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from adapters.hours import DAY_NS
from signals.config import SignalConfig
from signals.features import FEATURES, compute_features, forecast_sd
from signals.labels import CLASSES, forward_log_return, label_known_at, make_labels
from signals.model import class_probabilities, decide, make_model

Progress = Callable[[str], None]
OUTPUT_COLUMNS = (
    "signal",
    "confidence",
    "sd",
    "p_short",
    "p_neutral",
    "p_long",
    "train_start_ns",
    "train_end_ns",
)


@dataclass(frozen=True)
class TrainingWindow:
    """One retrain: the prediction window ``[start_ns, end_ns)`` and what its model saw."""

    start_ns: int
    end_ns: int
    train_start_ns: int
    """First sample time in the training set."""
    train_end_ns: int
    """Latest label end (sample time + horizon) in the training set: always < ``start_ns``."""
    train_samples: int
    train_classes: dict[str, int]
    predictions: int

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        for key in ("start_ns", "end_ns", "train_start_ns", "train_end_ns"):
            d[key.removesuffix("_ns")] = _iso(d[key])
        return d


@dataclass(frozen=True)
class FittedModel:
    """A window's fitted classifier with what it saw: kept for the latest window so the build can
    save the very model a live run continues with."""

    model: HistGradientBoostingClassifier
    window: TrainingWindow
    next_start_ns: int
    """The schedule's next window start: from then on a newer model is due."""


@dataclass(frozen=True)
class WalkForwardResult:
    predictions: pd.DataFrame
    """Indexed by ``ts`` (ns): signal, confidence, sd, p_short/p_neutral/p_long, train_start_ns,
    train_end_ns."""
    windows: list[TrainingWindow]
    samples: pd.DataFrame
    """Every row's features, sd, forward return and label (the label only for evaluation)."""
    latest: FittedModel | None
    """The last window's model (None when no window was trained)."""


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").isoformat().replace("+00:00", "Z")


def window_starts(first_ns: int, last_ns: int, retrain_every: str) -> list[int]:
    """Window boundaries after the data's first day, up to ``last_ns`` (inclusive)."""
    day0 = pd.Timestamp(first_ns, tz="UTC").floor("D")
    end = pd.Timestamp(last_ns, tz="UTC")
    if retrain_every == "month":
        starts = pd.date_range(day0 + pd.offsets.MonthBegin(1), end, freq="MS")
    else:
        days = int(retrain_every.removesuffix("d"))
        starts = pd.date_range(day0 + pd.Timedelta(days=days), end, freq=f"{days}D")
    return [int(s.value) for s in starts]


def prediction_windows(first_sample_ns: int, last_ns: int, config: SignalConfig) -> list[tuple[int, int]]:
    """``[start, end)`` of every prediction window.

    The first opens at the first midnight (UTC) with ``min_history_days`` of labelled samples
    behind it and runs to the next scheduled boundary; the rest follow the schedule. Only the
    data's *start* positions the windows, so cutting the data short never moves one.
    """
    ready = pd.Timestamp(first_sample_ns + config.min_history_days * DAY_NS, tz="UTC").ceil("D").value
    if ready > last_ns:
        return []
    starts = [ready, *(s for s in window_starts(first_sample_ns, last_ns, config.retrain_every) if s > ready)]
    ends = [*starts[1:], last_ns + 1]
    return list(zip(starts, ends, strict=True))


def next_window_start(first_sample_ns: int, start_ns: int, config: SignalConfig) -> int:
    """The scheduled window start that follows ``start_ns`` (the schedule of ``prediction_windows``)."""
    span_days = 32 if config.retrain_every == "month" else int(config.retrain_every.removesuffix("d")) + 1
    starts = window_starts(first_sample_ns, start_ns + span_days * DAY_NS, config.retrain_every)
    return next(s for s in starts if s > start_ns)


def build_samples(frame: pd.DataFrame, config: SignalConfig) -> pd.DataFrame:
    """Features, forecast sd, forward return and label for every row of the input frame."""
    samples = compute_features(frame, config.vol_halflife_hours)
    close = frame["close"].to_numpy(dtype="float64")
    sd = np.asarray(forecast_sd(samples["vol_ewma"].to_numpy(), config.horizon_hours))
    fwd = forward_log_return(close, config.horizon_hours)
    samples["sd"] = sd
    samples["forward_return"] = fwd
    samples["label"] = make_labels(fwd, sd, config.label_k)
    samples["label_known_ns"] = label_known_at(frame.index.to_numpy(dtype="int64"), config.horizon_hours)
    samples["predictable"] = np.isfinite(sd) & (sd > 0) & np.isfinite(close)
    return samples


def training_rows(samples: pd.DataFrame, start_ns: int, config: SignalConfig) -> np.ndarray:
    """Mask of the samples a window starting at ``start_ns`` trains on: labelled, the label known
    strictly before the start, and (with ``train_window_days``) recent enough."""
    ts = samples.index.to_numpy(dtype="int64")
    known = samples["label_known_ns"].to_numpy(dtype="int64")
    train = np.isfinite(samples["label"].to_numpy()) & (known < start_ns)
    if config.train_window_days is not None:
        train &= ts >= start_ns - config.train_window_days * DAY_NS
    return train


def fit_model(x: np.ndarray, y: np.ndarray, config: SignalConfig) -> HistGradientBoostingClassifier:
    """A fresh model fitted on ``config.threads`` OpenMP threads."""
    model = make_model(config)
    with threadpool_limits(limits=config.threads, user_api="openmp"):
        model.fit(x, y)
    return model


def walk_forward(
    frame: pd.DataFrame, config: SignalConfig, progress: Progress = lambda _: None
) -> WalkForwardResult:
    """Train and predict every window of ``frame`` (see the module docstring for the rules)."""
    samples = build_samples(frame, config)
    ts = samples.index.to_numpy(dtype="int64")
    x_all = samples[list(FEATURES)].to_numpy(dtype="float64")
    labels = samples["label"].to_numpy()
    known = samples["label_known_ns"].to_numpy(dtype="int64")
    predictable = samples["predictable"].to_numpy(dtype=bool)
    labelled = np.isfinite(labels)
    columns = [*OUTPUT_COLUMNS]
    if len(ts) == 0 or not labelled.any():
        empty = pd.DataFrame(columns=columns, index=pd.Index([], name="ts"))
        return WalkForwardResult(empty, [], samples, None)

    bounds = prediction_windows(int(ts[labelled][0]), int(ts[-1]), config)
    windows: list[TrainingWindow] = []
    parts: list[pd.DataFrame] = []
    last_fit: tuple[HistGradientBoostingClassifier, TrainingWindow] | None = None
    for start, end in bounds:
        train = training_rows(samples, start, config)
        target = predictable & (ts >= start) & (ts < end)
        classes = np.unique(labels[train]).astype(int)
        if not target.any() or len(classes) < 2:
            progress(
                f"window {_iso(start)[:10]}: skipped ({int(target.sum())} hours, labels {list(classes)})"
            )
            continue
        model = fit_model(x_all[train], labels[train].astype(int), config)
        proba = class_probabilities(model, x_all[target], config.threads)
        signal, confidence = decide(proba)
        window = TrainingWindow(
            start_ns=start,
            end_ns=end,
            train_start_ns=int(ts[train][0]),
            train_end_ns=int(known[train].max()),
            train_samples=int(train.sum()),
            train_classes={str(c): int((labels[train] == c).sum()) for c in CLASSES},
            predictions=int(target.sum()),
        )
        windows.append(window)
        last_fit = (model, window)
        parts.append(
            pd.DataFrame(
                {
                    "signal": signal,
                    "confidence": confidence,
                    "sd": samples["sd"].to_numpy()[target],
                    "p_short": proba[:, 0],
                    "p_neutral": proba[:, 1],
                    "p_long": proba[:, 2],
                    "train_start_ns": window.train_start_ns,
                    "train_end_ns": window.train_end_ns,
                },
                index=pd.Index(ts[target], name="ts"),
            )
        )
        counts = [int((signal == c).sum()) for c in CLASSES]
        confident = int((confidence >= config.confidence_threshold).sum())
        progress(
            f"window {_iso(start)[:10]} .. {_iso(end - 1)[:10]}: trained on {window.train_samples} samples "
            f"({_iso(window.train_start_ns)[:10]} .. labels to {_iso(window.train_end_ns)[:16]}), "
            f"predicted {window.predictions} hours (short/neutral/long {counts[0]}/{counts[1]}/{counts[2]}, "
            f"{confident} with confidence >= {config.confidence_threshold})",
        )
    predictions = pd.concat(parts) if parts else pd.DataFrame(columns=columns, index=pd.Index([], name="ts"))
    latest = None
    if last_fit is not None:
        model, window = last_fit
        latest = FittedModel(model, window, next_window_start(int(ts[labelled][0]), window.start_ns, config))
    return WalkForwardResult(predictions, windows, samples, latest)
