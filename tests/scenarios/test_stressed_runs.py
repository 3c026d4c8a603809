"""Stressed runs on the real catalog against the same runs unstressed, over short windows: the
changes are the ones the scenario names, by amounts worked out from the catalog's own values."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.defi.data import AaveReserveSnapshot
from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import RunResult, run_backtest
from scenarios.config import Scenario, load_scenario


def run(
    catalog_dir: Path, out: Path, config: Path, start: str, end: str, scenario: Scenario | None
) -> RunResult:
    return run_backtest(load_run_config(config, start=start, end=end, scenario=scenario), catalog_dir, out)


def test_a_funding_inversion_flips_the_funding_earned_over_its_days(catalog_dir, tmp_path):
    scenario = load_scenario("funding_inversion")  # every venue, x -1, 3 days from 2024-06-03
    config, window = mode_file_path("btc_basis"), ("2024-06-01", "2024-06-10")
    plain = run(catalog_dir, tmp_path / "plain", config, *window, None)
    stressed = run(catalog_dir, tmp_path / "stressed", config, *window, scenario)

    start, end = (pd.Timestamp(ns, tz="UTC") for ns in scenario.window(scenario.file.transformations[0]))
    before, after = (pd.read_csv(r.out_dir / "funding.csv", parse_dates=["ts"]) for r in (plain, stressed))
    assert (
        after[["ts", "instrument_id", "signed_base_qty"]]
        == before[["ts", "instrument_id", "signed_base_qty"]]
    ).all(axis=None)  # the same positions: only the rates differ
    catalog = ParquetDataCatalog(str(catalog_dir))
    recorded = {
        (pd.Timestamp(f.ts_init, tz="UTC"), perp): float(f.rate)
        for perp in before["instrument_id"].unique()
        for f in catalog.query(FundingRateUpdate, identifiers=[perp], start=window[0], end=window[1])
    }
    inside = (before["ts"] > start) & (before["ts"] <= end)
    assert inside.sum() == 3 * 3 * 3  # three venues' 8-hourly prints over three days
    sign = inside.map({True: -1.0, False: 1.0})
    rates = [recorded[(ts, perp)] for ts, perp in zip(after["ts"], after["instrument_id"], strict=True)]
    assert after["rate"].to_numpy() == pytest.approx(sign * rates, abs=1e-15)
    # a short receives rate x mark x size: the inverted days pay it instead
    earned = -before["rate"] * before["mark"] * before["signed_base_qty"] * before["usdt_per_unit"]
    assert before["payment"].to_numpy() == pytest.approx(earned.to_numpy(), rel=1e-9)
    assert after["payment"].to_numpy() == pytest.approx((sign * earned).to_numpy(), rel=1e-9)
    flipped = -2 * earned[inside].sum()
    assert flipped < -100  # ~186 USDT of 242 earned over the 10 days
    change = stressed.summary["attribution"]["funding"] - plain.summary["attribution"]["funding"]
    assert change == pytest.approx(flipped, rel=1e-9)
    assert stressed.summary["final_nav"] - plain.summary["final_nav"] == pytest.approx(flipped, rel=1e-6)

    recorded_scenario = json.loads((stressed.out_dir / "summary.json").read_text())["scenario"]
    assert recorded_scenario["name"] == "funding_inversion"
    assert recorded_scenario["transformations"][0]["changed_points"] == inside.sum()
    assert "STRESSED: funding_inversion" in (stressed.out_dir / "tearsheet.html").read_text()
    assert "scenario" not in plain.summary


def test_a_withdrawal_during_an_lst_depeg_sells_at_the_depegged_rate(catalog_dir, tmp_path):
    depth = 0.06
    scenario_file = tmp_path / "weeth_depeg.yaml"
    scenario_file.write_text(
        yaml.safe_dump(
            {
                "name": "weeth_depeg",
                "description": "weETH 6% below its protocol rate for a week",
                "start": "2025-03-01",
                "transformations": [{"kind": "lst_depeg", "asset": "weETH", "depth": depth, "days": 7}],
            }
        )
    )
    mode = yaml.safe_load(mode_file_path("eth_leveraged").read_text())  # weETH looped on Aave
    mode["capital_flows"] = [{"at": "2025-03-05T12:00:00Z", "withdraw": 10}]
    config = tmp_path / "eth_leveraged.yaml"
    config.write_text(yaml.safe_dump(mode))
    window = ("2025-02-25", "2025-03-10")
    plain = run(catalog_dir, tmp_path / "plain", config, *window, None)
    stressed = run(catalog_dir, tmp_path / "stressed", config, *window, load_scenario(str(scenario_file)))

    fills = pd.read_csv(stressed.out_dir / "fills.csv", parse_dates=["ts_init"])
    sales = fills[(fills["instrument_id"] == "WEETHETH-CURVE.ETHEREUM") & (fills["order_side"] == "SELL")]
    assert len(sales) > 0
    bars = ParquetDataCatalog(str(catalog_dir)).bars(
        bar_types=["WEETH-ETHERFI.ETHEREUM-1-HOUR-LAST-EXTERNAL"], start=window[0], end=window[1]
    )
    protocol = {pd.Timestamp(b.ts_init, tz="UTC"): b.close.as_double() for b in bars}
    at_protocol = sum(qty * protocol[ts] for qty, ts in zip(sales["last_qty"], sales["ts_init"], strict=True))
    for px, ts in zip(sales["last_px"], sales["ts_init"], strict=True):
        assert px <= protocol[ts] * (1 - depth) + 1e-9  # the pool pays no more than the depegged rate
    # the LST is valued at its protocol rate: the depeg costs what the sales realise of it
    shortfall = plain.summary["final_nav"] - stressed.summary["final_nav"]
    assert shortfall == pytest.approx(depth * at_protocol, rel=0.02)
    assert stressed.summary["attribution"]["slippage"] < -0.98 * depth * at_protocol


def test_a_weth_borrow_spike_raises_the_interest_a_loop_pays_by_the_curves_rate(catalog_dir, tmp_path):
    scenario = load_scenario("weth_borrow_spike")  # 95 % utilization, kink 92 %, 3 days from 2025-02-01
    spike = scenario.file.transformations[0]
    config, window = mode_file_path("eth_leveraged"), ("2025-01-28", "2025-02-07")
    plain = run(catalog_dir, tmp_path / "plain", config, *window, None)
    stressed = run(catalog_dir, tmp_path / "stressed", config, *window, scenario)

    points = ParquetDataCatalog(str(catalog_dir)).query(
        AaveReserveSnapshot, identifiers=["AWETH-AAVE.ETHEREUM"], start=window[0], end=window[1]
    )
    snapshots = [p.data for p in points[:-1]]  # the days the window covers whole
    paid = {
        label: pd.read_csv(r.out_dir / "nav.csv", parse_dates=["timestamp"]).set_index("timestamp")[
            "borrow_interest"
        ]
        for label, r in (("plain", plain), ("stressed", stressed))
    }
    start = scenario.start
    for s in snapshots:
        day = pd.Timestamp(s.ts_init, tz="UTC")
        hours = paid["plain"].index[
            (paid["plain"].index > day) & (paid["plain"].index < day + pd.Timedelta(days=1))
        ]
        ratio = (paid["stressed"][hours] / paid["plain"][hours]).to_numpy()
        if start <= day < start + pd.Timedelta(days=spike.days):
            slope1 = s.variable_borrow_rate * spike.kink / (s.total_variable_debt / s.total_a_token)
            spiked = slope1 + 0.80 * (spike.utilization - spike.kink) / (1 - spike.kink)
            # the debt grows a little faster under the spike: at most ~0.3 % over its three days
            assert ratio == pytest.approx(spiked / s.variable_borrow_rate, rel=5e-3), day
            assert spiked > 10 * s.variable_borrow_rate
        elif day < start:
            assert ratio == pytest.approx(1.0, abs=1e-12), day
        else:  # afterwards the recorded rate on the larger debt
            assert ratio.min() > 1.0 and ratio.max() < 1.005, day
    extra = (
        stressed.summary["attribution"]["borrow_interest"] - plain.summary["attribution"]["borrow_interest"]
    )
    assert extra < -0.5  # ETH, on a 30 ETH loop


def test_a_binance_outage_holds_a_rebalance_until_the_venue_is_back(catalog_dir, tmp_path):
    scenario_file = tmp_path / "outage.yaml"
    scenario_file.write_text(
        yaml.safe_dump(
            {
                "name": "outage",
                "description": "Binance down for 12 h over btc_basis' rebalance of 2024-05-20 20:00",
                "start": "2024-05-20T12:00:00Z",
                "transformations": [{"kind": "venue_outage", "venue": "BINANCE", "hours": 12}],
            }
        )
    )
    scenario = load_scenario(str(scenario_file))
    config, window = mode_file_path("btc_basis"), ("2024-05-12", "2024-05-25")
    plain = run(catalog_dir, tmp_path / "plain", config, *window, None)
    stressed = run(catalog_dir, tmp_path / "stressed", config, *window, scenario)

    back = scenario.start + pd.Timedelta(hours=12)
    rebalances = [
        pd.read_csv(r.out_dir / "actions.csv", parse_dates=["ts"])
        .query("action == 'rebalance'")["ts"]
        .iloc[0]
        for r in (plain, stressed)
    ]
    assert scenario.start < rebalances[0] < back  # history: inside the outage
    assert rebalances[1] > back  # stressed: once Binance's bars are back
    fills = pd.read_csv(stressed.out_dir / "fills.csv", parse_dates=["ts_init"])
    binance = fills[fills["instrument_id"].str.contains("BINANCE")]
    assert not ((binance["ts_init"] > scenario.start) & (binance["ts_init"] <= back)).any()
    assert (
        stressed.summary["scenario"]["transformations"][0]["changed_points"] == 2 * 12
    )  # perp and spot bars
