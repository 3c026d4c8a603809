"""Where a signal series lives inside a catalog.

Predictions are Nautilus custom data under ``<catalog>/data/custom_signal_prediction/<instrument>/``
(written and read through ``ParquetDataCatalog``); the model record and the evaluation sit beside
the rest of the catalog's reports in ``<catalog>/signals/<instrument>/``, and the fitted model a live
run loads (:mod:`signals.saved_model`) in its ``model/`` subfolder. Rebuilding the catalog
replaces the whole directory, so stale predictions never outlive the data they came from.
"""

from __future__ import annotations

from pathlib import Path

SIGNALS_SUBDIR = "signals"
PREDICTIONS_SUBDIR = Path("data") / "custom_signal_prediction"
MODEL_FILE = "model.json"
SAVED_MODEL_SUBDIR = "model"


def signals_dir(catalog_dir: Path, instrument_id: str) -> Path:
    """``<catalog>/signals/<instrument>/``: model.json, evaluation.json, evaluation.md."""
    return Path(catalog_dir) / SIGNALS_SUBDIR / str(instrument_id)


def saved_model_dir(catalog_dir: Path, instrument_id: str) -> Path:
    """``<catalog>/signals/<instrument>/model/``: the fitted model live runs load, and its manifest."""
    return signals_dir(catalog_dir, instrument_id) / SAVED_MODEL_SUBDIR


def predictions_dir(catalog_dir: Path, instrument_id: str) -> Path:
    """The catalog folder holding the ``SignalPrediction`` parquet file(s) of one instrument."""
    return Path(catalog_dir) / PREDICTIONS_SUBDIR / str(instrument_id)
