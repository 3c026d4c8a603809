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

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from adapters.defi.aave import liquidation
from adapters.defi.config import StakingSpec, WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.config import load_chain_live
from adapters.defi.web3.liquidations import LiquidationWatcher
from localchain.aave import LocalAave
from localchain.market import ChainMarket
from localchain.uniswap import LocalUniswap
from tests.defi_web3.test_atomic import LIQUIDITY, TARGET_LTV, Book, lever_list, premium
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
