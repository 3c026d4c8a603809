"""Investor flows driving the partial/full entry and exit actions, and a forced liquidation, on real data."""

from __future__ import annotations

from operator import attrgetter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.currencies import ETH
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from adapters.cex.liquidation_fills import VENUE_TAG
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest
from backtesting.runner import RunResult, run_backtest
from tests.venue_modes import venue_dir_in_mode

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load(mode_file_path("btc_basis").read_text())
    strategy = changes.pop("strategy", {})
    raw.update(changes)
    raw["strategy"].update(strategy)
    path = tmp_path / "mode.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def flows_run(catalog_dir, tmp_path_factory) -> RunResult:
    tmp = tmp_path_factory.mktemp("flows")
    path = _config(
        tmp,
        start="2024-06-01",
        end="2024-12-15",
        capital=100_000,
        capital_flows=[
            {"at": "2024-08-01", "deposit": 50_000},
            {"at": "2024-10-01", "withdraw": 30_000},
            {"at": "2024-12-01", "withdraw": "all"},
        ],
    )
    return run_backtest(load_run_config(path), catalog_dir, tmp / "out")


def test_flows_drive_the_partial_and_full_actions(flows_run):
    actions = flows_run.summary["actions"]
    assert (
        actions["entry_full"],
        actions["entry_partial"],
        actions["exit_partial"],
        actions["exit_full"],
    ) == (1, 1, 1, 1)
    flows = pd.read_csv(flows_run.out_dir / "capital_flows.csv")
    deposits = flows[flows["kind"] == "deposit"]["amount"].tolist()
    paid = flows[flows["kind"] == "withdrawal"]["amount"].tolist()
    assert deposits == [50_000.0]
    assert paid[0] == pytest.approx(30_000.0)
    nav = pd.read_csv(flows_run.out_dir / "nav.csv", index_col=0, parse_dates=True)
    assert nav.loc["2024-08-01", "nav"].max() > 140_000  # the deposit was invested, not lost
    # exit_full leaves only the wallet's minimum gas reserve (0.01 ETH) and cents
    assert nav["nav"].iloc[-1] < 100.0
    assert paid[1] > 100_000
    assert flows_run.summary["net_flows"] == pytest.approx(50_000 - sum(paid))


def test_flows_reconcile_and_their_costs_are_attributed(flows_run):
    summary = flows_run.summary
    assert abs(summary["reconciliation_error"]) < 1e-4
    transfers = pd.read_csv(flows_run.out_dir / "transfers.csv")
    withdrawals = transfers[(transfers["kind"] == "withdrawal") & (transfers["status"] == "submitted")]
    assert len(withdrawals) == 6  # three venues, two exits
    assert summary["attribution"]["transfer_fees"] == pytest.approx(-withdrawals["fee_usdt"].sum())
    assert (transfers["status"] != "failed").all()
    assert summary["rejection_count"] == 0


def test_thin_margin_is_liquidated_visibly_and_the_book_is_rebuilt(catalog_dir, tmp_path):
    """3% margin with a 0.5% rebalance floor cannot survive BTC's Q4-2024 rally (≈60k → 100k) on a
    classic account (Binance); on Bybit's and OKX's unified accounts the coins are the short's
    collateral and nothing is liquidated."""
    path = _config(
        tmp_path,
        start="2024-10-01",
        end="2025-01-31",
        strategy={"perp_margin_fraction": 0.03, "margin_floor": 0.005, "margin_ceiling": 0.5},
    )
    result = run_backtest(load_run_config(path), catalog_dir, tmp_path / "out")
    summary = result.summary
    assert summary["liquidations"] >= 1
    liquidations = pd.read_csv(result.out_dir / "liquidations.csv")
    assert len(liquidations) == summary["liquidations"]
    assert (liquidations["signed_base_qty"] < 0).all()  # shorts squeezed by the rally
    assert set(liquidations["venue"]) == {"BINANCE"}
    assert summary["account_modes"] == {"BINANCE": "classic", "BYBIT": "unified", "OKX": "unified"}
    orders = pd.read_csv(result.out_dir / "orders.csv")
    assert orders["tags"].astype(str).str.contains(VENUE_TAG).sum() == summary["liquidations"]
    assert summary["attribution"]["liquidation_losses"] < 0
    assert abs(summary["reconciliation_error"]) < 1e-4
    # after each liquidation the next rebalance re-hedges the spot leg
    nav = pd.read_csv(result.out_dir / "nav.csv", index_col=0, parse_dates=True)
    last = pd.Timestamp(liquidations["ts"].max())
    later = nav[nav.index > last + pd.Timedelta(hours=3)]
    assert (later["net_delta_btc"].abs() < 0.01).all()


def test_liquidations_are_booked_from_the_venues_fills_as_the_simulation_recorded_them(catalog_dir, tmp_path):
    """The thin-margin run above with every venue classic: the accounting finds each liquidation
    in the fills alone, and books the rows and ``liquidation_losses`` the venue simulation's own
    records give."""
    run = load_run_config(
        _config(
            tmp_path,
            start="2024-10-01",
            end="2025-01-31",
            strategy={"perp_margin_fraction": 0.03, "margin_floor": 0.005, "margin_ceiling": 0.5},
        ),
        venue_config_dir=venue_dir_in_mode(tmp_path / "venues", "classic"),
    )
    bt = build_backtest(run, catalog_dir)
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    key = attrgetter("ts_event", "venue")
    simulated = sorted((e for m in bt.cex_modules.values() for e in m.liquidations), key=key)
    booked = sorted(bt.accounting.liquidations, key=key)
    assert len(booked) == len(simulated) == 52
    assert {e.venue for e in booked} == {"BINANCE", "BYBIT", "OKX"}
    for ours, sim in zip(booked, simulated, strict=True):
        assert (ours.venue, ours.instrument_id, ours.ts_event) == (sim.venue, sim.instrument_id, sim.ts_event)
        assert (ours.signed_base_qty, ours.price, ours.mark) == (sim.signed_base_qty, sim.price, sim.mark)
        assert ours.insurance_credit == sim.insurance_credit
        assert ours.fee == pytest.approx(sim.fee, abs=1e-8)  # as the account charged it: to 8 decimals
    # liquidation_losses by hand from the simulation's records: the venue's charges net of the
    # insurance cover, execution against the mark, and the closing fill's taker fee
    taker = {
        e.instrument_id: float(bt.engine.cache.instrument(InstrumentId.from_str(e.instrument_id)).taker_fee)
        for e in simulated
    }
    expected = sum(
        (e.insurance_credit - e.fee) * e.usdt_per_unit
        + e.signed_base_qty * (e.price - e.mark)
        - abs(e.signed_base_qty) * e.price * taker[e.instrument_id]
        for e in simulated
    )
    nav = bt.accounting.nav_frame()
    assert nav["liquidation_losses"].sum() == pytest.approx(expected, abs=1e-6)
    bt.engine.dispose()


class _EthAirdrop(Actor):
    """Drops ETH into the wallet at one instant, as an unexpected token arrival would."""

    def __init__(self, wallet, at: pd.Timestamp, eth: float) -> None:
        super().__init__(ActorConfig(component_id="Airdrop"))
        self.wallet, self.at, self.eth = wallet, at, eth

    def on_start(self) -> None:
        self.clock.set_time_alert(
            "airdrop", self.at, lambda _: self.wallet.exchange.adjust_account(Money(self.eth, ETH))
        )


def test_stray_eth_is_sold_as_dust_and_unexplained_value_shows_up_as_residual(catalog_dir, tmp_path):
    run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-10")
    bt = build_backtest(run, catalog_dir)
    drop_at = pd.Timestamp("2024-06-05T12:30Z")
    bt.engine.add_actor(_EthAirdrop(bt.wallet, drop_at, 0.5))
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    assert bt.strategy.actions["sell_dust"] == 1
    nav = bt.accounting.nav_frame()
    reserve = nav.loc["2024-06-05 12:00", "wallet_eth"]
    fills = bt.engine.trader.generate_fills_report()
    sale = fills[(fills["instrument_id"] == str(bt.strategy.pool_id)) & (fills["order_side"] == "SELL")]
    target = run.strategy.gas_reserve_eth  # dust is everything above the configured gas reserve
    assert len(sale) == 1 and float(sale["last_qty"].iloc[0]) == pytest.approx(
        reserve + 0.5 - target, abs=1e-6
    )
    swap_gas = bt.accounting.gas[-1].eth
    assert nav.loc["2024-06-05 13:00", "wallet_eth"] == pytest.approx(target - swap_gas, abs=1e-6)
    # the airdrop is value no category explains: that hour's residual is exactly its worth at the
    # hour's ETH mark (the sale's distance from the mark is slippage, which is explained)
    hour = pd.Timestamp("2024-06-05T13:00Z")
    marks = ParquetDataCatalog(str(catalog_dir)).bars(
        bar_types=[str(bar_type_for(bt.strategy.pool_id))], start=hour, end=hour
    )
    residual = nav["residual"]
    assert residual.loc[hour].item() == pytest.approx(0.5 * marks[0].close.as_double(), rel=1e-9)
    assert residual.drop(hour).abs().max() < 1e-6
    bt.engine.dispose()
