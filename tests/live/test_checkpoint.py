"""A stopped paper run's saved state: written atomically, read back exactly, refused clearly when it
is unreadable, from another format or from another run."""

from __future__ import annotations

import json

import pytest

from backtesting.config import load_run_config, mode_file_path
from live.checkpoint import CHECKPOINT_FILE, CheckpointError, PaperCheckpoint, comparable, discard
from live.journal import JournalEntry
from tests.venue_modes import venue_dir_in_mode

RUN = {"mode": "btc_basis", "capital": 100_000.0, "start": "2024-06-01T00:00:00+00:00", "strategy": {"x": 1}}


def _checkpoint() -> PaperCheckpoint:
    return PaperCheckpoint(
        run=RUN,
        strategy_id="BasisStrategy-000",
        points=1_234,
        deliveries=1_500,
        stopped_at_ns=1_717_200_000_000_000_000,
        strategy={"yield_strategy": b'{"entered": true}', "binary": bytes(range(256))},
        journal=[JournalEntry(7, "Bar@1", "Transfers.request", {"request_id": "T1", "amount": 10.0})],
    )


def test_a_checkpoint_reads_back_exactly_and_leaves_no_partial_file(tmp_path):
    path = _checkpoint().save(tmp_path / "state")
    assert path.name == CHECKPOINT_FILE
    assert [p.name for p in path.parent.iterdir()] == [CHECKPOINT_FILE]
    assert PaperCheckpoint.load(tmp_path / "state") == _checkpoint()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not a readable paper checkpoint"),
        (json.dumps({"format": 99}), "checkpoint format 99; this version reads 1"),
        (json.dumps({"format": 1, "run": {}}), "is not a readable paper checkpoint: KeyError('strategy_id')"),
    ],
)
def test_a_broken_checkpoint_is_refused_with_what_is_wrong(tmp_path, text, message):
    (tmp_path / CHECKPOINT_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PaperCheckpoint.load(tmp_path)


def test_another_runs_state_names_what_differs(tmp_path):
    other = {**RUN, "capital": 5_000.0, "strategy": {"x": 2}}
    with pytest.raises(CheckpointError, match=r"differs in capital, strategy\)"):
        _checkpoint().check_run(other, tmp_path)
    _checkpoint().check_run(dict(RUN), tmp_path)  # the same run passes


def test_a_resume_under_another_account_mode_is_another_run(tmp_path):
    unified = load_run_config(mode_file_path("btc_basis"))
    classic = load_run_config(
        mode_file_path("btc_basis"), venue_config_dir=venue_dir_in_mode(tmp_path / "venues", "classic")
    )
    assert unified.as_dict() == classic.as_dict()  # the mode YAML is the same
    assert unified.identity()["account_modes"] == {"BINANCE": "classic", "BYBIT": "unified", "OKX": "unified"}
    saved = PaperCheckpoint(**{**vars(_checkpoint()), "run": comparable(unified.identity())})
    with pytest.raises(CheckpointError, match=r"differs in account_modes\)"):
        saved.check_run(classic.identity(), tmp_path)
    saved.check_run(unified.identity(), tmp_path)


def test_discard_removes_the_state(tmp_path):
    _checkpoint().save(tmp_path / "state")
    discard(tmp_path / "state")
    assert not (tmp_path / "state").exists()
    discard(tmp_path / "state")  # nothing left: no error
