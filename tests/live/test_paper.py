"""Paper mode is the proof that a strategy is live-ready: the same mode, config and window run in
a live ``TradingNode`` fed by a replay of the catalog must trade exactly as the backtest does."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
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
        ("ml_btc_directional_usdt_margin", "2024-08-05", "2024-08-19"),  # calls, brackets
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
    nav_paper = pd.read_csv(tmp_path / "paper" / "nav.csv")
    nav_backtest = pd.read_csv(tmp_path / "backtest" / "nav.csv")
    assert len(nav_paper) == len(nav_backtest)  # the same hours sampled
    assert paper.summary["reconciliation_error"] == pytest.approx(
        backtest.summary["reconciliation_error"], abs=1e-9
    )


def test_ctrl_c_stops_a_paper_run_and_writes_nothing(catalog_dir, tmp_path):
    """SIGINT while the replay runs (paced at 1 data hour per second): exit 130, no results folder,
    no staging folder left beside it."""
    out = tmp_path / "paper"
    command = [
        sys.executable, str(PROJECT / "run_live.py"), "--mode", "btc_basis", "--env", "paper",
        "--start", "2024-06-01", "--end", "2024-06-15", "--speed", "3600",
        "--catalog", str(catalog_dir), "--use-existing-catalog", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until the replay is running
        if "replaying" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert list(tmp_path.iterdir()) == []
