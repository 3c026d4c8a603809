"""The saved model: a faithful round trip, refusal of any mismatch with the running code, and
atomic replacement (a failed save leaves the previous model in force)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from signals import model as model_module
from signals import saved_model
from signals.config import ModelParams, SignalConfig
from signals.features import FEATURES
from signals.model import class_probabilities
from signals.saved_model import (
    MANIFEST_FILE,
    ModelWatcher,
    SavedModelError,
    load_model,
    read_manifest,
    save_model,
)
from signals.walkforward import FittedModel, walk_forward
from tests.signals.synthetic import synthetic_frame

CONFIG = SignalConfig(
    horizon_hours=6, min_history_days=20, model=ModelParams(max_iter=15, min_samples_leaf=40)
)
PROJECT = Path(__file__).resolve().parents[2]
SAVE_A_FIT = """
import sys
from pathlib import Path

import joblib

from signals.config import ModelParams, SignalConfig
from signals.saved_model import save_model
from signals.walkforward import walk_forward
from tests.signals.synthetic import synthetic_frame

if len(sys.argv) > 2:
    joblib.load(sys.argv[2])  # a saved model read first, as `signals retrain` does
config = SignalConfig(horizon_hours=6, min_history_days=20, model=ModelParams(max_iter=15, min_samples_leaf=40))
print(save_model(Path(sys.argv[1]), walk_forward(synthetic_frame(24 * 50), config).latest, config).sha256)
"""
"""Fits the same model as the ``fits`` fixture's first and saves it, in a process of its own."""


@pytest.fixture(scope="module")
def fits() -> tuple[FittedModel, FittedModel, np.ndarray]:
    """Two different fits (the second on a longer history) and some feature rows."""
    frame = synthetic_frame(24 * 80)
    short = walk_forward(frame.iloc[: 24 * 50], CONFIG)
    long = walk_forward(frame, CONFIG)
    x = long.samples[list(FEATURES)].to_numpy()[-100:]
    assert short.latest is not None and long.latest is not None
    return short.latest, long.latest, x


def test_round_trip_predicts_identically_and_records_what_the_model_is(tmp_path, fits):
    fitted, _, x = fits
    manifest = save_model(tmp_path, fitted, CONFIG)
    loaded = load_model(tmp_path, CONFIG)
    assert loaded.manifest == manifest == read_manifest(tmp_path)
    assert np.array_equal(class_probabilities(loaded.model, x), class_probabilities(fitted.model, x))
    assert manifest.features == FEATURES and manifest.config == CONFIG
    assert manifest.model_version == model_module.model_version(CONFIG)
    assert manifest.window_start_ns == fitted.window.start_ns < manifest.next_window_ns
    assert manifest.train_end_ns == fitted.window.train_end_ns < manifest.window_start_ns
    assert set(manifest.libraries) == {"python", "numpy", "scikit-learn", "joblib"}
    assert (tmp_path / manifest.file).is_file() and manifest.sha256.startswith(manifest.file[-23:-7])


def test_saving_the_same_fit_twice_gives_the_same_bytes(tmp_path, fits):
    fitted, _, _ = fits
    first = save_model(tmp_path / "a", fitted, CONFIG)
    second = save_model(tmp_path / "b", fitted, CONFIG)
    assert first == second
    assert (tmp_path / "a" / MANIFEST_FILE).read_bytes() == (tmp_path / "b" / MANIFEST_FILE).read_bytes()


def test_a_fit_saves_to_the_same_bytes_in_a_process_that_loaded_a_model_before(tmp_path):
    """Loading a model leaves scikit-learn's classes with attribute names that are not interned;
    a later save must not depend on it (the rebuild and retrain give the build's very file)."""

    def save(folder: Path, *load_first: str) -> str:
        argv = [sys.executable, "-c", SAVE_A_FIT, str(folder), *load_first]
        return subprocess.run(argv, cwd=PROJECT, capture_output=True, text=True, check=True).stdout.strip()

    fresh = save(tmp_path / "fresh")
    loaded = tmp_path / "fresh" / read_manifest(tmp_path / "fresh").file
    assert save(tmp_path / "after_a_load", str(loaded)) == fresh


@pytest.mark.parametrize(
    ("features", "says"),
    [
        ((*FEATURES, "funding_z"), "added ['funding_z'], dropped []"),
        (FEATURES[:-1], "dropped ['basis_dev']"),
        (FEATURES[::-1], "another order"),
    ],
)
def test_a_changed_feature_list_is_refused(tmp_path, fits, monkeypatch, features, says):
    save_model(tmp_path, fits[0], CONFIG)
    monkeypatch.setattr(saved_model, "FEATURES", features)
    with pytest.raises(SavedModelError, match="feature list differs") as e:
        load_model(tmp_path)
    assert says in str(e.value)


def test_a_changed_feature_version_or_config_is_refused(tmp_path, fits, monkeypatch):
    save_model(tmp_path, fits[0], CONFIG)
    with pytest.raises(SavedModelError, match="expected config's"):
        load_model(tmp_path, msgspec.structs.replace(CONFIG, label_k=0.7))
    monkeypatch.setattr(model_module, "FEATURE_VERSION", "f2")
    with pytest.raises(SavedModelError, match=r"model version hgb-f1-\w+ differs from hgb-f2-"):
        load_model(tmp_path)


@pytest.mark.parametrize("lib", ["scikit-learn", "numpy", "python"])
def test_other_library_versions_are_refused(tmp_path, fits, monkeypatch, lib):
    save_model(tmp_path, fits[0], CONFIG)
    running = {**saved_model.library_versions(), lib: "0.0.1"}
    monkeypatch.setattr(saved_model, "library_versions", lambda: running)
    with pytest.raises(SavedModelError, match=rf"{lib} \S+ saved, 0.0.1 running"):
        load_model(tmp_path)


def test_a_changed_or_missing_file_is_refused(tmp_path, fits):
    with pytest.raises(SavedModelError, match="no saved model"):
        load_model(tmp_path)
    manifest = save_model(tmp_path, fits[0], CONFIG)
    path = tmp_path / manifest.file
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(SavedModelError, match="does not hash"):
        load_model(tmp_path)
    path.unlink()
    with pytest.raises(SavedModelError, match="cannot be read"):
        load_model(tmp_path)
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(SavedModelError, match="not a readable model manifest"):
        load_model(tmp_path)


@pytest.mark.parametrize("fail_on", ["model", "manifest"])
def test_a_save_that_dies_mid_write_leaves_the_previous_model(tmp_path, fits, monkeypatch, fail_on):
    old, new, x = fits
    before = save_model(tmp_path, old, CONFIG)
    real_fsync = os.fsync
    calls = []

    def dying_fsync(fd: int) -> None:
        calls.append(fd)
        if (fail_on == "model") == (len(calls) == 1):
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(saved_model.os, "fsync", dying_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_model(tmp_path, new, CONFIG)
    loaded = load_model(tmp_path)
    assert loaded.manifest == before
    assert np.array_equal(class_probabilities(loaded.model, x), class_probabilities(old.model, x))
    assert not [p for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")], "no temp file left"


def test_a_new_save_replaces_the_model_and_keeps_only_the_previous_file(tmp_path, fits):
    old, new, _ = fits
    first = save_model(tmp_path, old, CONFIG)
    second = save_model(tmp_path, new, CONFIG)
    assert second.file != first.file and load_model(tmp_path).manifest == second
    assert {p.name for p in tmp_path.glob("*.joblib")} == {first.file, second.file}
    third = save_model(tmp_path, old, CONFIG)
    assert {p.name for p in tmp_path.glob("*.joblib")} == {second.file, third.file}


def test_the_watcher_picks_up_a_replaced_model_once_and_refuses_a_broken_one(tmp_path, fits):
    old, new, x = fits
    save_model(tmp_path, old, CONFIG)
    watcher = ModelWatcher(tmp_path)
    assert watcher.refresh() is False, "unchanged manifest: nothing to do"
    second = save_model(tmp_path, new, CONFIG)
    assert watcher.refresh() is True and watcher.loaded.manifest == second
    assert np.array_equal(class_probabilities(watcher.loaded.model, x), class_probabilities(new.model, x))
    assert watcher.refresh() is False
    third = save_model(tmp_path, old, msgspec.structs.replace(CONFIG, label_k=0.7))
    with pytest.raises(SavedModelError, match="expected config's"):
        watcher.refresh()
    assert watcher.loaded.manifest == second and watcher.refresh() is False, "refused once, old model kept"
    assert third.model_version != second.model_version
