"""The command end to end on the real catalog: predictions in the catalog, read back through the
API, byte-identical on a rebuild, with the model record and the evaluation beside them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from adapters.hours import HOUR_NS as H
from adapters.signals import SignalPrediction
from signals.__main__ import main
from signals.config import DEFAULT_CONFIG, SignalConfig
from signals.evaluation import load_evaluation
from signals.features import FEATURES
from signals.inputs import SignalDataError
from signals.model import model_version
from signals.paths import MODEL_FILE, predictions_dir, saved_model_dir, signals_dir
from signals.store import build_predictions, has_predictions, read_predictions

pytestmark = pytest.mark.integration
PERP = "BTCUSDT-PERP.BINANCE"


def _files(catalog: Path) -> dict[str, bytes]:
    folder = predictions_dir(catalog, PERP)
    out = {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}
    for name in (MODEL_FILE, "evaluation.json", "evaluation.md"):
        out[name] = (signals_dir(catalog, PERP) / name).read_bytes()
    for path in sorted(saved_model_dir(catalog, PERP).iterdir()):
        out[f"model/{path.name}"] = path.read_bytes()
    return out


def test_command_prints_a_line_per_window_and_writes_everything(built_signals):
    catalog, stdout = built_signals
    record = json.loads((signals_dir(catalog, PERP) / MODEL_FILE).read_text())
    window_lines = [line for line in stdout.splitlines() if line.startswith("window ")]
    assert len(window_lines) == len(record["windows"]) >= 17
    assert re.search(r"wrote \d+ predictions .* confidence >= 0.8: short \d+, neutral \d+, long \d+", stdout)
    assert record["model_version"] == model_version(SignalConfig())
    assert record["features"] == list(FEATURES)
    assert record["config"] == SignalConfig().as_dict()
    assert (
        len(record["data"]["catalog_fingerprint"]) == 64 and len(record["data"]["inputs_fingerprint"]) == 64
    )
    for w in record["windows"]:
        assert pd.Timestamp(w["train_end"]) < pd.Timestamp(w["start"])
    assert has_predictions(catalog, PERP)
    assert has_predictions(catalog, PERP, SignalConfig())
    assert not has_predictions(catalog, PERP, SignalConfig(label_k=0.7)), "another config needs a rebuild"
    assert not has_predictions(catalog, "ETHUSDT-PERP.BINANCE")


def test_read_predictions(built_signals, real_inputs):
    catalog, _ = built_signals
    every = read_predictions(catalog, PERP)
    record = json.loads((signals_dir(catalog, PERP) / MODEL_FILE).read_text())
    assert len(every) == record["predictions"]["count"] > 12_000
    assert all(isinstance(p, SignalPrediction) for p in every)
    stamps = [p.ts_event for p in every]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert set(stamps) <= set(real_inputs.index.tolist()), "stamped at bar closes"
    # predictions start once min_history_days of labels exist and run to the last bar
    assert pd.Timestamp(stamps[0], tz="UTC") <= pd.Timestamp("2024-04-15", tz="UTC")
    assert stamps[-1] == int(real_inputs.index[-1])
    for p in every:
        assert p.ts_init == p.ts_event
        assert p.signal in (-1, 0, 1) and 1 / 3 - 1e-9 <= p.confidence <= 1 and p.sd > 0
        assert p.train_start_ns < p.train_end_ns < p.ts_event
        assert p.horizon_hours == 24 and str(p.instrument_id) == PERP
    window = read_predictions(catalog, PERP, "2025-01-01", pd.Timestamp("2025-01-01T05:00", tz="UTC"))
    assert [p.ts_event for p in window] == [
        pd.Timestamp("2025-01-01", tz="UTC").value + h * H for h in range(6)
    ]
    assert read_predictions(catalog, PERP, start=stamps[-1]) == every[-1:]
    assert read_predictions(catalog, "ETHUSDT-PERP.BINANCE") == []


def test_rebuild_is_byte_identical(built_signals, tmp_path):
    catalog, _ = built_signals
    first = _files(catalog)
    copy = tmp_path / "catalog"
    shutil.copytree(catalog, copy)
    summary = build_predictions(copy, DEFAULT_CONFIG)
    assert _files(copy) == first
    assert summary.predictions == len(read_predictions(copy, PERP))


def test_evaluation_is_out_of_sample_and_complete(built_signals):
    catalog, _ = built_signals
    ev = load_evaluation(catalog, PERP)
    assert ev is not None
    assert ev["unscored"] == 24, "the last horizon has no realised label yet"
    assert ev["overall"]["evaluated"] + ev["unscored"] == ev["predictions"]
    assert sum(map(sum, ev["confusion_matrix"]["counts"])) == ev["overall"]["evaluated"]
    assert sum(b["count"] for b in ev["calibration"]) == ev["overall"]["evaluated"]
    assert set(ev["confident_counts"]) == {"short", "neutral", "long"}
    assert set(ev["per_class"]) == {"short", "neutral", "long"}
    assert "Calibration" in (signals_dir(catalog, PERP) / "evaluation.md").read_text()


def test_missing_catalog_and_bad_config_exit_2(tmp_path, capsys):
    assert main(["build", "--catalog", str(tmp_path / "none")]) == 2
    assert "not a built catalog" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("horizon_hours: -1\n")
    assert main(["build", "--catalog", str(tmp_path), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "horizon_hours" in err
    with pytest.raises(SignalDataError):
        build_predictions(tmp_path / "none")
