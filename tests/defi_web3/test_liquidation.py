"""A third account liquidates the wallet's leveraged position on the real Aave v3 Pool; the
:class:`LiquidationWatcher` reads it back as the event the model's liquidation books.

The loop is opened through the web3 backend's executor (weETH supplied in e-mode, WETH borrowed at
LTV 0.9 × (1 + premium): HF ≈ 1.055), then weETH's protocol rate (Aave's e-mode oracle) drops 6 %,
taking the HF to ≈ 0.99: 50 % of the debt can be repaid. The weETH reserve is given mainnet's usual
liquidation protocol fee (10 % of the bonus, to the treasury) so the seizure has both parts.

Expectations come from the chain, read by the test itself: the ``LiquidationCall`` event of the
liquidator's receipt, the wallet's aToken and debt-token balances at the blocks before and after,
the treasury's aTokens, the oracle's prices; and from the model's formula
(:func:`adapters.defi.aave.liquidation`), which must give the chain's amounts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from eth_account.signers.local import LocalAccount
from nautilus_trader.model.data import Bar
from nautilus_trader.model.identifiers import InstrumentId
from web3.logs import DISCARD

from adapters.bars import bar_type_for
from adapters.defi.aave import liquidation
from adapters.defi.config import StakingSpec, WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.config import load_chain_live
from adapters.defi.web3.liquidations import LiquidationWatcher
from adapters.events import AaveLiquidated
from backtesting.config import load_run_config
from backtesting.engine import build_backtest
from live.local_chain import LocalChain
from localchain.aave import LocalAave
from localchain.market import ChainMarket
from localchain.uniswap import LocalUniswap
from tests.defi_web3.test_atomic import LIQUIDITY, TARGET_LTV, Book, lever_list, premium
from tests.defi_web3.test_paper_web3 import WEEK, paper, with_aave_flash_loans
from tests.integration.independent_defi import lst_oracle
from tests.localchain.helpers import ETHER, MAX, fund, price, rate, send, stake_and_wrap, supply

RATE_DROP = 0.06
PROTOCOL_FEE_BPS = 1_000
"""The liquidation protocol fee most mainnet reserves have: 10 % of the bonus goes to the treasury."""
EMODE_BONUS = 0.01
ORACLE = 1e-6
"""Relative resolution of figures computed from the oracle's 8-decimal prices."""
INTEREST = 1e-7
"""Relative interest a balance may gain between two consecutive blocks."""
LST = "WEETH"
INTEREST_GAP = 1e-3
"""Relative gap a week of interest leaves between the books' Aave balances (the replayed reserve
indices) and the chain's (its own rate curves; weETH, which nobody borrows there, pays none):
measured 1.2e-4 on the weETH collateral."""


@pytest.fixture
def lst(venue: WalletVenueConfig) -> StakingSpec:
    return next(s for s in venue.staking if s.token == LST)


@pytest.fixture
def watch(
    aave: LocalAave, venue: WalletVenueConfig, wallet: LocalAccount, live_config_path: Path
) -> Callable[[], LiquidationWatcher]:
    def make() -> LiquidationWatcher:
        live = load_chain_live(live_config_path, venue)
        return LiquidationWatcher(aave.w3, live, venue, wallet.address, aave.w3.eth.block_number + 1)

    return make


def liquidate(aave: LocalAave, liquidator: str, lst: StakingSpec, user: str, weth: float) -> dict:
    """``liquidationCall`` by ``liquidator`` for as much of ``user``'s WETH debt as the Pool allows,
    taking the underlying weETH; its receipt."""
    fund(aave, liquidator, "WETH", weth)
    call = aave.pool.functions.liquidationCall(
        aave.tokens[lst.asset].address, aave.tokens["WETH"].address, user, MAX, False
    )
    tx = call.transact({"from": liquidator})
    receipt = aave.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1
    return receipt


def test_a_third_accounts_liquidation_is_read_back_at_the_chains_amounts(
    aave: LocalAave,
    uniswap: LocalUniswap,
    users: list[str],
    venue: WalletVenueConfig,
    wallet: LocalAccount,
    lst: StakingSpec,
    executor_backend: Web3Backend,
    watch: Callable[[], LiquidationWatcher],
) -> None:
    supply(aave, users[1], "WETH", LIQUIDITY)
    executor_backend.set_emode()
    book = Book(aave, wallet, lst)
    executor_backend.execute(lever_list(venue, lst, book.rate(), TARGET_LTV, premium(executor_backend)), True)
    weeth = aave.tokens[lst.asset].address
    send(aave, aave.configurator.functions.setLiquidationProtocolFee(weeth, PROTOCOL_FEE_BPS), aave.admin)
    watcher = watch()
    assert watcher.poll() == []  # opening the loop liquidated nothing

    ChainMarket(aave, uniswap).set_lst_rate(lst.asset, book.rate() * (1 - RATE_DROP))
    supplied, debt = book.position()
    lst_price = price(aave, "WETH") * book.rate()  # the oracle's weETH price: WETH's × the rate
    health = supplied * lst_price * 0.95 / (debt * price(aave, "WETH"))
    assert 0.95 < health < 1.0
    treasury = aave.a_tokens[lst.asset].functions.balanceOf(aave.admin)
    treasury_before = treasury.call()
    receipt = liquidate(aave, users[2], lst, wallet.address, debt)

    seen = watcher.poll()
    assert len(seen) == 1 and watcher.poll() == []  # each liquidation is read once
    event = seen[0]
    block = receipt["blockNumber"]
    (logged,) = aave.pool.events.LiquidationCall().process_receipt(receipt, errors=DISCARD)
    assert logged["args"]["user"] == wallet.address and logged["args"]["liquidator"] == users[2]
    repaid = logged["args"]["debtToCover"] / ETHER
    fee = (treasury.call() - treasury_before) / ETHER
    assert fee > 0
    assert (event.debt_token, event.collateral_token) == ("VDWETH", "AWEETH")
    assert event.ts_event == aave.w3.eth.get_block(block)["timestamp"] * 10**9
    assert event.repaid == repaid
    assert event.seized == pytest.approx(
        logged["args"]["liquidatedCollateralAmount"] / ETHER + fee, abs=1e-18
    )
    assert event.health_factor == pytest.approx(health, rel=ORACLE)
    # the wallet's balances moved by exactly these amounts (the debt also by a block's interest)
    supplied_before, debt_before = book.position(block - 1)
    supplied_after, debt_after = book.position(block)
    assert supplied_before - supplied_after == pytest.approx(event.seized, rel=1e-15)
    assert debt_before - debt_after == pytest.approx(event.repaid, rel=INTEREST)
    # the model's liquidation of the same position gives the chain's amounts: half the debt
    # (HF in [0.95, 1)), the seizure at the oracle's prices with e-mode's 1 % bonus, of which
    # the treasury's 10 % cut also leaves the wallet
    modelled = liquidation(health, debt_before, supplied_before, 1.0, book.rate(), EMODE_BONUS)
    assert (event.repaid, event.seized) == pytest.approx(modelled, rel=ORACLE)
    assert fee == pytest.approx(event.seized * EMODE_BONUS / (1 + EMODE_BONUS) * 0.1, rel=ORACLE)


def test_only_the_wallets_own_liquidations_are_read(
    aave: LocalAave,
    uniswap: LocalUniswap,
    users: list[str],
    lst: StakingSpec,
    watch: Callable[[], LiquidationWatcher],
) -> None:
    """Another account liquidated in the blocks read is not the wallet's event."""
    supply(aave, users[1], "WETH", LIQUIDITY)
    other, equity = users[0], 10.0
    send(aave, aave.pool.functions.setUserEMode(1), other)
    minted = stake_and_wrap(aave, other, lst.asset, equity)
    weeth = aave.tokens[lst.asset]
    send(aave, weeth.functions.approve(aave.pool.address, minted), other)
    send(aave, aave.pool.functions.supply(weeth.address, minted, other, 0), other)
    weth = aave.tokens["WETH"].address
    send(aave, aave.pool.functions.borrow(weth, int(equity * 0.92 * ETHER), 2, 0, other), other)
    watcher = watch()
    ChainMarket(aave, uniswap).set_lst_rate(lst.asset, rate(aave, lst.asset) * (1 - RATE_DROP))
    liquidate(aave, users[2], lst, other, equity)
    assert watcher.poll() == []


SHOCK_AT = pd.Timestamp("2024-06-05T12:00Z")
"""When the paper run's liquidator strikes (data time), as the backtest's oracle-shock test does."""
SHOCK_DROP = 0.05
"""weETH's rate drop that lets the liquidator in: HF ≈ 1.045 × 0.95 ≈ 0.99, half the debt repaid
with 1/0.95 × 1.01 of its value seized, which leaves LTV ≈ 0.88, under the re-lever band
(λ − 0.02 ≈ 0.889); a 6 % drop seizes more and leaves it at 0.8892, inside the bands."""


@pytest.mark.integration
def test_a_liquidation_mid_paper_run_is_booked_from_the_chain_and_the_strategy_relevers(
    aave: LocalAave,
    uniswap: LocalUniswap,
    users: list[str],
    venue: WalletVenueConfig,
    lst: StakingSpec,
    catalog_dir: Path,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    """eth_leveraged paper run on the local chain; at :data:`SHOCK_AT` weETH's rate drops 5 % for
    one block, in which a third account liquidates the wallet (then the rate is back).

    The wallet books the chain's liquidation (its model sees no unhealthy position: the replayed
    rate never drops), the accounting attributes its loss, and the strategy, whose LTV is now
    below λ − 0.02, re-levers as it does after the backtest's modelled liquidation; at the end the
    books hold the chain's collateral and debt. The backtest's model, given the same shock, liquidates
    148.84 / 152.16 where the chain took 148.80 / 152.12 (2.7e-4: the debt each accrued)."""
    out = tmp_path / "chain"
    mode = with_aave_flash_loans("eth_leveraged", tmp_path)
    chain, row = shocked_paper_run(mode, aave, uniswap, users[2], venue, lst, catalog_dir, out)
    seen = pd.Timestamp(row["ts"])
    assert SHOCK_AT <= seen <= SHOCK_AT + pd.Timedelta(hours=1)
    # the loss, in the hour it is booked: the collateral seized, at the recorded rate, less the
    # debt it repaid
    nav = pd.read_csv(out / "nav.csv", index_col=0, parse_dates=True)
    (hour,) = nav.index[nav["liquidation_losses"] != 0]
    loss = nav.loc[hour, "liquidation_losses"]
    recorded = lst_oracle(data_dir, lst.asset)[hour]
    assert loss == pytest.approx(-(row["seized"] * recorded - row["repaid"]), rel=1e-6)
    assert nav["residual"].abs().max() < 1e-6
    # the strategy re-levers after it, as after a modelled one
    actions = pd.read_csv(out / "actions.csv", parse_dates=["ts"])
    after = actions[actions["ts"] >= seen]
    assert after["action"].iloc[0] == "relever"
    # the chain holds what the fills and the booked liquidation say, to its own interest: none on
    # weETH (no borrower of it), the WETH debt's on its curve
    fills = pd.read_csv(out / "fills.csv")
    signed = fills["last_qty"].where(fills["order_side"] == "BUY", -fills["last_qty"])
    net = signed.groupby(fills["instrument_id"]).sum()
    held = chain.balances()
    assert held["AWEETH"] == pytest.approx(net["AWEETH-AAVE.ETHEREUM"] - row["seized"], rel=1e-9)
    assert held["VDWETH"] > -net["VDWETH-AAVE.ETHEREUM"] - row["repaid"]
    # the books end at the chain's balances but for the interest each booked: the replayed indices
    account = pd.read_csv(out / "account_ethereum.csv")
    final = account.groupby("currency")["total"].last()
    assert final["AWEETH"] == pytest.approx(held["AWEETH"], rel=INTEREST_GAP)
    assert -final["VDWETH"] == pytest.approx(held["VDWETH"], rel=INTEREST_GAP)
    # the backtest's model, shocked alike, liquidates the same amounts and re-levers the same hour
    modelled, relever_at = backtest_with_shock(mode, catalog_dir, data_dir)
    assert (row["repaid"], row["seized"]) == pytest.approx(
        (modelled.repaid, modelled.seized), rel=INTEREST_GAP
    )
    assert after["ts"].iloc[0] == relever_at


@pytest.mark.integration
def test_a_hedged_book_re_levers_and_re_hedges_after_a_liquidation_on_chain(
    aave: LocalAave,
    uniswap: LocalUniswap,
    users: list[str],
    venue: WalletVenueConfig,
    lst: StakingSpec,
    catalog_dir: Path,
    tmp_path: Path,
) -> None:
    """usdt_eth_staking_hedged_leveraged, shocked alike: the liquidation takes ≈ 4.1 ETH of the
    sleeve's net long, which the CEX shorts were sized to. In the hour it is booked the strategy
    re-levers (the loop's ETH is WETH bought on the pool: the executor call's gas is unwrapped
    from it) and buys the shorts back on every venue, so the book is hedged again at every hourly
    sample (measured: net delta 0.013 ETH before, −0.003 after; −4.13 without the re-lever)."""
    out = tmp_path / "chain"
    mode = with_aave_flash_loans("usdt_eth_staking_hedged_leveraged", tmp_path)
    _, row = shocked_paper_run(mode, aave, uniswap, users[2], venue, lst, catalog_dir, out)
    seen = pd.Timestamp(row["ts"])
    actions = pd.read_csv(out / "actions.csv", parse_dates=["ts"])
    assert list(actions.loc[actions["ts"] >= seen, "action"])[:1] == ["relever"]
    fills = pd.read_csv(out / "fills.csv", parse_dates=["ts_event"])
    hour = actions.loc[actions["ts"] >= seen, "ts"].iloc[0]
    perps = fills[(fills["ts_event"] == hour) & ~fills["instrument_id"].str.endswith(".ETHEREUM")]
    assert set(perps["order_side"]) == {"BUY"} and perps["instrument_id"].nunique() == 3
    nav = pd.read_csv(out / "nav.csv", index_col=0, parse_dates=True)
    tolerance = load_run_config(mode).strategy.hedge.delta_tolerance
    hedged = nav.loc[seen:, "net_delta_usd"].abs() / nav.loc[seen:, "nav_usdt"]
    assert hedged.max() < tolerance


def shocked_paper_run(
    mode: Path,
    aave: LocalAave,
    uniswap: LocalUniswap,
    liquidator: str,
    venue: WalletVenueConfig,
    lst: StakingSpec,
    catalog_dir: Path,
    out: Path,
) -> tuple[LocalChain, pd.Series]:
    """The mode's paper week on the local chain, where ``liquidator`` at :data:`SHOCK_AT` drops the
    LST's rate :data:`SHOCK_DROP` for one block and liquidates the wallet (the rate then back);
    the chain and the run's one ``aave_liquidations.csv`` row, checked against the receipt's
    ``LiquidationCall``."""
    chain = LocalChain(aave, uniswap, venue, out.with_name(f"{out.name}.yaml"))
    receipts: list[dict] = []

    def liquidate_once(ts: int) -> None:
        if receipts or ts < SHOCK_AT.value:
            return
        before = rate(aave, lst.asset)
        chain.market.set_lst_rate(lst.asset, before * (1 - SHOCK_DROP))
        owed = aave.debt_tokens["WETH"].functions.balanceOf(chain.account.address).call() / ETHER
        receipts.append(liquidate(aave, liquidator, lst, chain.account.address, owed))
        chain.market.set_lst_rate(lst.asset, before)

    chain.third_parties.append(liquidate_once)
    result = paper(mode, catalog_dir, out, chain)

    (logged,) = aave.pool.events.LiquidationCall().process_receipt(receipts[0], errors=DISCARD)
    booked = pd.read_csv(out / "aave_liquidations.csv")
    assert result.summary["aave_liquidations"] == 1 and len(booked) == 1
    row = booked.iloc[0]
    assert (row["debt_token"], row["collateral_token"]) == ("VDWETH", "AWEETH")
    assert row["repaid"] == logged["args"]["debtToCover"] / ETHER
    assert row["seized"] == logged["args"]["liquidatedCollateralAmount"] / ETHER  # no protocol fee
    assert 0.95 <= row["health_factor"] < 1.0
    return chain, row


def backtest_with_shock(mode: Path, catalog_dir: Path, data_dir: Path) -> tuple[AaveLiquidated, pd.Timestamp]:
    """The mode's backtest over the paper week with weETH's rate :data:`SHOCK_DROP` below the
    recorded one for half an hour after :data:`SHOCK_AT` (a bar of its own, as the backtests'
    oracle-shock test does): the model's liquidation and the time of the strategy's next plan."""
    run = load_run_config(mode, start=WEEK[0], end=WEEK[1])
    bt = build_backtest(run, catalog_dir)
    instrument = bt.engine.cache.instrument(InstrumentId.from_str("WEETH-ETHERFI.ETHEREUM"))
    price = instrument.make_price(lst_oracle(data_dir, "weETH")[SHOCK_AT] * (1 - SHOCK_DROP))
    ts = (SHOCK_AT + pd.Timedelta(minutes=30)).value
    volume = instrument.make_qty(0)
    bt.engine.add_data([Bar(bar_type_for(instrument.id), price, price, price, price, volume, ts, ts)])
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    (event,) = [e for e in bt.accounting.wallet_events if isinstance(e, AaveLiquidated)]
    plans = [at for at, _, _ in bt.strategy.action_log if at >= event.ts_event]
    bt.engine.dispose()
    return event, pd.Timestamp(plans[0], tz="UTC")
