"""``signals retrain``: a fit is due exactly when the schedule's next window has all its training
labels, the fit equals the walk-forward build's model for that window, and nothing is written
when the saved model is already the due one."""

from __future__ import annotations

import shutil

import msgspec
import numpy as np
import pandas as pd
import pytest

from adapters.hours import HOUR_NS
from signals.__main__ import main
from signals.config import ModelParams, SignalConfig
from signals.features import FEATURES
from signals.inputs import SignalDataError
from signals.model import class_probabilities
from signals.paths import saved_model_dir
from signals.retrain import retrain
from signals.saved_model import load_model, read_manifest, save_model
from signals.walkforward import walk_forward
from tests.signals.synthetic import synthetic_frame

CONFIG = SignalConfig(
    horizon_hours=6, min_history_days=20, model=ModelParams(max_iter=15, min_samples_leaf=40)
)
FRAME = synthetic_frame(24 * 100)
BOUNDARY = pd.Timestamp("2024-03-01", tz="UTC").value
"""A monthly window start inside the synthetic history (2024-01-01 .. 2024-04-09)."""


def _until(ns: int) -> pd.DataFrame:
    return FRAME[FRAME.index <= ns]


def test_nothing_is_due_after_a_build_until_the_hour_before_the_next_window(tmp_path):
    built = walk_forward(_until(BOUNDARY - 2 * HOUR_NS), CONFIG)
    assert built.latest is not None and built.latest.next_start_ns == BOUNDARY
    saved = save_model(tmp_path, built.latest, CONFIG)
    files = sorted(p.name for p in tmp_path.iterdir())
    result = retrain(_until(BOUNDARY - 2 * HOUR_NS), CONFIG, tmp_path)
    assert not result.fitted and result.manifest == saved and result.due_start_ns == saved.window_start_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == files, "nothing written"
    due = retrain(_until(BOUNDARY - HOUR_NS), CONFIG, tmp_path)  # the last label before the window is known
    assert due.fitted and due.due_start_ns == due.manifest.window_start_ns == BOUNDARY
    assert load_model(tmp_path).manifest == due.manifest
    assert due.manifest.train_end_ns == BOUNDARY - HOUR_NS
    assert due.manifest.next_window_ns == pd.Timestamp("2024-04-01", tz="UTC").value
    again = retrain(_until(BOUNDARY + 5 * HOUR_NS), CONFIG, tmp_path)
    assert not again.fitted and again.manifest == due.manifest


def test_the_retrained_model_is_the_walk_forward_model_of_that_window(tmp_path):
    result = retrain(_until(BOUNDARY - HOUR_NS), CONFIG, tmp_path)
    later = walk_forward(_until(BOUNDARY + 10 * 24 * HOUR_NS), CONFIG)
    assert later.latest is not None and later.latest.window.start_ns == BOUNDARY
    x = later.samples[list(FEATURES)].to_numpy()[-240:]
    retrained = load_model(tmp_path)
    assert np.array_equal(class_probabilities(retrained.model, x), class_probabilities(later.latest.model, x))
    w = later.latest.window
    m = result.manifest
    assert (m.train_start_ns, m.train_end_ns, m.train_samples) == (
        w.train_start_ns,
        w.train_end_ns,
        w.train_samples,
    )
    rebuilt = save_model(tmp_path / "build", later.latest, CONFIG)
    assert rebuilt.sha256 == m.sha256, "the same file a build on the same data saves"


def test_another_model_version_is_due_at_once(tmp_path):
    save_model(tmp_path, walk_forward(_until(BOUNDARY + HOUR_NS), CONFIG).latest, CONFIG)
    other = msgspec.structs.replace(CONFIG, label_k=0.7)
    result = retrain(_until(BOUNDARY + HOUR_NS), other, tmp_path)
    assert result.fitted and result.manifest.config == other


def test_too_short_a_history_is_a_clear_error(tmp_path):
    with pytest.raises(SignalDataError, match="too short for a first window"):
        retrain(FRAME.iloc[: 24 * 10], CONFIG, tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.integration
def test_command_on_the_real_catalog(built_signals, tmp_path, capsys):
    catalog, _ = built_signals
    copy = tmp_path / "catalog"
    shutil.copytree(catalog, copy)
    folder = saved_model_dir(copy, "BTCUSDT-PERP.BINANCE")
    built = read_manifest(folder)
    assert main(["retrain", "--catalog", str(copy)]) == 0
    assert f"nothing due: the saved model {built.file} is the one for the window from 2025-09-01" in (
        capsys.readouterr().out
    )
    shutil.rmtree(folder)
    assert main(["retrain", "--catalog", str(copy)]) == 0
    assert "retrained for the window from 2025-09-01 00:00: saved model" in capsys.readouterr().out
    assert read_manifest(folder) == built, "the build's very model (same sha256)"
    assert main(["retrain", "--catalog", str(tmp_path / "nowhere")]) == 2
