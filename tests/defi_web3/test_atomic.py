"""Atomic order lists through :class:`Web3Backend`: each list the leveraged-staking strategy sends
(open loop, deleverage, full unwind) is one transaction of the wallet's executor, and its fills
book what the chain moved.

The lists are built with the strategy's own arithmetic (``leverage_targets``, the deleverage
formula, rounded down to the instruments' size step as ``submit_transaction`` does); expectations
come from the orders, the LST rate the chain reports and the Pool's flash-loan premium, never from
a chain run.

Parity with :class:`SimulatedBackend` (the open list, same starting balances, both with Aave's
5 bps flash loans — the strategies default to Balancer's 0 fee, the executor borrows from Aave):

* fill prices: the mint at the protocol rate to the instrument's 1e-10 tick (1e-9 relative);
  supply and borrow 1:1 to 1e-12 (a few wei of stake rounding on ~100 ETH);
* the flash loan: the model borrows only the ETH the steps are short of, the executor the whole
  new debt, so the chain's flash amount exceeds the model's by the ETH the wallet held beyond the
  levered equity (``GAS_RESERVE`` here) and its fee by that × 5 bps — a documented difference —
  to the quantities' size step (the model's shortfall comes from the rounded mint, the chain's
  loan from the rounded borrow);
* the health factor after: 1e-6 relative (the chain's integer ray arithmetic on the oracle's
  8-decimal prices).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from eth_account.signers.local import LocalAccount
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.orders import Order
from web3.types import BlockIdentifier

from adapters.defi.aave import leverage_targets
from adapters.defi.backend import ExecutionRejected
from adapters.defi.config import StakingSpec, WalletVenueConfig
from adapters.defi.data import AaveReserveSnapshot
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.executor import to_wad
from adapters.defi.web3.limits import SendLimits
from localchain.aave import ETH_EMODE_CATEGORY, LocalAave
from localchain.anvil import rpc
from localchain.uniswap import LocalUniswap
from localchain.wallet import deploy_executor
from strategies.sizing import round_down
from tests.defi_web3.conftest import order
from tests.defi_web3.model import simulated
from tests.defi_web3.test_chain_data import aave_market
from tests.defi_web3.test_orders import eth_held
from tests.localchain.helpers import ETHER, account, price, rate, supply

BUY, SELL = OrderSide.BUY, OrderSide.SELL
STEP = 1e-8
"""The wallet instruments' size step the strategy rounds quantities down to."""
LIQUIDITY = 5_000.0
"""WETH a lender supplies to Aave, for the flash loans and the borrows."""
EQUITY = 10.0
TARGET_LTV = 0.9
INTEREST = 1e-7
"""Relative drift an aToken or debt balance may gain from interest over the test's few blocks."""
EXIT_BUFFER = 0.003
"""The strategy's ``exit_slippage_buffer``."""
DAY = 86_400
GAS_RESERVE = 0.1
"""ETH the parity wallet holds beyond the equity it levers (for gas)."""
FLOAT_ETH = 1e-12
"""A float's resolution at the wallet's 1,000 ETH: balances compared in ETH agree to this."""
LSTS = ("WSTETH", "WEETH")


def steps(venue: WalletVenueConfig, *legs: tuple[str, OrderSide, float]) -> list[Order]:
    """The orders ``submit_transaction`` makes: each quantity rounded down to the size step."""
    return [order(venue, symbol, side, f"{round_down(qty, STEP):.8f}") for symbol, side, qty in legs]


def lever_list(
    venue: WalletVenueConfig, lst: StakingSpec, lst_rate: float, ltv: float, fee: float
) -> list[Order]:
    """``LeveragedStaking._lever`` from an empty book holding ``EQUITY`` free ETH."""
    _, debt = leverage_targets(EQUITY, ltv)
    quantity = (EQUITY + debt) / lst_rate
    return steps(
        venue,
        (lst.mint_symbol, BUY, quantity),
        (f"A{lst.token}-AAVE", BUY, quantity),
        ("VDWETH-AAVE", SELL, debt * (1 + fee)),
    )


def repay_and_sell_list(
    venue: WalletVenueConfig, lst: StakingSpec, repay: float, withdraw: float
) -> list[Order]:
    """``LeveragedStaking._repay_and_sell``."""
    return steps(
        venue,
        ("VDWETH-AAVE", BUY, repay),
        (f"A{lst.token}-AAVE", SELL, withdraw),
        (lst.market_pool, SELL, withdraw),
    )


class Book:
    """The wallet's loop on chain, in token units."""

    def __init__(self, aave: LocalAave, wallet: LocalAccount, lst: StakingSpec) -> None:
        self.aave, self.wallet, self.lst = aave, wallet, lst

    def position(self, block: BlockIdentifier = "latest") -> tuple[float, float]:
        """(supplied LST, WETH debt)."""
        a_token = self.aave.a_tokens[self.lst.asset].functions.balanceOf(self.wallet.address)
        debt = self.aave.debt_tokens["WETH"].functions.balanceOf(self.wallet.address)
        return a_token.call(block_identifier=block) / ETHER, debt.call(block_identifier=block) / ETHER

    def rate(self) -> float:
        return rate(self.aave, self.lst.asset)

    def eth(self) -> float:
        return eth_held(self.aave, self.wallet)

    def health_factor(self) -> float:
        return account(self.aave, self.wallet.address)["health_factor"] / ETHER


@pytest.fixture(params=LSTS)
def lst(request: pytest.FixtureRequest, venue: WalletVenueConfig) -> StakingSpec:
    return next(s for s in venue.staking if s.token == request.param)


@pytest.fixture
def book(aave: LocalAave, wallet: LocalAccount, lst: StakingSpec) -> Book:
    return Book(aave, wallet, lst)


@pytest.fixture
def looper(aave: LocalAave, users: list[str], executor_backend: Web3Backend) -> Web3Backend:
    """The wallet in e-mode, over a market with WETH to lend."""
    supply(aave, users[1], "WETH", LIQUIDITY)
    executor_backend.set_emode()
    return executor_backend


def premium(backend: Web3Backend) -> float:
    """The Pool's flash-loan premium (the executor's flash loans), as a fraction."""
    assert backend.executor is not None
    return backend.executor.premium_bps / 10_000


def delegation(backend: Web3Backend, book: Book) -> int:
    """The WETH credit the wallet has delegated to its executor."""
    assert backend.executor is not None
    debt_token = book.aave.debt_tokens["WETH"].functions
    return debt_token.borrowAllowance(book.wallet.address, backend.executor.contract.address).call()


def pool_fee(venue: WalletVenueConfig, book: Book) -> float:
    """The fee of the pool the LST sells on."""
    return float(next(p for p in venue.pools if p.symbol == book.lst.market_pool).fee)


def quantity(order: Order) -> float:
    return order.quantity.as_double()


def open_loop(
    backend: Web3Backend, venue: WalletVenueConfig, book: Book, ltv: float = TARGET_LTV
) -> list[Order]:
    orders = lever_list(venue, book.lst, book.rate(), ltv, premium(backend))
    backend.execute(orders, atomic=True)
    return orders


def test_the_open_list_is_one_executor_transaction_and_fills_what_moved(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book
) -> None:
    fee = premium(looper)
    orders = lever_list(venue, book.lst, book.rate(), TARGET_LTV, fee)
    mint, supplied_order, borrow = orders
    eth_before = book.eth()
    execution = looper.execute(orders, atomic=True)

    # the whole loop moved in the last block's one transaction
    last = book.aave.w3.eth.block_number
    assert book.position(last - 1) == (0.0, 0.0)
    supplied, debt = book.position(last)
    assert supplied == pytest.approx(quantity(supplied_order), rel=1e-12)
    assert debt == pytest.approx(quantity(borrow), rel=1e-12)
    assert execution.gas_operation == "atomic_leverage" and execution.gas_eth > 0
    assert [f.order for f in execution.fills] == orders
    mint_fill, supply_fill, borrow_fill = (f.price for f in execution.fills)
    assert mint_fill == pytest.approx(book.rate(), rel=1e-12)
    assert supply_fill == pytest.approx(1.0, rel=1e-12) and borrow_fill == pytest.approx(1.0, rel=1e-12)
    # the flash loan is the borrow less its premium, the premium Aave's 5 bps of it
    assert execution.flash_provider == "AAVE"
    assert execution.flash_amount == pytest.approx(quantity(borrow) / (1 + fee), rel=1e-12)
    assert execution.flash_fee == pytest.approx(execution.flash_amount * fee, rel=1e-9)
    # the books' ETH (fills, flash fee, gas) moves as the wallet's did
    booked = (
        -quantity(mint) * mint_fill + quantity(borrow) * borrow_fill - execution.flash_fee - execution.gas_eth
    )
    assert book.eth() - eth_before == pytest.approx(booked, abs=FLOAT_ETH)
    assert debt / (supplied * book.rate()) == pytest.approx(TARGET_LTV * (1 + fee), rel=1e-6)
    assert delegation(looper, book) == 0  # the credit delegation was exactly what the borrow used


def test_a_deleverage_list_repays_and_sells_in_one_transaction(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book, marks: dict[str, float]
) -> None:
    open_loop(looper, venue, book)
    supplied_before, debt_before = book.position()
    fee, sale_fee = premium(looper), pool_fee(venue, book)
    # LeveragedStaking._deleverage to a lower LTV: D' = λ(V − kD)/(1 − λk)
    exit_price = marks[book.lst.market_pool] * (1 - sale_fee) / (1 + EXIT_BUFFER)
    lam, value = 0.8, supplied_before * book.rate()
    k = book.rate() * (1 + fee) / exit_price
    repay = debt_before - lam * (value - k * debt_before) / (1 - lam * k)
    orders = repay_and_sell_list(venue, book.lst, repay, repay * (1 + fee) / exit_price)
    repay_order, withdraw_order, sell_order = orders
    eth_before = book.eth()
    execution = looper.execute(orders, atomic=True)

    last = book.aave.w3.eth.block_number
    assert book.position(last - 1) == (supplied_before, pytest.approx(debt_before, rel=INTEREST))
    supplied, debt = book.position(last)
    assert supplied == pytest.approx(supplied_before - quantity(withdraw_order), rel=1e-12)
    assert debt == pytest.approx(debt_before - quantity(repay_order), rel=INTEREST)
    assert execution.gas_operation == "atomic_deleverage"
    assert execution.flash_amount == pytest.approx(quantity(repay_order), rel=1e-12)
    assert execution.flash_fee == pytest.approx(quantity(repay_order) * fee, rel=1e-9)
    repay_fill, withdraw_fill, sell_fill = (f.price for f in execution.fills)
    assert repay_fill == pytest.approx(1.0, rel=1e-12) and withdraw_fill == pytest.approx(1.0, rel=1e-12)
    # sold no worse than the mark less the pool's fee and the tolerance (the executor's minWethOut)
    tolerance = looper.live.slippage_tolerance
    assert sell_fill >= marks[book.lst.market_pool] * (1 - tolerance)
    booked = (
        -quantity(repay_order) * repay_fill
        + quantity(sell_order) * sell_fill * (1 - sale_fee)
        - execution.flash_fee
        - execution.gas_eth
    )
    assert book.eth() - eth_before == pytest.approx(booked, abs=FLOAT_ETH)
    assert debt / (supplied * book.rate()) == pytest.approx(lam, rel=1e-3)
    assert book.health_factor() >= looper.live.min_health_factor


def test_a_full_unwind_list_repays_the_debt_as_mined(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book
) -> None:
    open_loop(looper, venue, book)
    cached_supply, cached_debt = book.position()  # what the strategy's book holds
    rpc(book.aave.w3, "evm_increaseTime", hex(DAY))  # the debt grows before the list is sent
    orders = repay_and_sell_list(venue, book.lst, cached_debt, cached_supply)
    eth_before = book.eth()
    execution = looper.execute(orders, atomic=True)

    assert book.position() == (0.0, 0.0)
    assert execution.gas_operation == "atomic_deleverage"
    assert execution.flash_amount > quantity(orders[0])  # the day's interest repaid too
    assert execution.flash_amount == pytest.approx(cached_debt, rel=1e-3)
    repay_fill, _, sell_fill = (f.price for f in execution.fills)
    assert repay_fill == pytest.approx(execution.flash_amount / quantity(orders[0]), rel=1e-12)
    # the books' ETH moves as the wallet's: the sale less the debt as mined and the premium
    booked = (
        -quantity(orders[0]) * repay_fill
        + quantity(orders[2]) * sell_fill * (1 - pool_fee(venue, book))
        - execution.flash_fee
        - execution.gas_eth
    )
    assert book.eth() - eth_before == pytest.approx(booked, abs=FLOAT_ETH)
    fee = premium(looper)
    assert 0 < booked < EQUITY - 2 * cached_debt * fee / (1 + fee)  # the equity less two premiums and more


def test_an_oversized_open_reverts_whole_and_pays_only_gas(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book
) -> None:
    emode_ltv = book.aave.pool.functions.getEModeCategoryData(ETH_EMODE_CATEGORY).call()[0] / 10_000
    orders = lever_list(venue, book.lst, book.rate(), emode_ltv + 0.03, premium(looper))
    eth_before = book.eth()
    with pytest.raises(ExecutionRejected) as rejected:
        looper.execute(orders, atomic=True)
    assert "openLoop would revert" in rejected.value.reason
    assert rejected.value.gas_operation == "atomic_leverage" and rejected.value.gas_eth > 0
    assert book.position() == (0.0, 0.0)
    # the route, the grant and its revocation are mined; the refused loop itself never was
    assert eth_before - book.eth() == pytest.approx(rejected.value.gas_eth, abs=FLOAT_ETH)
    assert delegation(looper, book) == 0


def test_the_health_factor_floor_of_the_chain_config_refuses_an_open_below_it(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book
) -> None:
    """An LTV Aave allows (under e-mode's 93 %) whose health factor is under the config's floor."""
    threshold = book.aave.pool.functions.getEModeCategoryData(ETH_EMODE_CATEGORY).call()[1] / 10_000
    fee, floor = premium(looper), looper.live.min_health_factor
    ltv = threshold / floor / (1 + fee) * 1.005  # its health factor: threshold / (ltv (1 + fee)) < floor
    orders = lever_list(venue, book.lst, book.rate(), ltv, fee)
    with pytest.raises(ExecutionRejected, match="health factor below the floor"):
        looper.execute(orders, atomic=True)
    assert book.position() == (0.0, 0.0)


def test_a_relever_without_eth_of_the_wallets_own_borrows_what_the_mint_stakes(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book
) -> None:
    """``LeveragedStaking._lever`` with no free ETH (after a liquidation, say): the mint's quantity
    is the new debt / rate rounded down to the size step, so it stakes a hair less than the borrow
    brings (the premium aside); the loop flash-borrows what it stakes, the debt grows by that plus
    the premium, and the borrow fills below 1 by the rounding. The wallet's ETH is all WETH, as
    after buying it on a pool, but for the gas of about one small transaction: the loop's comes
    from unwrapping some first."""
    open_loop(looper, venue, book, ltv=0.8)  # D = 40, S = 50 ETH: 20 more debt is LTV 0.857
    weth = book.aave.tokens["WETH"]
    looper.sender.send(weth.functions.deposit(), value=book.aave.w3.eth.get_balance(book.wallet.address) // 2)
    native = 100_000 * looper.sender.max_fee_per_gas()  # an unwrap's gas, not the loop's (≈ 700k)
    rpc(book.aave.w3, "anvil_setBalance", book.wallet.address, hex(native))
    supplied, debt = book.position()
    fee, extra = premium(looper), 20.0
    quantity = extra / book.rate()
    orders = steps(
        venue,
        (book.lst.mint_symbol, BUY, quantity),
        (f"A{book.lst.token}-AAVE", BUY, quantity),
        ("VDWETH-AAVE", SELL, extra * (1 + fee)),
    )
    execution = looper.execute(orders, atomic=True)
    minted = round_down(quantity, STEP)
    staked = book.rate() * minted  # what the mint stakes, ± a few wei of share rounding
    supplied_after, debt_after = book.position()
    assert supplied_after - supplied == pytest.approx(minted, abs=FLOAT_ETH)
    assert debt_after - debt == pytest.approx(staked * (1 + fee), rel=INTEREST)
    assert execution.flash_amount == pytest.approx(staked, rel=1e-12)
    assert 1 - STEP * book.rate() / extra < execution.fills[2].price < 1


def test_a_list_the_executor_cannot_run_is_refused_before_sending(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book
) -> None:
    nonce = book.aave.w3.eth.get_transaction_count(book.wallet.address)
    orders = steps(venue, ("AWETH-AAVE", BUY, 10), ("VDUSDT-AAVE", SELL, 1000))
    with pytest.raises(ExecutionRejected, match=r"ATOMIC_SHAPE: .*supply ETH 10\.00000000, borrow USDT"):
        looper.execute(orders, atomic=True)
    assert book.aave.w3.eth.get_transaction_count(book.wallet.address) == nonce


def test_the_open_list_fills_alike_on_the_simulated_backend(
    looper: Web3Backend, venue: WalletVenueConfig, book: Book, marks: dict[str, float], data_dir: Path
) -> None:
    fee = premium(looper)
    assert venue.flash_loans.fees["AAVE"] == fee  # the model's Aave fee is the local Pool's premium
    rpc(book.aave.w3, "anvil_setBalance", book.wallet.address, hex(to_wad(EQUITY + GAS_RESERVE)))
    market = aave_market(data_dir)
    for reserve in venue.aave.reserves:  # index 1, no interest: the fresh local reserves
        market.on_snapshot(AaveReserveSnapshot(reserve=reserve.asset, ts_event=0, ts_init=0))
    rates = {s.mint_symbol: rate(book.aave, s.asset) for s in venue.staking}
    model = simulated(venue, marks | rates, {"ETH": book.eth()}, market, "AAVE")
    orders = lever_list(venue, book.lst, book.rate(), TARGET_LTV, fee)
    expected = model.execute(orders, atomic=True)
    chain = looper.execute(orders, atomic=True)

    assert chain.gas_operation == expected.gas_operation == "atomic_leverage"
    for tolerance, fill, model_fill in zip((1e-9, 1e-12, 1e-12), chain.fills, expected.fills, strict=True):
        assert fill.order is model_fill.order
        assert fill.price == pytest.approx(model_fill.price, rel=tolerance)
    assert chain.flash_provider == expected.flash_provider == "AAVE"
    # the mint and the borrow quantities each rounded down to the size step
    rounding = 2 * STEP * book.rate()
    assert chain.flash_amount - expected.flash_amount == pytest.approx(GAS_RESERVE, abs=rounding)
    assert chain.flash_fee - expected.flash_fee == pytest.approx(GAS_RESERVE * fee, abs=rounding * fee)
    supply, borrow = orders[1], orders[2]
    position = market.position({f"A{book.lst.token}": quantity(supply), "VDWETH": -quantity(borrow)})
    model_hf = market.health_factor(position, model.health_prices())
    assert book.health_factor() == pytest.approx(model_hf, rel=1e-6)


def test_an_executor_of_another_account_is_refused(
    aave: LocalAave,
    uniswap: LocalUniswap,
    users: list[str],
    make_backend: Callable[..., Web3Backend],
    live_config_path: Path,
) -> None:
    foreign = deploy_executor(aave, uniswap, users[0])
    config = yaml.safe_load(live_config_path.read_text()) | {"executor": foreign.contract.address}
    live_config_path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=f"belongs to {users[0]}, not this wallet"):
        make_backend(live_config_path)


def test_an_open_worth_more_than_max_tx_value_usd_is_refused_unsent(
    looper: Web3Backend, make_backend, live_config_path: Path, venue: WalletVenueConfig, book: Book
) -> None:
    """What an open loop moves is all the ETH it stakes, the flash loan and the wallet's own
    (EQUITY + debt), at the oracle's ETH price: a cap 1 % under it refuses the list before even the
    route or a grant is sent; 1 % over it, the loop opens."""
    _, debt = leverage_targets(EQUITY, TARGET_LTV)
    value = (EQUITY + debt) * price(book.aave, "WETH")
    orders = lever_list(venue, book.lst, book.rate(), TARGET_LTV, premium(looper))
    path = live_config_path.with_name("chain_with_executor.yaml")
    sent = book.aave.w3.eth.get_transaction_count(book.wallet.address)
    capped = make_backend(path, limits=SendLimits(max_tx_value_usd=0.99 * value))
    with pytest.raises(ExecutionRejected, match=r"TX_VALUE: open loop \(flash \+ own ETH\) moves") as refused:
        capped.execute(orders, atomic=True)
    assert refused.value.gas_eth is None and book.position() == (0.0, 0.0)
    assert book.aave.w3.eth.get_transaction_count(book.wallet.address) == sent
    make_backend(path, limits=SendLimits(max_tx_value_usd=1.01 * value)).execute(orders, atomic=True)
    assert book.position()[1] == pytest.approx(debt * (1 + premium(looper)), rel=1e-6)
