"""The signal pipeline's parameters (``configs/signals/btc_directional.yaml``), typed and validated.

Every choice that shapes the predictions lives in this file and nowhere else, so a design change
(horizon, label band, retrain schedule) is a config change recorded in ``model.json`` — never a
per-window decision that could peek at the test period.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import msgspec

from adapters.config import load_yaml_as

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "signals"
DEFAULT_CONFIG = CONFIG_DIR / "btc_directional.yaml"

_RETRAIN = re.compile(r"^(month|[1-9][0-9]*d)$")


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ValueError(f"`{field}` {message}")


class ModelParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Hyper-parameters of scikit-learn's ``HistGradientBoostingClassifier`` (same names)."""

    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    max_depth: int | None = 4
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    class_weight: Literal["balanced"] | None = None

    def __post_init__(self) -> None:
        _check(self.max_iter >= 1, "model.max_iter", "must be >= 1")
        _check(0 < self.learning_rate <= 1, "model.learning_rate", "must be in (0, 1]")
        _check(self.max_leaf_nodes >= 2, "model.max_leaf_nodes", "must be >= 2")
        _check(self.max_depth is None or self.max_depth >= 1, "model.max_depth", "must be >= 1 or null")
        _check(self.min_samples_leaf >= 1, "model.min_samples_leaf", "must be >= 1")
        _check(self.l2_regularization >= 0, "model.l2_regularization", "must be >= 0")


class SignalConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One signal series: which bars, what is predicted, how the model is trained walk-forward."""

    instrument_id: str = "BTCUSDT-PERP.BINANCE"
    spot_instrument_id: str = "BTCUSDT.BINANCE_SPOT"
    horizon_hours: int = 24
    label_k: float = 0.5
    vol_halflife_hours: float = 24.0
    retrain_every: str = "month"
    min_history_days: int = 90
    train_window_days: int | None = None
    confidence_threshold: float = 0.8
    seed: int = 0
    threads: int = 1
    """OpenMP threads the model may use to train and predict; the predictions do not depend on it."""
    model: ModelParams = msgspec.field(default_factory=ModelParams)

    def __post_init__(self) -> None:
        _check(self.instrument_id.count(".") == 1, "instrument_id", "must look like SYMBOL.VENUE")
        _check(self.spot_instrument_id.count(".") == 1, "spot_instrument_id", "must look like SYMBOL.VENUE")
        _check(1 <= self.horizon_hours <= 24 * 30, "horizon_hours", "must be in [1, 720]")
        _check(self.label_k >= 0, "label_k", "must be >= 0")
        _check(1 <= self.vol_halflife_hours <= 24 * 30, "vol_halflife_hours", "must be in [1, 720]")
        _check(
            bool(_RETRAIN.match(self.retrain_every)),
            "retrain_every",
            f"must be 'month' or a number of days like '14d', got {self.retrain_every!r}",
        )
        _check(self.min_history_days >= 7, "min_history_days", "must be >= 7")
        _check(
            self.train_window_days is None or self.train_window_days >= self.min_history_days,
            "train_window_days",
            "must be null (expanding) or >= min_history_days",
        )
        _check(0 < self.confidence_threshold < 1, "confidence_threshold", "must be in (0, 1)")
        _check(0 <= self.seed < 2**32, "seed", "must be in [0, 2**32)")
        _check(self.threads >= 1, "threads", "must be >= 1")

    def as_dict(self) -> dict[str, object]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    def digest(self) -> str:
        """Short hash of every parameter that shapes the predictions (all but ``threads``): part of
        ``model_version`` so two configs never share one."""
        shaping = {k: v for k, v in self.as_dict().items() if k != "threads"}
        text = json.dumps(shaping, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def load_signal_config(path: Path | str | None = None) -> SignalConfig:
    """Parse and validate a signal config; every problem is a :class:`adapters.config.ConfigError`
    naming the file and the field."""
    return load_yaml_as(Path(path) if path is not None else DEFAULT_CONFIG, SignalConfig, "signal config")
