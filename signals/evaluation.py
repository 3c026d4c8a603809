"""How good the calls were, out of sample: hit rates, confusion matrix, confidence calibration.

Every prediction was made by a model trained on labels known before its window, so scoring it
against the label realised ``horizon`` hours later is an out-of-sample test. Predictions whose
horizon runs past the data have no realised label and are counted but not scored. The dict
returned by :func:`evaluate` is written as ``evaluation.json`` (read back by
:func:`load_evaluation` for the backtest summary) and rendered as ``evaluation.md``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from signals.labels import CLASSES
from signals.paths import signals_dir

CLASS_NAMES = {-1: "short", 0: "neutral", 1: "long"}
CALIBRATION_EDGES = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Confidence bins (the predicted class's probability is at least 1/3 with three classes)."""
EVALUATION_JSON = "evaluation.json"
EVALUATION_MD = "evaluation.md"


def _rate(hits: np.ndarray) -> float | None:
    return round(float(hits.mean()), 6) if len(hits) else None


def _scores(
    signal: np.ndarray, label: np.ndarray, confidence: np.ndarray, threshold: float
) -> dict[str, Any]:
    confident = confidence >= threshold
    return {
        "evaluated": len(signal),
        "hit_rate": _rate(signal == label),
        "confident": int(confident.sum()),
        "confident_hit_rate": _rate(signal[confident] == label[confident]),
    }


def evaluate(
    predictions: pd.DataFrame, samples: pd.DataFrame, threshold: float, meta: dict[str, Any]
) -> dict[str, Any]:
    """Score ``predictions`` (walk-forward output) against the labels in ``samples``.

    ``meta`` (instrument, model version, horizon …) is copied to the top of the result.
    """
    signal_all = predictions["signal"].to_numpy(dtype="int64")
    conf_all = predictions["confidence"].to_numpy(dtype="float64")
    label_all = samples["label"].reindex(predictions.index).to_numpy(dtype="float64")
    fwd_all = samples["forward_return"].reindex(predictions.index).to_numpy(dtype="float64")
    known = np.isfinite(label_all)
    signal, label, conf, fwd = (
        signal_all[known],
        label_all[known].astype(int),
        conf_all[known],
        fwd_all[known],
    )
    ts = predictions.index.to_numpy(dtype="int64")
    out: dict[str, Any] = dict(meta)
    out["confidence_threshold"] = threshold
    out["predictions"] = len(signal_all)
    out["first"] = _iso(int(ts[0])) if len(ts) else None
    out["last"] = _iso(int(ts[-1])) if len(ts) else None
    out["unscored"] = int((~known).sum())
    out["overall"] = _scores(signal, label, conf, threshold)
    out["realised_class_share"] = {CLASS_NAMES[c]: _rate(label == c) for c in CLASSES}
    out["confident_counts"] = {
        CLASS_NAMES[c]: int(((signal_all == c) & (conf_all >= threshold)).sum()) for c in CLASSES
    }
    out["per_class"] = {
        CLASS_NAMES[c]: {"predicted": int((signal_all == c).sum())}
        | _scores(signal[signal == c], label[signal == c], conf[signal == c], threshold)
        for c in CLASSES
    }
    direction = signal != 0
    strong = direction & (conf >= threshold)
    out["directional"] = {
        "calls": int(direction.sum()),
        "sign_hit_rate": _rate(np.sign(fwd[direction]) == signal[direction]),
        "mean_signed_return": _rate(fwd[direction] * signal[direction]),
        "confident_calls": int(strong.sum()),
        "confident_sign_hit_rate": _rate(np.sign(fwd[strong]) == signal[strong]),
        "confident_mean_signed_return": _rate(fwd[strong] * signal[strong]),
    }
    out["confusion_matrix"] = {
        "classes": [CLASS_NAMES[c] for c in CLASSES],
        "rows": "realised",
        "columns": "predicted",
        "counts": [[int(((label == r) & (signal == p)).sum()) for p in CLASSES] for r in CLASSES],
    }
    out["calibration"] = _calibration(conf, signal == label)
    years = pd.DatetimeIndex(pd.to_datetime(ts[known], utc=True)).year.to_numpy()
    out["by_year"] = {
        str(y): _scores(signal[years == y], label[years == y], conf[years == y], threshold)
        for y in sorted(set(years.tolist()))
    }
    return out


def _calibration(confidence: np.ndarray, hit: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for lo, hi in itertools.pairwise(CALIBRATION_EDGES):
        inside = (confidence >= lo) & ((confidence < hi) if hi < 1.0 else (confidence <= hi))
        rows.append(
            {
                "bin": f"[{lo:.1f}, {hi:.1f}{']' if hi == 1.0 else ')'}",
                "count": int(inside.sum()),
                "mean_confidence": _rate(confidence[inside]),
                "accuracy": _rate(hit[inside]),
            }
        )
    return rows


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").isoformat().replace("+00:00", "Z")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def render_markdown(ev: dict[str, Any]) -> str:
    """The evaluation as a short human-readable report."""
    thr = ev["confidence_threshold"]
    o = ev["overall"]
    d = ev["directional"]
    lines = [
        f"# Signal evaluation — {ev.get('instrument_id', '')} ({ev.get('model_version', '')})",
        "",
        f"Out-of-sample walk-forward predictions {ev['first']} → {ev['last']}: {ev['predictions']} "
        f"hourly calls, {o['evaluated']} scored against the label realised {ev.get('horizon_hours')} h later "
        f"({ev['unscored']} at the end have no realised label yet). Label: forward log return "
        f"beyond ±{ev.get('label_k')}·sd.",
        "",
        f"- hit rate (predicted class = realised class): **{_pct(o['hit_rate'])}** overall; "
        f"{_pct(o['confident_hit_rate'])} on the {o['confident']} calls with confidence ≥ {thr}",
        "- realised class shares (what always predicting one class would score): "
        + ", ".join(f"{k} {_pct(v)}" for k, v in ev["realised_class_share"].items()),
        "- calls with confidence ≥ "
        + f"{thr}: "
        + ", ".join(f"{k} {v}" for k, v in ev["confident_counts"].items()),
        f"- long/short calls: {d['calls']}, sign right {_pct(d['sign_hit_rate'])}; "
        f"confident ones: {d['confident_calls']}, sign right {_pct(d['confident_sign_hit_rate'])}",
        "",
        "| predicted | calls | scored | hit rate | confident | confident hit rate |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in ev["per_class"].items():
        lines.append(
            f"| {name} | {c['predicted']} | {c['evaluated']} | {_pct(c['hit_rate'])} | {c['confident']} | "
            f"{_pct(c['confident_hit_rate'])} |"
        )
    cm = ev["confusion_matrix"]
    lines += ["", "Confusion matrix (rows realised, columns predicted):", ""]
    lines += [
        "| realised \\ predicted | " + " | ".join(cm["classes"]) + " |",
        "|---" * (len(cm["classes"]) + 1) + "|",
    ]
    for name, row in zip(cm["classes"], cm["counts"], strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "Calibration (is a call made with confidence p right a fraction p of the time?):", ""]
    lines += ["| confidence | calls | mean confidence | accuracy |", "|---|---|---|---|"]
    for b in ev["calibration"]:
        lines.append(f"| {b['bin']} | {b['count']} | {_pct(b['mean_confidence'])} | {_pct(b['accuracy'])} |")
    lines += ["", "| year | scored | hit rate | confident | confident hit rate |", "|---|---|---|---|---|"]
    for year, s in ev["by_year"].items():
        scores = f"{_pct(s['hit_rate'])} | {s['confident']} | {_pct(s['confident_hit_rate'])}"
        lines.append(f"| {year} | {s['evaluated']} | {scores} |")
    return "\n".join(lines) + "\n"


def write_evaluation(folder: Path, ev: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / EVALUATION_JSON).write_text(json.dumps(ev, indent=1, ensure_ascii=False) + "\n")
    (folder / EVALUATION_MD).write_text(render_markdown(ev))


def load_evaluation(catalog_dir: Path | str, instrument_id: str) -> dict[str, Any] | None:
    """The evaluation written by the last ``python -m signals build`` for ``instrument_id``, or
    None when there is none (the backtest summary includes it when present)."""
    path = signals_dir(Path(catalog_dir), str(instrument_id)) / EVALUATION_JSON
    if not path.is_file():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]
