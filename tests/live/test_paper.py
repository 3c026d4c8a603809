"""Paper mode is the proof that a strategy is live-ready: the same mode, config and window run in
a live ``TradingNode`` fed by a replay of the catalog must trade exactly as the backtest does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from adapters.cex.instruments import live_account_id
from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from live.checkpoint import PaperCheckpoint
from live.runner import run_paper

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[2]


def _fills(out) -> pd.DataFrame:
    """The run's fills in time order (a report lists them by order creation, which paper stamps
    with the live clock)."""
    columns = ["ts_event", "instrument_id", "order_side", "last_qty", "last_px"]
    return pd.read_csv(out / "fills.csv")[columns].sort_values(columns).reset_index(drop=True)


@pytest.mark.parametrize(
    ("mode", "start", "end"),
    [
        ("btc_basis", "2024-06-01", "2024-06-15"),  # three CEX venues, transfers, funding
        ("eth_leveraged", "2024-08-05", "2024-08-19"),  # the atomic flash-loan loop on the chain
        ("usdt_eth_staking_hedged_simple", "2024-08-05", "2024-08-19"),  # chain + CEX hedges
        ("usdt_eth_staking_hedged_simple", "2025-03-25", "2025-04-08"),  # a margin release (Apr 7)
        # calls; a take-profit and a stop-loss fill (protective orders placed after the entry's fill)
        ("ml_btc_directional_usdt_margin", "2024-05-12", "2024-05-26"),
    ],
)
def test_a_paper_run_trades_exactly_as_the_backtest(mode, start, end, built_signals, tmp_path):
    catalog_dir = built_signals[0]  # the catalog with the model's predictions
    run = load_run_config(mode_file_path(mode), start=start, end=end)
    backtest = run_backtest(run, catalog_dir, tmp_path / "backtest")
    run = load_run_config(mode_file_path(mode), start=start, end=end)  # a fresh strategy instance
    paper = run_paper(run, catalog_dir, tmp_path / "paper")
    assert len(_fills(tmp_path / "backtest")) > 0
    pd.testing.assert_frame_equal(_fills(tmp_path / "paper"), _fills(tmp_path / "backtest"))
    assert paper.summary["final_nav"] == pytest.approx(backtest.summary["final_nav"], rel=5e-4)
    assert paper.summary["rejections"] == backtest.summary["rejections"]
    for report in (tmp_path / "paper").glob("account_*.csv"):  # the live adapters' account ids
        account = pd.read_csv(report).iloc[-1]
        base = account["base_currency"] if isinstance(account["base_currency"], str) else "USDT"
        live_id = live_account_id(report.stem.removeprefix("account_").upper(), base)
        assert live_id is None or account["account_id"] == str(live_id), report.name
    nav_paper = pd.read_csv(tmp_path / "paper" / "nav.csv")
    nav_backtest = pd.read_csv(tmp_path / "backtest" / "nav.csv")
    assert len(nav_paper) == len(nav_backtest)  # the same hours sampled
    assert paper.summary["reconciliation_error"] == pytest.approx(
        backtest.summary["reconciliation_error"], abs=1e-9
    )


def test_ctrl_c_saves_the_state_and_resume_finishes_the_run(catalog_dir, tmp_path):
    """SIGINT while the replay runs (paced at 1 data hour per second): exit 130, no results folder,
    the state saved beside it; the same command with --resume (full speed) finishes the run with
    the backtest's fills and NAV, and removes the state."""
    out, state = tmp_path / "paper", tmp_path / "paper.state"
    command = [
        sys.executable, str(PROJECT / "run_live.py"), "--mode", "btc_basis", "--env", "paper",
        "--start", "2024-06-01", "--end", "2024-06-15",
        "--catalog", str(catalog_dir), "--use-existing-catalog", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [*command, "--speed", "3600"], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stdout:  # wait until the replay is running
        if "replaying" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and f"state saved in {state}" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper.state"]

    resumed = subprocess.run([*command, "--resume"], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at" in resumed.stdout
    assert not state.exists()
    run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-15")
    backtest = run_backtest(run, catalog_dir, tmp_path / "backtest")
    pd.testing.assert_frame_equal(_fills(out), _fills(tmp_path / "backtest"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_nav"] == pytest.approx(backtest.summary["final_nav"], rel=1e-12)


def test_resume_refuses_another_runs_state_and_a_missing_one(catalog_dir, tmp_path):
    out = tmp_path / "paper"
    base = [
        sys.executable, str(PROJECT / "run_live.py"), "--mode", "btc_basis", "--env", "paper",
        "--start", "2024-06-01", "--end", "2024-06-15", "--resume",
        "--catalog", str(catalog_dir), "--use-existing-catalog", "--out", str(out),
    ]  # fmt: skip
    missing = subprocess.run(base, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert "no saved paper state" in missing.stderr
    run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-15")
    PaperCheckpoint(run.identity(), "YieldStrategy-000", 10, 10, 0, {}, []).save(tmp_path / "paper.state")
    other = subprocess.run(
        [*base, "--capital", "5000"], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert other.returncode == 2
    assert "belongs to a different run (differs in capital)" in other.stderr
    assert not out.exists()
