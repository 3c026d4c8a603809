"""The live safety layer in a paper node: the order-rate cap (as in the backtest), the kill switch
through the CLI, the status file against the run's own results, and the stale-data halt."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pandas as pd
import pytest
from nautilus_trader.model.data import Bar
from nautilus_trader.model.identifiers import InstrumentId

import live.runner
from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from live.checkpoint import PaperCheckpoint
from live.runner import run_paper

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[2]
DIRECTIONAL = "ml_btc_directional_usdt_margin"
POOL = InstrumentId.from_str("ETHUSDT-UNIV3.ETHEREUM")  # a feed the directional mode needs, not a leg


def _fills(out: Path) -> pd.DataFrame:
    columns = ["ts_event", "instrument_id", "order_side", "last_qty", "last_px"]
    return pd.read_csv(out / "fills.csv")[columns].sort_values(columns).reset_index(drop=True)


def _without_clock(reasons: list[str]) -> list[str]:
    return [re.sub(r"O-\d{8}-\d{6}-", "O-", reason) for reason in reasons]


def test_the_rate_cap_refuses_the_same_orders_in_paper_as_in_the_backtest(catalog_dir, tmp_path):
    def capped():
        run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-04")
        run.strategy = msgspec.structs.replace(run.strategy, max_orders_per_minute=2)
        return run

    backtest = run_backtest(capped(), catalog_dir, tmp_path / "backtest")
    paper = run_paper(capped(), catalog_dir, tmp_path / "paper", state_dir=tmp_path / "paper.state")
    refused = [r for r in backtest.summary["rejections"] if "max_orders_per_minute 2" in r]
    assert refused  # the cap bound: the entry sends more than two orders in its first minute
    # client order ids carry the node's clock (paper: the wall clock): compared without it
    assert _without_clock(paper.summary["rejections"]) == _without_clock(backtest.summary["rejections"])
    pd.testing.assert_frame_equal(_fills(tmp_path / "paper"), _fills(tmp_path / "backtest"))


def test_the_status_file_reports_the_runs_own_figures(built_signals, tmp_path):
    run = load_run_config(mode_file_path(DIRECTIONAL), start="2024-05-13", end="2024-05-16")
    lines: list[str] = []
    out, state = tmp_path / "paper", tmp_path / "paper.state"
    run_paper(run, built_signals[0], out, progress=lines.append, state_dir=state, health_minutes=60)
    status = json.loads((out / "status.json").read_text())
    assert not state.exists()  # the run folder's copy moved into the results
    nav = pd.read_csv(out / "nav.csv", index_col="timestamp", parse_dates=["timestamp"])
    at = pd.Timestamp(status["nav_at"])
    assert at == nav.index[-1]
    assert status["nav"] == pytest.approx(nav.loc[at, "nav"], rel=1e-12)
    assert status["funding_earned"] == pytest.approx(nav["funding"].sum(), rel=1e-12)
    assert status["funding_earned"] < 0  # the long paid funding over these days
    assert status["margin_ratio"]["BINANCE"] == pytest.approx(nav.loc[at, "margin_ratio_binance"])
    positions = pd.read_csv(out / "positions.csv")
    held = positions[positions["ts_closed"].isna() & ~positions["instrument_id"].str.endswith(".ETHEREUM")]
    open_ids = sorted(held["instrument_id"])
    assert sorted(p["instrument"] for p in status["positions"]) == open_ids
    assert status["state"] == "RUNNING" and status["stale_feeds"] == [] and status["halted"] is None
    assert set(status["feeds"]) == {
        "bars BTCUSDT-PERP.BINANCE", "bars ETHUSDT-UNIV3.ETHEREUM", "funding BTCUSDT-PERP.BINANCE",
        "gas price", "model calls",
    }  # fmt: skip
    health = [line for line in lines if line.startswith("health ")]
    assert len(health) >= 72  # one per data hour of the three days (60 minutes of data time)
    assert f"NAV {status['nav']:,.2f} USDT" in health[-1]


def test_a_silent_feed_holds_back_entries_until_it_speaks_again(built_signals, monkeypatch, tmp_path):
    """The pool's bars withheld for 13 hours: the directional mode's long call at 2024-05-14 06:00
    (taken by the uninterrupted run) is held back, and the health lines say why."""
    gap = (pd.Timestamp("2024-05-13 23:30", tz="UTC").value, pd.Timestamp("2024-05-14 12:30", tz="UTC").value)
    read_data = live.runner.read_data

    def withheld(plan):
        data = read_data(plan)
        points = data.stream()
        data.stream = lambda: [
            d
            for d in points
            if not (
                isinstance(d, Bar) and d.bar_type.instrument_id == POOL and gap[0] <= d.ts_event <= gap[1]
            )
        ]
        return data

    def paper(name: str) -> tuple[pd.DataFrame, list[str]]:
        run = load_run_config(mode_file_path(DIRECTIONAL), start="2024-05-13", end="2024-05-16")
        lines: list[str] = []
        run_paper(
            run,
            built_signals[0],
            tmp_path / name,
            progress=lines.append,
            state_dir=tmp_path / f"{name}.state",
        )
        actions = pd.read_csv(tmp_path / name / "actions.csv", parse_dates=["ts"])
        return actions, lines

    whole, _ = paper("whole")
    long_at = pd.Timestamp("2024-05-14 06:00", tz="UTC")
    assert long_at in set(whole.loc[whole["action"] == "go_long", "ts"].dt.round("h"))
    monkeypatch.setattr(live.runner, "read_data", withheld)
    gapped, lines = paper("gapped")
    in_gap = gapped[
        (gapped["ts"] >= pd.Timestamp(gap[0] + 3 * 3_600_000_000_000, tz="UTC"))
        & (gapped["ts"] <= pd.Timestamp(gap[1], tz="UTC"))
    ]
    assert not in_gap["action"].isin(["go_long", "go_short", "entry_full", "entry_partial"]).any()
    assert long_at not in set(gapped.loc[gapped["action"] == "go_long", "ts"].dt.round("h"))
    stale = [line for line in lines if "STALE: bars ETHUSDT-UNIV3.ETHEREUM silent for" in line]
    assert stale and all("STALE_DATA" in line and line.endswith("no new entries") for line in stale)
    assert "2024-05-14 06:00" in " ".join(stale)
    after = [line for line in lines if line.startswith("health 2024-05-14 14:")]
    assert after and "RUNNING" in after[0]  # the pool spoke again: entries allowed


def _command(catalog: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, str(PROJECT / "run_live.py"), "--mode", DIRECTIONAL, "--env", "paper",
        "--start", "2024-05-14", "--end", "2024-05-17", "--catalog", str(catalog),
        "--use-existing-catalog", "--out", str(out), *extra,
    ]  # fmt: skip


def _wait_for_status(path: Path, ready, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            status = None
        if status is not None and ready(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{path} never showed the awaited status")


@pytest.mark.parametrize("flatten", [False, True])
def test_halt_through_the_cli_cancels_the_orders_and_flattens_when_asked(built_signals, tmp_path, flatten):
    """The directional long with its resting stop-loss and take-profit (2024-05-14 06:00 →
    05-15 20:00), replayed at a data hour a second; ``run_live.py --halt`` while it is held. The
    run resumed from its saved state stays HALTED to the end of the window."""
    out, state = tmp_path / "paper", tmp_path / "paper.state"
    node = subprocess.Popen(
        _command(built_signals[0], out, "--speed", "3600", "--health-minutes", "60"),
        cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        held = _wait_for_status(state / "status.json", lambda s: s["open_orders"] == 2 and s["positions"])
        assert held["state"] == "RUNNING"
        halt = subprocess.run(
            [sys.executable, str(PROJECT / "run_live.py"), "--halt", "--out", str(out), *(["--flatten"] if flatten else [])],
            cwd=PROJECT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert halt.returncode == 0, halt.stderr
        assert f"halt requested in {state / 'HALT'}" in halt.stdout
        _, stderr = node.communicate(timeout=120)
    finally:
        node.kill()
    assert node.returncode == 3, stderr
    assert "HALTED at" in stderr and "on request by run_live.py --halt" in stderr
    assert "open orders 0" in stderr
    assert ("positions none (flattened)" in stderr) == flatten
    assert ("BTCUSDT-PERP.BINANCE LONG" in stderr) == (not flatten)
    assert not out.exists()  # a halted run writes no results
    status = json.loads((state / "status.json").read_text())
    assert status["state"] == "HALTED" and status["open_orders"] == 0
    assert [p["instrument"] for p in status["positions"]] == ([] if flatten else ["BTCUSDT-PERP.BINANCE"])
    assert not (state / "HALT").exists()  # answered
    saved = json.loads(PaperCheckpoint.load(state).strategy["yield_strategy"])
    assert saved["halted"].startswith("requested by run_live.py --halt")
    assert saved["plan_in_progress"] is None
    halted_at = pd.Timestamp(status["time"])

    resumed = subprocess.run(
        _command(built_signals[0], out, "--resume"), cwd=PROJECT, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    actions = pd.read_csv(out / "actions.csv", parse_dates=["ts"])
    assert list(actions["action"]) == [
        "entry_full",
        "go_long",
    ]  # nothing after the halt (the TP never filled)
    assert (actions["ts"] < halted_at).all()
    assert json.loads((out / "status.json").read_text())["state"] == "HALTED"


def test_halt_needs_a_run_to_halt(tmp_path):
    missing = subprocess.run(
        [sys.executable, str(PROJECT / "run_live.py"), "--halt", "--out", str(tmp_path / "nothing")],
        cwd=PROJECT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2
    assert f"no run uses {tmp_path / 'nothing.state'} as its state folder" in missing.stderr
    assert not (tmp_path / "nothing.state").exists()
    stray = subprocess.run(
        [sys.executable, str(PROJECT / "run_live.py"), "--mode", DIRECTIONAL, "--flatten"],
        cwd=PROJECT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert stray.returncode == 2 and "--flatten goes with --halt" in stray.stderr
