"""Full backtests of the on-chain modes on the real history, checked against independent numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from nautilus_trader.model.data import Bar
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.bars import bar_type_for
from adapters.events import AaveLiquidated
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest
from backtesting.runner import RunResult, run_backtest
from portfolio.attribution import CATEGORIES
from tests.integration.independent_defi import aave_snapshots, borrow_index, liquidity_index, lst_oracle

pytestmark = pytest.mark.integration

START, END = pd.Timestamp("2024-05-12T00:00Z"), pd.Timestamp("2025-09-18T00:00Z")
LEVERAGED_START = pd.Timestamp("2024-05-12T01:00Z")  # the weETH rate starts here


def run_mode(
    catalog_dir: Path, out: Path, mode: str, start: pd.Timestamp, end: pd.Timestamp, **changes: Any
) -> RunResult:
    """Run ``mode``'s YAML over [start, end] with top-level or ``strategy`` keys changed."""
    raw = yaml.safe_load(mode_file_path(mode).read_text())
    raw["strategy"].update(changes.pop("strategy", {}))
    raw.update(changes)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(raw))
    run = load_run_config(path, start=start.isoformat(), end=end.isoformat())
    return run_backtest(run, catalog_dir, out / "results")


def nav_of(result: RunResult) -> pd.DataFrame:
    return pd.read_csv(result.out_dir / "nav.csv", index_col=0, parse_dates=True)


def fills_of(result: RunResult) -> pd.DataFrame:
    return pd.read_csv(result.out_dir / "fills.csv")


def filled_qty(fills: pd.DataFrame, instrument: str, side: str) -> float:
    rows = fills[(fills["instrument_id"] == instrument) & (fills["order_side"] == side)]
    return float(rows["last_qty"].astype(float).sum())


def assert_reconciled(result: RunResult, tolerance: float) -> None:
    summary = result.summary
    assert abs(summary["reconciliation_error"]) < tolerance
    assert summary["pnl"] == pytest.approx(sum(summary["attribution"][c] for c in CATEGORIES), abs=tolerance)
    assert summary["rejection_count"] == 0, summary["rejections"]


def final_balance(result: RunResult, currency: str) -> float:
    account = pd.read_csv(result.out_dir / "account_ethereum.csv")
    return float(account[account["currency"] == currency]["total"].iloc[-1])


def apy_between(ratio: float, start: pd.Timestamp, end: pd.Timestamp) -> float:
    return ratio ** (365 / ((end - start) / pd.Timedelta(days=1))) - 1


# -- pure lending ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lending_usdt(catalog_dir, tmp_path_factory) -> RunResult:
    return run_mode(catalog_dir, tmp_path_factory.mktemp("lusdt"), "pure_lending_usdt", START, END)


def test_pure_lending_usdt_grows_with_the_usdt_liquidity_index(lending_usdt, data_dir):
    """aUSDT ends at supplied × index ratio (raw file); NAV = that + the gas reserve's ETH."""
    fills = fills_of(lending_usdt)
    supplied = filled_qty(fills, "AUSDT-AAVE.ETHEREUM", "BUY")
    snapshots = aave_snapshots(data_dir, "USDT")
    ratio = liquidity_index(snapshots, END) / liquidity_index(snapshots, START)
    assert final_balance(lending_usdt, "AUSDT") == pytest.approx(supplied * ratio, abs=0.01)
    assert lending_usdt.summary["attribution"]["supply_interest"] == pytest.approx(
        supplied * (ratio - 1), abs=0.01
    )
    # all capital but the gas reserve's purchase was supplied at entry
    buy = fills[fills["instrument_id"] == "ETHUSDT-UNIV3.ETHEREUM"]
    reserve_cost = float(
        (buy["last_qty"] * buy["last_px"]).sum() + buy["commission"].str.split().str[0].astype(float).sum()
    )
    assert supplied == pytest.approx(100_000 - reserve_cost, abs=1e-6)
    # NAV = capital × index ratio, less what the reserve cost, plus what its ETH (after gas) is worth
    last = nav_of(lending_usdt).iloc[-1]
    eth_value = last["wallet_value_usdt"] - last["wallet_usdt"] - supplied * ratio
    assert last["wallet_eth"] == pytest.approx(0.05 - lending_usdt.summary["gas_eth"], abs=1e-9)
    assert 4_000 < eth_value / last["wallet_eth"] < 5_000  # ETH ≈ 4,500 USD on 2025-09-18
    assert last["nav"] == pytest.approx(
        (100_000 - reserve_cost) * ratio + last["wallet_usdt"] + eth_value, abs=0.02
    )
    assert lending_usdt.summary["apy"] == pytest.approx(0.0497, abs=0.002)  # DOMAIN.md: 4.97%
    assert_reconciled(lending_usdt, 1e-4)


def test_pure_lending_eth_reports_in_eth(catalog_dir, tmp_path, data_dir):
    result = run_mode(catalog_dir, tmp_path, "pure_lending_eth", START, END)
    supplied = filled_qty(fills_of(result), "AWETH-AAVE.ETHEREUM", "BUY")
    snapshots = aave_snapshots(data_dir, "WETH")
    ratio = liquidity_index(snapshots, END) / liquidity_index(snapshots, START)
    gas = -result.summary["attribution"]["gas"]
    assert supplied == pytest.approx(30 - 0.05, abs=1e-8)
    assert result.summary["final_nav"] == pytest.approx(supplied * ratio + 0.05 - gas, abs=1e-6)
    assert result.summary["attribution"]["price_pnl"] == pytest.approx(0.0, abs=1e-9)  # ETH in ETH
    assert result.summary["apy"] == pytest.approx(0.0207, abs=0.001)  # DOMAIN.md: 2.07% in ETH
    assert_reconciled(result, 1e-6)


# -- staking ---------------------------------------------------------------------------------


def test_staking_base_only_follows_the_lst_rate(catalog_dir, tmp_path, data_dir):
    """NAV in ETH = staked ETH × LST-rate ratio + the unstaked gas reserve − gas (base_only)."""
    result = run_mode(
        catalog_dir, tmp_path, "eth_staking_only", START, END, strategy={"rewards_mode": "base_only"}
    )
    rates = lst_oracle(data_dir, "weETH")
    minted = filled_qty(fills_of(result), "WEETH-ETHERFI.ETHEREUM", "BUY")
    entry = rates.index[0]  # the first hour the rate exists: the first decision
    assert minted * rates[entry] == pytest.approx(30 - 0.05, abs=1e-7)
    gas = -result.summary["attribution"]["gas"]
    assert result.summary["final_nav"] == pytest.approx(minted * rates[END] + 0.05 - gas, abs=1e-7)
    assert result.summary["attribution"]["staking_yield"] == pytest.approx(
        minted * (rates[END] - rates[entry]), abs=1e-7
    )
    assert result.summary["attribution"]["restaking_rewards"] == 0.0
    assert result.summary["apy"] == pytest.approx(0.0275, abs=0.001)  # DOMAIN.md: weETH 2.75%
    assert_reconciled(result, 1e-6)


def test_staking_with_rewards_credits_and_sells_them(catalog_dir, tmp_path):
    result = run_mode(catalog_dir, tmp_path, "eth_staking_only", START, END)
    attribution = result.summary["attribution"]
    assert attribution["restaking_rewards"] > 0.2  # EIGEN and ETHFI on ~30 weETH over 16 months
    assert result.summary["actions"]["sell_dust"] > 5
    nav = nav_of(result)
    assert 0 < nav["restaking_rewards_estimated"].sum() <= attribution["restaking_rewards"]
    fills = fills_of(result)
    assert filled_qty(fills, "EIGENETH-UNIV3.ETHEREUM", "SELL") > 0
    assert_reconciled(result, 1e-6)


def test_wsteth_flows_and_both_exit_routes(catalog_dir, tmp_path):
    """Deposit → entry_partial; a DEX exit pays the market discount as slippage; a queue exit
    waits out Lido's delay at the protocol rate; everything is paid out in ETH."""
    flows = [
        {"at": "2024-08-01", "deposit": 10},
        {"at": "2024-10-01", "withdraw": 5},
        {"at": "2025-01-02", "withdraw": "all"},
    ]
    dex = run_mode(
        catalog_dir,
        tmp_path / "dex",
        "eth_staking_only",
        START,
        pd.Timestamp("2025-02-01T00:00Z"),
        capital_flows=flows,
        strategy={"lst": "WSTETH", "rewards_mode": "base_only"},
    )
    actions = dex.summary["actions"]
    assert (actions["entry_partial"], actions["exit_partial"], actions["exit_full"]) == (1, 1, 1)
    assert dex.summary["attribution"]["slippage"] < 0  # the DEX pays less than the protocol rate
    queue_dir = tmp_path / "queue"
    queue = run_mode(
        catalog_dir,
        queue_dir,
        "eth_staking_only",
        START,
        pd.Timestamp("2025-02-01T00:00Z"),
        capital_flows=flows,
        strategy={"lst": "WSTETH", "rewards_mode": "base_only", "exit_route": "queue"},
    )
    fills = fills_of(queue)
    assert filled_qty(fills, "WSTETH-LIDOQ.ETHEREUM", "SELL") > 0
    assert filled_qty(fills, "WSTETHETH-UNIV3.ETHEREUM", "SELL") == 0
    lido_delay = pd.Timedelta(hours=120)
    for result, delay in ((dex, pd.Timedelta(0)), (queue, lido_delay)):
        flows_csv = pd.read_csv(result.out_dir / "capital_flows.csv", parse_dates=["ts"])
        requested = flows_csv[flows_csv["kind"] == "withdrawal_requested"]["ts"].tolist()
        paid = flows_csv[flows_csv["kind"] == "withdrawal"]
        assert paid["ts"].tolist() == [t + delay for t in requested]
        assert paid["amount"].iloc[0] == pytest.approx(5.0, abs=1e-9)
        assert result.summary["final_nav"] == pytest.approx(0.01, abs=1e-9)  # all but the minimum gas reserve
        assert_reconciled(result, 1e-6)
    # the queue pays the protocol rate (and keeps earning while waiting); the DEX its discount
    paid_dex, paid_queue = (
        pd.read_csv(r.out_dir / "capital_flows.csv")["amount"].iloc[-1] for r in (dex, queue)
    )
    assert paid_dex < paid_queue


# -- leveraged staking -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def leveraged_base(catalog_dir, tmp_path_factory) -> RunResult:
    return run_mode(
        catalog_dir,
        tmp_path_factory.mktemp("lev"),
        "eth_leveraged",
        LEVERAGED_START,
        END,
        strategy={"rewards_mode": "base_only"},
    )


def test_leveraged_base_yield_matches_the_closed_form(leveraged_base, data_dir):
    """(y_stake + y_supply − λ·y_borrow) / (1 − λ), each rate from the raw files over the window."""
    years = (END - LEVERAGED_START) / pd.Timedelta(days=365)
    rates = lst_oracle(data_dir, "weETH")
    weeth, weth = aave_snapshots(data_dir, "weETH"), aave_snapshots(data_dir, "WETH")

    def annual(ratio: float) -> float:
        return ratio ** (1 / years) - 1

    y_stake = annual(rates[END] / rates[LEVERAGED_START])
    y_supply = annual(liquidity_index(weeth, END) / liquidity_index(weeth, LEVERAGED_START))
    y_borrow = annual(borrow_index(weth, END) / borrow_index(weth, LEVERAGED_START))
    lam = 0.909075
    closed_form = (y_stake + y_supply - lam * y_borrow) / (1 - lam)
    assert leveraged_base.summary["apy"] == pytest.approx(closed_form, abs=0.0005)
    assert leveraged_base.summary["apy"] == pytest.approx(0.034, abs=0.002)  # DOMAIN.md: ≈ 3.4%
    assert_reconciled(leveraged_base, 1e-6)


def test_leveraged_entry_is_one_atomic_loop_at_the_target_ltv(leveraged_base):
    fills = fills_of(leveraged_base)
    minted = filled_qty(fills, "WEETH-ETHERFI.ETHEREUM", "BUY")
    supplied = filled_qty(fills, "AWEETH-AAVE.ETHEREUM", "BUY")
    borrowed = filled_qty(fills, "VDWETH-AAVE.ETHEREUM", "SELL")
    rate = float(fills[fills["instrument_id"] == "WEETH-ETHERFI.ETHEREUM"]["last_px"].iloc[0])
    equity, lam = 30 - 0.25, 0.909075  # the YAML keeps 0.25 ETH out of the loop for gas
    assert minted == supplied
    assert minted * rate == pytest.approx(equity / (1 - lam), rel=1e-7)  # S = E / (1 − λ)
    assert borrowed == pytest.approx(equity * lam / (1 - lam), rel=1e-7)  # D = E·λ / (1 − λ)
    gas = pd.read_csv(leveraged_base.out_dir / "gas.csv")
    assert gas["operation"].tolist()[0] == "atomic_leverage"


def test_leveraged_health_never_below_one_without_a_liquidation(leveraged_base):
    nav = nav_of(leveraged_base)
    assert leveraged_base.summary["liquidations"] == 0
    assert nav["aave_health_factor"].min() > 1.02  # the deleverage threshold was never even reached
    assert nav["aave_ltv"].max() <= 0.909075 + 0.01 + 1e-9


def test_leveraged_with_rewards_reports_them_separately(catalog_dir, tmp_path):
    result = run_mode(
        catalog_dir, tmp_path, "eth_leveraged", LEVERAGED_START, pd.Timestamp("2024-12-01T00:00Z")
    )
    attribution = result.summary["attribution"]
    assert attribution["restaking_rewards"] > attribution["staking_yield"] + attribution["borrow_interest"]
    assert result.summary["actions"]["sell_dust"] > 0 and result.summary["actions"]["rebalance"] > 0
    nav = nav_of(result)
    assert nav["aave_health_factor"].min() > 1.0
    assert_reconciled(result, 1e-6)


def test_an_oracle_shock_liquidates_and_the_loss_is_accounted(catalog_dir, data_dir):
    """A 6% weETH/ETH oracle drop takes HF ≈ 1.046 × 0.94 < 1: Aave liquidates half the debt with
    the 1% bonus; the loss is the seized collateral's value less the debt it repaid."""
    run = load_run_config(mode_file_path("eth_leveraged"), start="2024-06-01", end="2024-06-10")
    bt = build_backtest(run, catalog_dir)
    at = pd.Timestamp("2024-06-05T12:00Z")
    rates = lst_oracle(data_dir, "weETH")
    shocked = rates[at] * 0.94
    instrument = bt.engine.cache.instrument(InstrumentId.from_str("WEETH-ETHERFI.ETHEREUM"))
    price = instrument.make_price(shocked)
    ts = (at + pd.Timedelta(minutes=30)).value
    bt.engine.add_data(
        [Bar(bar_type_for(instrument.id), price, price, price, price, instrument.make_qty(0), ts, ts)]
    )
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))

    events = [e for e in bt.accounting.wallet_events if isinstance(e, AaveLiquidated)]
    assert len(events) == 1
    event = events[0]
    nav = bt.accounting.nav_frame()
    assert event.ts_event == ts and 0.95 <= event.health_factor < 1
    assert event.health_factor == pytest.approx(nav.loc[at, "aave_health_factor"] * 0.94, rel=1e-4)
    # close factor 50%: the debt left equals the debt repaid; the bonus is 1% (e-mode)
    account = bt.engine.trader.generate_account_report(Venue("ETHEREUM"))
    debt_rows = account[(account["currency"] == "VDWETH") & (account.index == pd.Timestamp(ts, tz="UTC"))]
    assert float(debt_rows["total"].iloc[-1]) == pytest.approx(-event.repaid, abs=1e-7)
    assert event.seized == pytest.approx(event.repaid * 1.01 / price.as_double(), rel=1e-9)
    hour = at + pd.Timedelta(hours=1)
    loss = nav.loc[hour, "liquidation_losses"]
    assert loss == pytest.approx(-(event.seized * rates[hour] - event.repaid), rel=1e-6)
    assert nav["residual"].abs().max() < 1e-6
    assert nav.loc[hour:, "aave_health_factor"].min() > 1.0
    bt.engine.dispose()


FLOWS = [
    {"at": "2024-08-01", "deposit": 10},
    {"at": "2024-10-01", "withdraw": 5},
    {"at": "2025-01-02", "withdraw": "all"},
]


@pytest.mark.parametrize(
    ("mode", "scale", "strategy"),
    [
        ("pure_lending_usdt", 10_000, {}),
        ("pure_lending_eth", 1, {}),
        ("eth_leveraged", 1, {"rewards_mode": "base_only"}),  # rewards would keep arriving after the exit
    ],
)
def test_deposits_and_withdrawals_scale_the_book_and_pay_out(catalog_dir, tmp_path, mode, scale, strategy):
    """A deposit is deployed (entry_partial), a withdrawal is raised and paid (exit_partial), and
    `all` unwinds everything (exit_full, for the leveraged loop one atomic deleverage)."""
    flows = [{k: (v * scale if isinstance(v, int) else v) for k, v in f.items()} for f in FLOWS]
    end = pd.Timestamp("2025-02-01T00:00Z")
    result = run_mode(
        catalog_dir, tmp_path, mode, LEVERAGED_START, end, capital_flows=flows, strategy=strategy
    )
    actions = result.summary["actions"]
    assert (actions["entry_partial"], actions["exit_partial"], actions["exit_full"]) == (1, 1, 1)
    flows_csv = pd.read_csv(result.out_dir / "capital_flows.csv", parse_dates=["ts"])
    paid = flows_csv[flows_csv["kind"] == "withdrawal"]
    requested = flows_csv[flows_csv["kind"] == "withdrawal_requested"]["ts"].tolist()
    assert paid["ts"].tolist() == requested  # Aave withdrawals and DEX unwinds are immediate
    assert paid["amount"].iloc[0] == pytest.approx(5 * scale, rel=1e-9)
    nav = nav_of(result)
    after_exit = nav[nav.index > requested[-1]]
    # all paid out but the minimum gas ETH, which then sits untouched
    kept_eth = yaml.safe_load(mode_file_path(mode).read_text())["strategy"]["gas_reserve_min_eth"]
    assert (after_exit["nav"] <= (kept_eth * 4_000 if scale > 1 else kept_eth + 1e-6)).all()
    assert after_exit["wallet_eth"].nunique() == 1
    assert_reconciled(result, 1e-4 if scale > 1 else 1e-6)
    if mode == "eth_leveraged":
        fills = fills_of(result)
        assert filled_qty(fills, "VDWETH-AAVE.ETHEREUM", "BUY") == pytest.approx(
            filled_qty(fills, "VDWETH-AAVE.ETHEREUM", "SELL")
            + result.summary["attribution"]["borrow_interest"] * -1,
            rel=1e-6,
        )  # every WETH borrowed, with its interest, was repaid
        assert final_balance(result, "AWEETH") == pytest.approx(0, abs=2e-8)  # one 1e-8 step of rounding
