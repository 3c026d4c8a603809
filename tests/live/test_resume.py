"""A paper run stopped half-way and resumed from its saved state ends as an uninterrupted run:
the same fills, NAV series and action log."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest

from backtesting.config import load_run_config, mode_file_path
from live.checkpoint import CHECKPOINT_FILE, PaperCheckpoint
from live.journal import JournalMismatch
from live.runner import PaperRunInterrupted, run_paper

pytestmark = pytest.mark.integration


def _stop_on(day: str):
    """A progress callback that sends this process SIGINT when the replay reports ``day``."""

    def progress(message: str) -> None:
        if day in message:
            os.kill(os.getpid(), signal.SIGINT)

    return progress


def _stopped_run(run, catalog_dir, tmp_path, day: str) -> PaperCheckpoint:
    state = tmp_path / "state"
    with pytest.raises(PaperRunInterrupted) as stopped:
        run_paper(run, catalog_dir, tmp_path / "stopped", progress=_stop_on(day), state_dir=state)
    assert stopped.value.state_dir == state
    assert not (tmp_path / "stopped").exists()
    return PaperCheckpoint.load(state)


def _assert_resumes_as_uninterrupted(run, catalog_dir, tmp_path, day: str) -> PaperCheckpoint:
    """Run ``run`` whole, then stopped on ``day`` and resumed: the two end alike."""
    whole = run_paper(run, catalog_dir, tmp_path / "whole")
    checkpoint = _stopped_run(run, catalog_dir, tmp_path, day)
    assert pd.Timestamp(checkpoint.stopped_at_ns, tz="UTC") >= pd.Timestamp(day, tz="UTC")
    assert checkpoint.journal  # it traded before the stop
    fills = pd.read_csv(tmp_path / "whole" / "fills.csv", parse_dates=["ts_event"])
    assert (fills["ts_event"] > pd.Timestamp(checkpoint.stopped_at_ns, tz="UTC")).any()  # and after it

    resumed = run_paper(run, catalog_dir, tmp_path / "resumed", state_dir=tmp_path / "state", resume=True)
    for name in ("fills.csv", "nav.csv", "actions.csv", "transfers.csv"):
        ours, theirs = pd.read_csv(tmp_path / "resumed" / name), pd.read_csv(tmp_path / "whole" / name)
        if name == "fills.csv":  # listed by client order id, which carries the live clock
            ours, theirs = (
                f.drop(columns=["client_order_id", "event_id"]).sort_values(["ts_event", "trade_id"])
                for f in (ours, theirs)
            )
            ours, theirs = ours.reset_index(drop=True), theirs.reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, theirs, obj=name)
    assert resumed.summary["final_nav"] == whole.summary["final_nav"]
    assert not (tmp_path / "state").exists()
    return checkpoint


def test_a_resumed_basis_run_ends_as_an_uninterrupted_one(built_signals, tmp_path):
    """Rebalances across the August 2024 crash after the stop."""
    run = load_run_config(mode_file_path("btc_basis"), start="2024-07-20", end="2024-08-19")
    _assert_resumes_as_uninterrupted(run, built_signals[0], tmp_path, "2024-08-01")


def test_a_resumed_directional_run_keeps_its_resting_stop_loss_and_take_profit(built_signals, tmp_path):
    """A long entered on 2024-11-30 is held across the stop with its two protective orders resting
    on the venue; the resumed strategy still knows them and cancels the other when one fills."""
    run = load_run_config(
        mode_file_path("ml_btc_directional_usdt_margin"), start="2024-11-20", end="2024-12-15"
    )
    checkpoint = _assert_resumes_as_uninterrupted(run, built_signals[0], tmp_path, "2024-12-01")
    protective = json.loads(checkpoint.strategy["directional"])["protective"]
    assert sorted(protective.values()) == ["stop_loss", "take_profit"]


def test_a_resumed_leveraged_run_keeps_the_protocol_parameters(catalog_dir, tmp_path):
    """The e-mode parameters open the stream, long before the stop: the strategy rejoins with them
    from its saved state (it re-levers on 2024-10-06, after the stop, at their λ)."""
    run = load_run_config(mode_file_path("eth_leveraged"), start="2024-09-25", end="2024-10-10")
    checkpoint = _assert_resumes_as_uninterrupted(run, catalog_dir, tmp_path, "2024-10-01")
    assert "aave_emode" in checkpoint.strategy


def test_a_tampered_journal_is_refused(catalog_dir, tmp_path):
    run = load_run_config(mode_file_path("btc_basis"), start="2024-07-20", end="2024-08-19")
    _stopped_run(run, catalog_dir, tmp_path, "2024-08-01")
    path = tmp_path / "state" / CHECKPOINT_FILE
    values = json.loads(path.read_text())
    values["journal"][0][0] += 1  # the first order, moved to the next delivery
    path.write_text(json.dumps(values))
    with pytest.raises(JournalMismatch):
        run_paper(run, catalog_dir, tmp_path / "resumed", state_dir=tmp_path / "state", resume=True)
    assert not (tmp_path / "resumed").exists()
    assert path.exists()  # kept: the state is the user's to inspect


def test_a_venue_book_unlike_the_saved_one_restarts_halted(catalog_dir, tmp_path):
    """The restart gate: the saved book says the Binance short was half what the venues hold (as
    if someone had traded on the account while the node was down): the strategy rejoins HALTED,
    naming the difference, and trades nothing more."""
    run = load_run_config(mode_file_path("btc_basis"), start="2024-07-20", end="2024-08-19")
    checkpoint = _stopped_run(run, catalog_dir, tmp_path, "2024-08-01")
    saved = json.loads(checkpoint.strategy["yield_strategy"])
    perp = "BTCUSDT-PERP.BINANCE"
    held = saved["book"][perp]
    assert held < 0  # the short the basis holds
    saved["book"][perp] = held / 2
    checkpoint.strategy["yield_strategy"] = json.dumps(saved).encode()
    checkpoint.save(tmp_path / "state")

    run_paper(run, catalog_dir, tmp_path / "resumed", state_dir=tmp_path / "state", resume=True)
    status = json.loads((tmp_path / "resumed" / "status.json").read_text())
    assert status["state"] == "HALTED"
    assert status["halted"].startswith("the venues' book differs from the saved state")
    assert f"{perp}: saved {held / 2:+.8g}, venue {held:+.8g}" in status["halted"]
    actions = pd.read_csv(tmp_path / "resumed" / "actions.csv", parse_dates=["ts"])
    assert not (actions["ts"] > pd.Timestamp(checkpoint.stopped_at_ns, tz="UTC")).any()
    fills = pd.read_csv(tmp_path / "resumed" / "fills.csv", parse_dates=["ts_event"])
    assert not (
        fills["ts_event"] > pd.Timestamp(checkpoint.stopped_at_ns, tz="UTC")
    ).any()  # nothing flattened
