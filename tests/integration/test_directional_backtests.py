"""The ML directional modes over 2024-01 → 2025-09 on real bars and the project's own predictions.

The catalog copy carries the predictions ``python -m signals build`` writes. The checks: every
trade starts at a fresh confident call of its side (no look-ahead, nothing acted below the
threshold), every position carries its bracket at the sd-derived levels, the trade counts match
the fills, the coin-margined run's NAV is in BTC, and NAV = sum of attribution.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from adapters.config import ConfigError
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest
from backtesting.modes import MODES
from backtesting.runner import RunResult, run_backtest
from signals.store import read_predictions
from strategies.directional import bracket_levels
from tests.integration.test_defi_backtests import assert_reconciled, nav_of

pytestmark = pytest.mark.integration

USDT_MODE, BTC_MODE = "ml_btc_directional_usdt_margin", "ml_btc_directional_btc_margin"
PERPS = {USDT_MODE: "BTCUSDT-PERP.BINANCE", BTC_MODE: "BTCUSD-PERP.BINANCE"}


@pytest.fixture(scope="module", params=[USDT_MODE, BTC_MODE])
def ml_run(request, built_signals, tmp_path_factory) -> RunResult:
    catalog, _ = built_signals
    run = load_run_config(mode_file_path(request.param))
    return run_backtest(run, catalog, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def calls(built_signals) -> pd.DataFrame:
    catalog, _ = built_signals
    rows = read_predictions(catalog, "BTCUSDT-PERP.BINANCE")
    frame = pd.DataFrame(
        {
            "signal": [p.signal for p in rows],
            "confidence": [p.confidence for p in rows],
            "sd": [p.sd for p in rows],
        },
        index=pd.to_datetime([p.ts_event for p in rows], utc=True),
    )
    return frame


def test_both_modes_are_registered_for_mode_all():
    assert {USDT_MODE, BTC_MODE} <= set(MODES)
    assert MODES[BTC_MODE].share_class == "BTC"


def test_results_reconcile_and_report_trades_exposure_and_the_model(ml_run):
    assert_reconciled(ml_run, 1e-5)
    summary = json.loads((ml_run.out_dir / "summary.json").read_text())
    assert summary["start"] == "2024-01-01T00:00:00+00:00" and summary["end"].startswith(
        "2025-09-2"
    )  # the YAML window
    trades, calls = summary["trades"], summary["calls"]
    assert trades["entries"] == trades["long"] + trades["short"] > 10
    assert calls["confident"] == 891 and calls["threshold"] == 0.8  # the model's own count
    model = summary["model"]["BTCUSDT-PERP.BINANCE"]
    assert model["confident_counts"] == {"short": 126, "neutral": 632, "long": 133}
    assert 0 < summary["exposure_time"] < 1
    nav = nav_of(ml_run)
    held = nav["perp_notional_binance"].iloc[1:] > 0
    assert summary["exposure_time"] == pytest.approx(held.mean())
    assert (ml_run.out_dir / "actions.csv").is_file() and (ml_run.out_dir / "tearsheet.html").is_file()


def test_every_entry_acts_on_a_fresh_confident_call_of_its_side(ml_run, calls):
    actions = pd.read_csv(ml_run.out_dir / "actions.csv", parse_dates=["ts"])
    decisions = actions[actions["action"].str.startswith("go_")]
    assert len(decisions) > 0
    side = {"go_long": 1, "go_short": -1, "go_flat": 0}
    for row in decisions.itertuples():
        call = calls.loc[row.ts]  # a call stamped exactly at the decision: nothing from later
        assert call["confidence"] >= 0.8 and call["signal"] == side[row.action], row
    # the first call comes after the model's 90 days of history: flat before it
    assert decisions["ts"].min() >= calls.index.min()


def test_every_position_is_bracketed_at_its_sd_levels_and_exits_match_the_fills(ml_run, calls):
    perp = PERPS[ml_run.summary["mode"]]
    orders = pd.read_csv(ml_run.out_dir / "orders.csv")
    orders = orders[orders["instrument_id"] == perp]
    fills = pd.read_csv(ml_run.out_dir / "fills.csv", parse_dates=["ts_event"])
    fills = fills[fills["instrument_id"] == perp]
    entry_ids = orders[orders["tags"].astype(str).str.contains("ENTRY")]["client_order_id"]
    entries = fills[fills["client_order_id"].isin(entry_ids)].drop_duplicates("client_order_id")
    assert len(entries) == ml_run.summary["trades"]["entries"]
    stops = orders[orders["type"] == "STOP_MARKET"]
    targets = orders[orders["type"] == "LIMIT"]
    assert len(stops) == len(targets) == len(entries)
    for entry, stop, target in zip(
        entries.itertuples(), stops.itertuples(), targets.itertuples(), strict=True
    ):
        call = calls.loc[entry.ts_event]
        side = 1 if entry.order_side == "BUY" else -1
        want_stop, want_target = bracket_levels(side, float(entry.last_px), call["sd"], 2.0, 3.0)
        assert float(stop.trigger_price) == pytest.approx(want_stop, abs=0.1)  # the 0.1 tick
        assert float(target.price) == pytest.approx(want_target, abs=0.1)
    filled = fills.groupby("order_type").size()
    assert filled.get("STOP_MARKET", 0) == ml_run.summary["trades"]["stop_loss_exits"]
    assert filled.get("LIMIT", 0) == ml_run.summary["trades"]["take_profit_exits"]


def test_the_venue_keeps_its_book_in_the_share_class_currency(ml_run):
    """USDT-margined: the Binance account is USDT, NAV in USDT from 100,000 sent from the wallet;
    coin-margined: the account is BTC from the 1 BTC pre-funded, NAV in BTC, no USDT anywhere."""
    summary = ml_run.summary
    share = summary["share_class"]
    assert summary["initial_nav"] == pytest.approx(summary["capital"])
    account = pd.read_csv(ml_run.out_dir / "account_binance.csv")
    assert set(account["currency"]) == {share}
    nav = nav_of(ml_run)
    last = nav.iloc[-1]
    if share == "BTC" and last["perp_notional_binance"] == 0:  # flat at the end: NAV = the BTC balance
        assert last["nav"] == pytest.approx(float(account["total"].iloc[-1]), abs=1e-8)
    if share == "BTC":  # the venue has no COIN-M history of its own: the proxy is reported
        assert any("BTCUSD-PERP.BINANCE" in w for w in summary["data_warnings"])


def test_the_coin_margined_mode_refuses_capital_flows(built_signals, tmp_path):
    import yaml

    catalog, _ = built_signals
    raw = yaml.safe_load(mode_file_path(BTC_MODE).read_text())
    raw["capital_flows"] = [{"at": "2024-06-01", "deposit": 0.5}]
    path = tmp_path / "flows.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="pre-funded on BINANCE"):
        build_backtest(load_run_config(path), catalog)


def test_a_catalog_without_predictions_says_how_to_build_them(catalog_dir):
    run = load_run_config(mode_file_path(USDT_MODE), start="2024-05-01", end="2024-05-10")
    with pytest.raises(FileNotFoundError, match="python -m signals build"):
        build_backtest(run, catalog_dir)


def test_the_cli_builds_missing_predictions_before_the_run(catalog_dir, tmp_path):
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "catalog"
    shutil.copytree(catalog_dir, copy)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "run_backtest.py",
            "--mode",
            USDT_MODE,
            "--catalog",
            str(copy),
            "--out",
            str(out),
            "--start",
            "2024-06-01",
            "--end",
            "2024-07-01",
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "building model predictions for BTCUSDT-PERP.BINANCE" in done.stdout
    assert (out / "summary.json").is_file()


def test_investor_flows_scale_the_position_and_its_bracket_and_pay_out(built_signals, tmp_path):
    """A deposit, a withdrawal while long (the position and its stop/target shrink by the same
    fraction) and a full exit; the exit leaves only gas money and the strategy stops managing."""
    import yaml

    catalog, _ = built_signals
    raw = yaml.safe_load(mode_file_path(USDT_MODE).read_text())
    raw["capital_flows"] = [
        {"at": "2024-05-01", "deposit": 50_000},
        {"at": "2024-06-07T06:00", "withdraw": 40_000},  # a long from 2024-06-06 17:00 is open
        {"at": "2024-08-20", "withdraw": "all"},
    ]
    path = tmp_path / "flows.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = run_backtest(
        load_run_config(path, start="2024-04-01", end="2024-09-01"), catalog, tmp_path / "out"
    )
    actions = result.summary["actions"]
    assert (actions["entry_partial"], actions["exit_partial"], actions["exit_full"]) == (1, 1, 1)
    assert actions["gas_top_up"] == 0 and result.summary["rejection_count"] == 0
    flows = pd.read_csv(result.out_dir / "capital_flows.csv")
    paid = flows[flows["kind"] == "withdrawal"]["amount"].tolist()
    assert paid[0] == pytest.approx(40_000, abs=0.01)
    orders = pd.read_csv(result.out_dir / "orders.csv")
    orders = orders[orders["instrument_id"] == PERPS[USDT_MODE]]
    at = pd.Timestamp("2024-06-07T06:00Z").value
    entry = orders[orders["tags"].astype(str).str.contains("ENTRY") & (orders["ts_init"] < at)].iloc[-1]
    cut = orders[(orders["ts_init"] == at) & orders["is_reduce_only"] & (orders["type"] == "MARKET")].iloc[0]
    protective = orders[
        orders["type"].isin(["STOP_MARKET", "LIMIT"]) & (orders["ts_init"] == entry["ts_init"])
    ]
    assert len(protective) == 2  # placed when the entry filled, in the same hour
    for quantity in protective["quantity"]:
        assert float(quantity) == pytest.approx(float(entry["quantity"]) - float(cut["quantity"]))
    nav = nav_of(result)
    assert nav["nav"].iloc[-1] < 50  # gas money only
    assert_reconciled(result, 1e-5)
