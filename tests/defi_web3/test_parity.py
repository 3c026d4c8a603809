"""Parity for single orders: the same order through the SimulatedBackend (marks set to the chain's
starting state) and through the Web3Backend gives the same fill price, within stated tolerances.

Where they differ and why:

* swap sell: the model applies the pool's price impact to the whole amount and takes the fee out
  of the output; Uniswap takes the fee from the input first. The fill prices differ by ~fee ×
  amount / reserves (≈1e-7 here), plus the instrument's price tick (0.01 USDT ≈ 2.4e-6).
* swap buy: Uniswap charges the input amount / (1 − fee), the model price × (1 + fee): the
  booked prices differ by a factor 1 / (1 − fee²), 9e-6 for the 0.3 % pool.
* staking and the withdrawal queue: both at the protocol rate, to its 1e-10 tick.
* Aave: 1:1 in both by construction (checked against the chain in test_orders), not repeated here.

Gas units: each operation's on chain against the model's units, within a stated band per
operation (:data:`GAS_RATIO_BOUNDS`; the differences are the chain's, see README).

Atomic order lists: ``test_atomic``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from nautilus_trader.model.enums import OrderSide

from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from localchain.aave import LocalAave
from tests.defi_web3.conftest import order
from tests.defi_web3.model import simulated
from tests.defi_web3.test_atomic import (
    EXIT_BUFFER,
    LIQUIDITY,
    TARGET_LTV,
    Book,
    lever_list,
    premium,
    repay_and_sell_list,
)
from tests.defi_web3.test_deposits import EXCHANGE, deposits
from tests.localchain.helpers import rate, send, supply, units

BUY, SELL = OrderSide.BUY, OrderSide.SELL
TICK = 2.5e-6
"""ETHUSDT's 0.01 price tick relative to a ~4,000 USDT price."""


@pytest.mark.parametrize(
    ("symbol", "side", "quantity", "tolerance"),
    [
        ("ETHUSDT-UNIV3", SELL, "2", TICK + 1e-6),
        ("ETHUSDT-UNIV3", BUY, "2", TICK + 0.003**2),
        ("WSTETH-LIDO", BUY, "3", 1e-9),
        ("WEETH-ETHERFI", BUY, "3", 1e-9),
        ("WSTETH-LIDOQ", SELL, "1", 1e-9),
        ("WSTETHETH-UNIV3", SELL, "1", 1e-6),
    ],
)
def test_one_order_fills_alike_on_both_backends(
    aave: LocalAave,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    marks: dict[str, float],
    symbol: str,
    side: OrderSide,
    quantity: str,
    tolerance: float,
) -> None:
    if side == BUY and symbol == "ETHUSDT-UNIV3":  # the chain wallet needs USDT to buy with
        aave.tokens["USDT"].functions.mint(backend.me, units(aave, "USDT", 100_000)).transact()
    if symbol in ("WSTETH-LIDOQ", "WSTETHETH-UNIV3"):  # … or the LST to redeem or sell
        backend.execute([order(venue, "WSTETH-LIDO", BUY, "2")], atomic=False)
    rates = {f"{s.token}-{s.protocol}": rate(aave, s.asset) for s in venue.staking}
    model = simulated(venue, marks | rates).execute([order(venue, symbol, side, quantity)], atomic=False)
    chain = backend.execute([order(venue, symbol, side, quantity)], atomic=False)
    assert chain.gas_operation == model.gas_operation
    assert chain.fills[0].price == pytest.approx(model.fills[0].price, rel=tolerance)
    assert len(chain.queued) == len(model.queued)
    for (token, eth, _), (model_token, model_eth, _) in zip(chain.queued, model.queued, strict=True):
        assert token == model_token and eth == pytest.approx(model_eth, rel=1e-9)


GAS_RATIO_BOUNDS: dict[str, tuple[float, float]] = {
    "set_emode": (0.9, 1.35),
    "token_swap": (0.75, 1.25),
    "stake": (1.0, 1.3),
    "unstake_request": (0.75, 1.3),
    "aave_supply": (0.7, 1.1),
    "aave_withdraw": (0.7, 1.45),
    "aave_borrow": (0.75, 1.0),
    "aave_repay": (0.6, 0.85),
    "atomic_leverage": (0.4, 0.7),
    "atomic_deleverage": (0.5, 0.7),
    "erc20_transfer": (0.3, 0.6),
}
"""Per operation, the band the chain's gas units (all the transactions of one order, from their
receipts) must fall in, as a multiple of the model's units (``configs/venues/ethereum.yaml``, the
data set's mainnet figures, kept as they are). Measured here, first time / again (cold / warm
storage; the first atomic loop also registers the LST's route): set_emode 66,196 vs 55,000;
swap sell 208,118 / 151,899 and buy 189,031 / 178,946 vs 180,000; stake 175,476 / 165,525 vs
150,000; unstake request 244,905 / 164,496 vs 200,000; supply ETH 250,908 / 240,733 and USDT
215,626 / 186,233 vs 250,000; withdraw 164,398 / 268,808 (with debt: the health check; 297,632
in a CI run, whose chain had served other tests first: the check's storage reads) vs 220,000; borrow 253,917 / 257,120 vs 300,000; repay 198,723 vs 280,000; open loop 752,403 /
576,066 vs 1,250,000; deleverage 661,049 / 630,722 vs 1,100,000; ERC-20 transfer 51,606 / 34,506
vs 100,000. Why they differ: README, "The web3 backend" (gas units)."""


def gas_used_since(aave: LocalAave, sender: str, block: int) -> int:
    """Gas units of every transaction ``sender`` had mined after ``block`` (their receipts)."""
    used = 0
    for number in range(block + 1, aave.w3.eth.block_number + 1):
        for tx in aave.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == sender:
                used += aave.w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"]
    return used


def test_each_operations_gas_on_chain_is_the_models_units_within_its_stated_band(
    aave: LocalAave,
    users: list[str],
    executor_backend: Web3Backend,
    venue: WalletVenueConfig,
    wallet: LocalAccount,
    marks: dict[str, float],
) -> None:
    """Every order type of the wallet, twice (first with cold storage and fresh allowances, then
    warm), on one wallet in e-mode with its executor: each order's gas units, summed over its
    transactions, against its operation's modelled units (:data:`GAS_RATIO_BOUNDS`)."""
    backend = executor_backend
    supply(aave, users[0], "USDT", 100_000)
    supply(aave, users[1], "WETH", LIQUIDITY)
    send(aave, aave.tokens["USDT"].functions.mint(wallet.address, units(aave, "USDT", 10_000)), aave.admin)
    lst = next(s for s in venue.staking if s.token == "WEETH")
    book = Book(aave, wallet, lst)
    exit_price = marks[lst.market_pool] * (1 - float(venue.pool(lst.market_pool).fee)) / (1 + EXIT_BUFFER)
    cex = Account.create().address
    measured: list[tuple[str, str, int]] = []

    def measure(what: str, act: Callable[[], str]) -> None:
        block = aave.w3.eth.block_number
        operation = act()
        measured.append((operation, what, gas_used_since(aave, backend.me, block)))

    def one(symbol: str, side: OrderSide, quantity: str) -> Callable[[], str]:
        return lambda: backend.execute([order(venue, symbol, side, quantity)], atomic=False).gas_operation

    def repay_and_sell() -> str:
        repay = book.position()[1] * 0.3
        orders = repay_and_sell_list(venue, lst, repay, repay * (1 + premium(backend)) / exit_price)
        return backend.execute(orders, atomic=True).gas_operation

    def deposit() -> str:
        deposits(backend, cex).deposit(EXCHANGE, "USDT", Decimal(10), cex)
        return "erc20_transfer"

    measure("enter e-mode", lambda: backend.set_emode().gas_operation)
    for _ in range(2):
        measure("sell ETH", one("ETHUSDT-UNIV3", SELL, "2"))
        measure("buy ETH", one("ETHUSDT-UNIV3", BUY, "1"))
        measure("stake wstETH", one("WSTETH-LIDO", BUY, "5"))
        measure("stake weETH", one("WEETH-ETHERFI", BUY, "5"))
        measure("queue wstETH", one("WSTETH-LIDOQ", SELL, "2"))
        measure("supply ETH", one("AWETH-AAVE", BUY, "10"))
        measure("supply USDT", one("AUSDT-AAVE", BUY, "100"))
        measure("withdraw ETH", one("AWETH-AAVE", SELL, "4"))
        measure("borrow ETH", one("VDWETH-AAVE", SELL, "2"))
        measure("repay ETH", one("VDWETH-AAVE", BUY, "1"))
        lever = lever_list(venue, lst, book.rate(), TARGET_LTV, premium(backend))
        measure("open loop", lambda lever=lever: backend.execute(lever, atomic=True).gas_operation)
        measure("deleverage", repay_and_sell)
        measure("deposit to a CEX", deposit)

    assert {operation for operation, _, _ in measured} == set(GAS_RATIO_BOUNDS)
    outside = []
    for operation, what, used in measured:
        low, high = GAS_RATIO_BOUNDS[operation]
        modelled = venue.gas_units_for(operation)
        if not low <= used / modelled <= high:
            outside.append(f"{what}: {used:,} gas on chain, {modelled:,} modelled ({operation})")
    assert outside == []
