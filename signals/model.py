"""The classifier: scikit-learn's histogram gradient boosting, fixed seed, no early stopping.

Chosen for being robust to unscaled features and to NaN (a feature whose window reaches a
missing hour), fast on ~15k rows, and deterministic given ``random_state``. Early stopping is
off because it holds out a random slice of the training set, which adds noise without need.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from signals.config import SignalConfig
from signals.features import FEATURE_VERSION
from signals.labels import CLASSES

MODEL_NAME = "hgb"


def model_version(config: SignalConfig) -> str:
    """``hgb-<feature version>-<config digest>``: changes with the features or any parameter."""
    return f"{MODEL_NAME}-{FEATURE_VERSION}-{config.digest()}"


def make_model(config: SignalConfig) -> HistGradientBoostingClassifier:
    p = config.model
    return HistGradientBoostingClassifier(
        max_iter=p.max_iter,
        learning_rate=p.learning_rate,
        max_leaf_nodes=p.max_leaf_nodes,
        max_depth=p.max_depth,
        min_samples_leaf=p.min_samples_leaf,
        l2_regularization=p.l2_regularization,
        class_weight=p.class_weight,
        early_stopping=False,
        random_state=config.seed,
    )


def class_probabilities(model: HistGradientBoostingClassifier, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Probabilities in :data:`~signals.labels.CLASSES` order (a class absent from training gets 0).

    Each row's probabilities are computed on their own, so one row predicted alone (live) equals
    the same row predicted in a batch (the walk-forward build), bit for bit.
    """
    with threadpool_limits(limits=threads, user_api="openmp"):
        proba = model.predict_proba(x)
    out = np.zeros((len(x), len(CLASSES)))
    for column, cls in enumerate(model.classes_):
        out[:, CLASSES.index(int(cls))] = proba[:, column]
    return out


def decide(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's call — the most probable class, -1/0/+1 — and its probability (the confidence)."""
    pick = np.argmax(proba, axis=1)
    return np.asarray(CLASSES)[pick], proba[np.arange(len(pick)), pick]
