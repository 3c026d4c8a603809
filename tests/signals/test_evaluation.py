"""The evaluation's numbers checked by hand on eight predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from adapters.hours import HOUR_NS as H
from signals.evaluation import evaluate, load_evaluation, render_markdown, write_evaluation
from signals.paths import signals_dir


def _case():
    ts = pd.Index(1_704_067_200_000_000_000 + H * np.arange(8), name="ts")
    predictions = pd.DataFrame(
        {
            "signal": [1, 1, -1, 0, 0, -1, 1, 0],
            "confidence": [0.85, 0.55, 0.92, 0.81, 0.45, 0.65, 0.95, 0.39],
        },
        index=ts,
    )
    samples = pd.DataFrame(
        {
            "label": [1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 0.0, np.nan],
            "forward_return": [0.02, -0.01, -0.03, 0.001, 0.02, 0.015, 0.004, np.nan],
        },
        index=ts,
    )
    return predictions, samples


def test_scores_by_hand():
    predictions, samples = _case()
    ev = evaluate(predictions, samples, 0.8, {"instrument_id": "X.Y", "horizon_hours": 24, "label_k": 0.5})
    assert ev["predictions"] == 8 and ev["unscored"] == 1
    # hits: rows 0, 2, 3 of 7 scored
    assert ev["overall"] == {
        "evaluated": 7,
        "hit_rate": round(3 / 7, 6),
        "confident": 4,
        "confident_hit_rate": 0.75,
    }
    assert ev["confident_counts"] == {"short": 1, "neutral": 1, "long": 2}
    assert ev["per_class"]["long"] == {
        "predicted": 3,
        "evaluated": 3,
        "hit_rate": round(1 / 3, 6),
        "confident": 2,
        "confident_hit_rate": 0.5,
    }
    assert ev["per_class"]["short"]["hit_rate"] == 0.5
    assert ev["per_class"]["neutral"]["predicted"] == 3 and ev["per_class"]["neutral"]["evaluated"] == 2
    # rows realised (short, neutral, long), columns predicted
    assert ev["confusion_matrix"]["counts"] == [[1, 0, 1], [0, 1, 1], [1, 1, 1]]
    d = ev["directional"]
    assert d["calls"] == 5 and d["sign_hit_rate"] == 0.6  # rows 0, 2, 6 right; 1, 5 wrong
    assert d["confident_calls"] == 3 and d["confident_sign_hit_rate"] == 1.0
    bins = {b["bin"]: b for b in ev["calibration"]}
    assert bins["[0.8, 0.9)"]["count"] == 2 and bins["[0.8, 0.9)"]["accuracy"] == 1.0
    assert bins["[0.9, 1.0]"]["count"] == 2 and bins["[0.9, 1.0]"]["accuracy"] == 0.5
    assert bins["[0.0, 0.4)"]["count"] == 0, "row 7 is unscored"
    assert sum(b["count"] for b in ev["calibration"]) == 7
    assert ev["by_year"] == {"2024": ev["overall"]}
    assert "| long | 3 | 3 | 33.3% | 2 | 50.0% |" in render_markdown(ev)


def test_written_evaluation_is_read_back(tmp_path):
    predictions, samples = _case()
    ev = evaluate(predictions, samples, 0.8, {"instrument_id": "X.Y"})
    assert load_evaluation(tmp_path, "X.Y") is None
    write_evaluation(signals_dir(tmp_path, "X.Y"), ev)
    assert load_evaluation(tmp_path, "X.Y") == json.loads(json.dumps(ev))
    assert (signals_dir(tmp_path, "X.Y") / "evaluation.md").read_text().startswith("# Signal evaluation")
