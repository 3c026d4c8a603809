"""Full btc_basis / eth_basis backtests on the real history, checked against independent numbers,
with Bybit and OKX in each account mode (unified, as shipped, and classic)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import RunResult, run_backtest
from portfolio.attribution import CATEGORIES
from tests.integration.independent import expected_funding
from tests.venue_modes import venue_dir_in_mode

pytestmark = pytest.mark.integration

WINDOW = ("2024-05-12", "2025-09-18")
RESULT_FILES = (
    "summary.json",
    "nav.csv",
    "attribution.csv",
    "orders.csv",
    "fills.csv",
    "positions.csv",
    "account_binance.csv",
    "account_bybit.csv",
    "account_okx.csv",
    "account_ethereum.csv",
    "transfers.csv",
    "funding.csv",
    "liquidations.csv",
    "gas.csv",
    "capital_flows.csv",
    "benchmarks.csv",
    "tearsheet.html",
    "config.yaml",
)


def _run(
    catalog_dir: Path,
    out: Path,
    mode: str,
    start: str,
    end: str,
    config: Path | None = None,
    venue_config_dir: Path | None = None,
) -> RunResult:
    extra = {"venue_config_dir": venue_config_dir} if venue_config_dir is not None else {}
    run = load_run_config(config or mode_file_path(mode), start=start, end=end, capital=100_000, **extra)
    return run_backtest(run, catalog_dir, out)


@pytest.fixture(
    scope="module",
    params=[
        ("btc_basis", "unified"),
        ("btc_basis", "classic"),
        ("eth_basis", "unified"),
        ("eth_basis", "classic"),
    ],
    ids=lambda p: "-".join(p),
)
def full_run(request, catalog_dir, tmp_path_factory) -> RunResult:
    mode, account_mode = request.param
    venues = venue_dir_in_mode(tmp_path_factory.mktemp(f"venues-{account_mode}"), account_mode)
    out = tmp_path_factory.mktemp(f"{mode}-{account_mode}")
    return _run(catalog_dir, out, mode, *WINDOW, venue_config_dir=venues)


def test_internal_transfers_only_where_the_account_is_classic(full_run):
    """Binance is classic in both runs; Bybit and OKX move USDT between spot and futures only in
    classic mode: a unified account's coins are the short's margin."""
    modes = full_run.summary["account_modes"]
    assert modes["BINANCE"] == "classic" and modes["BYBIT"] == modes["OKX"]
    transfers = pd.read_csv(full_run.out_dir / "transfers.csv")
    internal = transfers[transfers["kind"].isin(["to_futures", "to_spot"])]
    moved = set(internal.loc[internal["status"] == "arrived", "venue"])
    if modes["BYBIT"] == "unified":
        assert moved == {"BINANCE"}
    else:
        assert moved == {"BINANCE", "BYBIT", "OKX"}
    assert internal["status"].isin(["requested", "submitted", "arrived"]).all()  # none refused


def test_results_folder_is_complete(full_run):
    for name in RESULT_FILES:
        assert (full_run.out_dir / name).is_file(), name
    summary = json.loads((full_run.out_dir / "summary.json").read_text())
    for key in (
        "mode",
        "share_class",
        "start",
        "end",
        "initial_nav",
        "final_nav",
        "total_return",
        "apy",
        "annual_volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "attribution",
        "reconciliation_error",
        "proxies",
        "data_warnings",
    ):
        assert key in summary, key
    assert summary["share_class"] == "USDT"
    assert set(summary["attribution"]) == set(CATEGORIES)
    assert summary["initial_nav"] == pytest.approx(100_000.0)


def test_nav_equals_the_sum_of_attribution(full_run):
    nav = pd.read_csv(full_run.out_dir / "nav.csv", index_col=0, parse_dates=True)
    summary = full_run.summary
    change = nav["nav"].iloc[-1] - nav["nav"].iloc[0] - nav["flow"].iloc[1:].sum()
    assert change == pytest.approx(sum(summary["attribution"].values()), abs=1e-4)
    assert abs(summary["reconciliation_error"]) < 1e-4
    assert nav["residual"].abs().max() < 1e-6  # every hour reconciles, not just the total
    daily = pd.read_csv(full_run.out_dir / "attribution.csv", index_col=0)
    assert daily[list(CATEGORIES)].to_numpy().sum() == pytest.approx(change, abs=1e-4)


def test_trading_fees_are_the_fills_commissions_a_coin_one_at_its_fill_price(full_run):
    """Binance takes a spot buy's fee in the coin bought (``spot_fee_currency: received``); every
    other fee is in USDT. The attribution counts the coins at the fill's price."""
    fills = pd.read_csv(full_run.out_dir / "fills.csv")
    parts = fills["commission"].str.split()
    amount, currency = parts.str[0].astype(float), parts.str[1]
    in_coin = fills[currency != "USDT"]
    asset = "BTC" if full_run.summary["mode"] == "btc_basis" else "ETH"
    assert set(in_coin["instrument_id"]) == {f"{asset}USDT.BINANCE_SPOT"}
    assert set(in_coin["order_side"]) == {"BUY"} and set(currency) == {"USDT", asset}
    expected = amount[currency == "USDT"].sum() + (amount * fills["last_px"])[currency != "USDT"].sum()
    assert full_run.summary["attribution"]["trading_fees"] == pytest.approx(-expected, rel=1e-9)


def test_funding_matches_a_sum_computed_from_the_raw_files_and_the_runs_positions(full_run, data_dir):
    asset = "BTC" if full_run.summary["mode"] == "btc_basis" else "ETH"
    start, end = (pd.Timestamp(t, tz="UTC") for t in WINDOW)
    expected = expected_funding(data_dir, full_run.out_dir / "fills.csv", asset, start, end)
    assert set(expected) == {"BINANCE", "BYBIT", "OKX"}
    got = full_run.summary["funding_by_venue"]
    for venue, amount in expected.items():
        assert got[venue] == pytest.approx(amount, rel=1e-9, abs=1e-6), venue
    assert full_run.summary["attribution"]["funding"] == pytest.approx(sum(expected.values()), abs=1e-6)
    # the shorts collected funding: positive on every venue over this window
    assert all(amount > 0 for amount in expected.values())


def test_funding_yield_on_notional_is_in_the_documented_range(full_run):
    """DOMAIN.md: mean funding × 1095 ≈ 5–8 %/yr per venue on notional over this window."""
    funding = pd.read_csv(full_run.out_dir / "funding.csv")
    notional = (funding["signed_base_qty"].abs() * funding["mark"]).groupby(funding["venue"]).mean()
    days = (pd.Timestamp(WINDOW[1]) - pd.Timestamp(WINDOW[0])).days
    apr = funding.groupby("venue")["payment"].sum() / notional * 365 / days
    assert ((apr > 0.03) & (apr < 0.11)).all(), apr.to_dict()


def test_the_book_stays_hedged_and_is_rebalanced_by_resizing(full_run):
    summary = full_run.summary
    assert summary["liquidations"] == 0
    assert summary["rejection_count"] == 0
    assert summary["actions"]["entry_full"] == 1
    assert summary["actions"]["rebalance"] >= 3  # BTC ≈61k→116k, ETH ≈2.9k→4.5k with a crash in between
    nav = pd.read_csv(full_run.out_dir / "nav.csv", index_col=0, parse_dates=True)
    asset = "btc" if summary["mode"] == "btc_basis" else "eth"
    invested = nav[nav["gross_exposure_usd"] > 0]
    price = invested["net_delta_usd"].abs()  # only the asset and the small gas reserve carry delta
    drift = price / invested["gross_exposure_usd"]
    assert (drift < 0.005).mean() > 0.995
    positions = pd.read_csv(full_run.out_dir / "positions.csv")
    perps = positions[positions["instrument_id"].str.contains("PERP|LINEAR|SWAP")]
    assert len(perps) == 3, "one position per perp: rebalancing resizes, it never closes and reopens"
    # outside the hours a resize is in flight, the legs match to the coarser quantity step per venue
    # (BTC 0.001, ETH 0.01); the wallet's gas ETH is the only other ETH holding
    unhedged = nav[f"net_delta_{asset}"] - (nav["wallet_eth"] if asset == "eth" else 0.0)
    step = 0.001 if asset == "btc" else 0.01
    assert (unhedged.abs() <= 3 * step + 1e-9).mean() > 0.995


def test_runs_are_deterministic(catalog_dir, tmp_path):
    first = _run(catalog_dir, tmp_path / "a", "btc_basis", "2024-07-01", "2024-09-01")
    second = _run(catalog_dir, tmp_path / "b", "btc_basis", "2024-07-01", "2024-09-01")
    for name in ("nav.csv", "attribution.csv", "funding.csv", "transfers.csv"):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes(), name
    columns = ["instrument_id", "order_side", "last_qty", "last_px", "commission", "ts_event"]
    fills = [pd.read_csv(r.out_dir / "fills.csv")[columns] for r in (first, second)]
    pd.testing.assert_frame_equal(*fills)
    strip = ("wall_seconds",)
    assert {k: v for k, v in first.summary.items() if k not in strip} == {
        k: v for k, v in second.summary.items() if k not in strip
    }
