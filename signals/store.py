"""Build the predictions into the catalog and read them back (the API the strategies use).

``build_predictions`` runs the whole pipeline — inputs from the catalog, features, walk-forward
model, evaluation — and writes ``SignalPrediction`` custom data plus ``model.json``, the
evaluation and the latest window's fitted model for live runs (:mod:`signals.paths` says where).
It is deterministic: the same catalog and config give byte-identical prediction and model files.
``has_predictions`` tells the backtest CLI whether a build is due; ``read_predictions`` returns the
calls of a window in time order.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
from nautilus_trader.model.data import CustomData
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.signals import SignalPrediction
from data_catalog.manifest import MANIFEST_FILE
from signals.config import SignalConfig, load_signal_config
from signals.evaluation import CLASS_NAMES, evaluate, write_evaluation
from signals.features import FEATURE_VERSION, FEATURES, lookback_rows
from signals.inputs import SignalDataError, frame_fingerprint, load_inputs
from signals.model import model_version
from signals.paths import MODEL_FILE, PREDICTIONS_SUBDIR, predictions_dir, saved_model_dir, signals_dir
from signals.saved_model import ModelManifest, save_model
from signals.walkforward import WalkForwardResult, walk_forward

Progress = Callable[[str], None]
type TimeLike = int | str | pd.Timestamp | None

NO_LOOK_AHEAD = (
    "A prediction stamped t (the close of the bar stamped t) uses bars and funding prints stamped at "
    "or before t only, and a model trained on samples whose label (the close h hours later) is known "
    "strictly before the start of the prediction's window."
)


@dataclass(frozen=True)
class BuildSummary:
    catalog_dir: Path
    instrument_id: str
    model_version: str
    predictions: int
    windows: int
    confident: dict[str, int]
    """Calls with confidence >= the config's threshold, per class."""
    seconds: float
    evaluation: dict[str, Any]
    saved_model: ModelManifest
    """The latest window's model, saved for live runs (:mod:`signals.saved_model`)."""


def _catalog_fingerprint(catalog_dir: Path) -> str:
    path = catalog_dir / MANIFEST_FILE
    return str(json.loads(path.read_text()).get("fingerprint", "")) if path.is_file() else ""


def to_signal_predictions(result: WalkForwardResult, config: SignalConfig) -> list[SignalPrediction]:
    """Walk-forward output as the catalog's custom data (``ts_event = ts_init`` = the bar close)."""
    instrument = InstrumentId.from_str(config.instrument_id)
    version = model_version(config)
    p = result.predictions
    return [
        SignalPrediction(
            ts_event=int(ts),
            ts_init=int(ts),
            instrument_id=instrument,
            signal=int(signal),
            confidence=float(confidence),
            sd=float(sd),
            horizon_hours=config.horizon_hours,
            model_version=version,
            train_start_ns=int(start),
            train_end_ns=int(end),
        )
        for ts, signal, confidence, sd, start, end in zip(
            p.index,
            p["signal"],
            p["confidence"],
            p["sd"],
            p["train_start_ns"],
            p["train_end_ns"],
            strict=True,
        )
    ]


def _model_record(
    config: SignalConfig, frame: pd.DataFrame, result: WalkForwardResult, catalog_dir: Path
) -> dict[str, Any]:
    index = frame.index
    return {
        "model_version": model_version(config),
        "model": "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn_version": sklearn.__version__,
        "feature_version": FEATURE_VERSION,
        "features": list(FEATURES),
        "lookback_hours": lookback_rows(config.vol_halflife_hours),
        "classes": {str(k): v for k, v in CLASS_NAMES.items()},
        "label": (
            f"forward log return over {config.horizon_hours} h vs k·sd with k = {config.label_k}: "
            "long above +k·sd, short below -k·sd, neutral between; sd = EWMA hourly sd "
            f"(half-life {config.vol_halflife_hours} h) × sqrt({config.horizon_hours})"
        ),
        "no_look_ahead": NO_LOOK_AHEAD,
        "config": config.as_dict(),
        "data": {
            "catalog_fingerprint": _catalog_fingerprint(catalog_dir),
            "inputs_fingerprint": frame_fingerprint(frame),
            "first_bar": _iso(int(index[0])),
            "last_bar": _iso(int(index[-1])),
            "hours": len(frame),
            "missing_perp_hours": int(frame["close"].isna().sum()),
            "missing_spot_hours": int(frame["spot_close"].isna().sum()),
        },
        "predictions": {
            "count": len(result.predictions),
            "first": _iso(int(result.predictions.index[0])),
            "last": _iso(int(result.predictions.index[-1])),
            "catalog_path": str(PREDICTIONS_SUBDIR / config.instrument_id),
        },
        "windows": [w.as_dict() for w in result.windows],
    }


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").isoformat().replace("+00:00", "Z")


def _write_predictions(catalog_dir: Path, instrument_id: str, rows: list[SignalPrediction]) -> None:
    """Replace the instrument's prediction files in one move (never a mix of old and new)."""
    staging = catalog_dir / "signals" / f".building-{instrument_id}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        ParquetDataCatalog(str(staging)).write_data(rows)
        target = predictions_dir(catalog_dir, instrument_id)
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        predictions_dir(staging, instrument_id).rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_predictions(
    catalog_dir: Path | str,
    config: SignalConfig | Path | str | None = None,
    progress: Progress = lambda _: None,
) -> BuildSummary:
    """Run the pipeline on the catalog and write predictions, ``model.json`` and the evaluation.

    ``config`` is a :class:`SignalConfig`, a path to one, or None for the shipped default.
    Raises :class:`~signals.inputs.SignalDataError` when the catalog lacks the bars or funding,
    or holds too little history for a single prediction window.
    """
    started = time.perf_counter()
    catalog_dir = Path(catalog_dir)
    if not isinstance(config, SignalConfig):
        config = load_signal_config(config)
    frame = load_inputs(catalog_dir, config)
    progress(
        f"inputs: {len(frame)} hours of {config.instrument_id} bars {_iso(int(frame.index[0]))} .. "
        f"{_iso(int(frame.index[-1]))} with {config.spot_instrument_id} closes and funding"
    )
    result = walk_forward(frame, config, progress)
    if result.predictions.empty:
        raise SignalDataError(
            f"no predictions: the catalog's {len(frame)} hours of {config.instrument_id} are too short for "
            f"min_history_days={config.min_history_days} plus one `{config.retrain_every}` window",
        )
    rows = to_signal_predictions(result, config)
    _write_predictions(catalog_dir, config.instrument_id, rows)
    folder = signals_dir(catalog_dir, config.instrument_id)
    folder.mkdir(parents=True, exist_ok=True)
    record = _model_record(config, frame, result, catalog_dir)
    (folder / MODEL_FILE).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    meta = {
        "instrument_id": config.instrument_id,
        "model_version": model_version(config),
        "horizon_hours": config.horizon_hours,
        "label_k": config.label_k,
    }
    ev = evaluate(result.predictions, result.samples, config.confidence_threshold, meta)
    write_evaluation(folder, ev)
    assert result.latest is not None  # predictions exist, so a window was trained
    saved = save_model(saved_model_dir(catalog_dir, config.instrument_id), result.latest, config)
    return BuildSummary(
        catalog_dir=catalog_dir,
        instrument_id=config.instrument_id,
        model_version=model_version(config),
        predictions=len(rows),
        windows=len(result.windows),
        confident=ev["confident_counts"],
        seconds=time.perf_counter() - started,
        evaluation=ev,
        saved_model=saved,
    )


def has_predictions(catalog_dir: Path | str, instrument_id: str, config: SignalConfig | None = None) -> bool:
    """True when the catalog holds predictions for ``instrument_id`` built from its current data
    (and, if ``config`` is given, with that config's model version)."""
    catalog_dir = Path(catalog_dir)
    record_path = signals_dir(catalog_dir, str(instrument_id)) / MODEL_FILE
    folder = predictions_dir(catalog_dir, str(instrument_id))
    if not record_path.is_file() or not folder.is_dir() or not any(folder.glob("*.parquet")):
        return False
    record = json.loads(record_path.read_text())
    if record.get("data", {}).get("catalog_fingerprint") != _catalog_fingerprint(catalog_dir):
        return False
    return config is None or record.get("model_version") == model_version(config)


def _timestamp(value: TimeLike) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, int):
        return pd.Timestamp(value, tz="UTC")
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_predictions(
    catalog_dir: Path | str, instrument_id: str, start: TimeLike = None, end: TimeLike = None
) -> list[SignalPrediction]:
    """The predictions stamped in ``[start, end]`` (both inclusive; ns, ISO text or Timestamp;
    naive times are UTC), in time order. Empty if none were built."""
    catalog_dir = Path(catalog_dir)
    if not predictions_dir(catalog_dir, str(instrument_id)).is_dir():
        return []
    catalog = ParquetDataCatalog(str(catalog_dir))
    items = catalog.query(
        SignalPrediction, identifiers=[str(instrument_id)], start=_timestamp(start), end=_timestamp(end)
    )
    rows = [i.data if isinstance(i, CustomData) else i for i in items]
    return sorted(rows, key=lambda p: p.ts_event)
