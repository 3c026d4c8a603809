"""Every wallet-venue order type through :class:`Web3Backend` on the real Aave v3 / Uniswap v3
contracts and the LST stand-ins: fills checked against the on-chain balances, and expectations
computed here from the contracts' own state (rates, pool reserves), not from the backend."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from nautilus_trader.model.enums import OrderSide

from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from localchain.aave import ETH_EMODE_CATEGORY, LocalAave
from localchain.uniswap import LocalUniswap
from tests.defi_web3.conftest import order
from tests.localchain.helpers import ETHER, account, rate, supply

BUY, SELL = OrderSide.BUY, OrderSide.SELL
INTEREST = 1e-7
"""Relative drift an aToken or debt balance may gain from interest over the test's few blocks."""


def eth_held(aave: LocalAave, wallet: LocalAccount) -> float:
    """Native ETH + WETH: one ETH balance, as the wallet venue counts it."""
    weth = aave.tokens["WETH"].functions.balanceOf(wallet.address).call()
    return (aave.w3.eth.get_balance(wallet.address) + weth) / ETHER


def balance(aave: LocalAave, contract_of: dict, symbol: str, wallet: LocalAccount) -> float:
    token = contract_of[symbol]
    return token.functions.balanceOf(wallet.address).call() / 10 ** token.functions.decimals().call()


def test_supply_and_withdraw_weth(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    start = eth_held(aave, wallet)
    supplied = backend.execute([order(venue, "AWETH-AAVE", BUY, "10")], atomic=False)
    assert supplied.gas_operation == "aave_supply" and supplied.gas_eth > 0
    assert supplied.fills[0].price == pytest.approx(1.0, rel=INTEREST)
    assert balance(aave, aave.a_tokens, "WETH", wallet) == pytest.approx(10, rel=INTEREST)
    assert eth_held(aave, wallet) == pytest.approx(start - 10 - supplied.gas_eth, abs=1e-12)

    withdrawn = backend.execute([order(venue, "AWETH-AAVE", SELL, "4")], atomic=False)
    assert withdrawn.gas_operation == "aave_withdraw"
    assert withdrawn.fills[0].price == pytest.approx(1.0, rel=INTEREST)
    assert balance(aave, aave.a_tokens, "WETH", wallet) == pytest.approx(6, rel=INTEREST)
    gas = supplied.gas_eth + withdrawn.gas_eth
    assert eth_held(aave, wallet) == pytest.approx(start - 6 - gas, abs=1e-12)


def test_borrow_and_repay_usdt(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount, users: list[str]
) -> None:
    supply(aave, users[0], "USDT", 100_000)  # a lender: the fresh reserve has nothing to lend
    backend.execute([order(venue, "AWETH-AAVE", BUY, "10")], atomic=False)
    borrowed = backend.execute([order(venue, "VDUSDT-AAVE", SELL, "5000")], atomic=False)
    assert borrowed.gas_operation == "aave_borrow"
    assert borrowed.fills[0].price == pytest.approx(1.0, rel=INTEREST)
    assert balance(aave, aave.tokens, "USDT", wallet) == 5000
    assert balance(aave, aave.debt_tokens, "USDT", wallet) == pytest.approx(5000, rel=INTEREST)

    repaid = backend.execute([order(venue, "VDUSDT-AAVE", BUY, "2000")], atomic=False)
    assert repaid.gas_operation == "aave_repay"
    assert repaid.fills[0].price == pytest.approx(1.0, rel=INTEREST)
    assert balance(aave, aave.tokens, "USDT", wallet) == 3000
    assert balance(aave, aave.debt_tokens, "USDT", wallet) == pytest.approx(3000, rel=INTEREST)
    # the Pool pulled exactly the repayment: nothing is left approved
    assert aave.tokens["USDT"].functions.allowance(wallet.address, aave.pool.address).call() == 0


def test_emode_is_entered_and_raises_the_ltv(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    outside = account(aave, wallet.address)["ltv"]
    start = eth_held(aave, wallet)
    entered = backend.set_emode()
    assert entered.gas_operation == "set_emode" and entered.fills == ()
    assert aave.pool.functions.getUserEMode(wallet.address).call() == ETH_EMODE_CATEGORY
    category_ltv = aave.pool.functions.getEModeCategoryData(ETH_EMODE_CATEGORY).call()[0]
    assert account(aave, wallet.address)["ltv"] == category_ltv > outside
    assert eth_held(aave, wallet) == pytest.approx(start - entered.gas_eth, abs=1e-12)


@pytest.mark.parametrize(
    ("token", "asset", "protocol"), [("WSTETH", "wstETH", "LIDO"), ("WEETH", "weETH", "ETHERFI")]
)
def test_staking_mints_the_lst_at_the_protocol_rate(
    aave: LocalAave,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    wallet: LocalAccount,
    token: str,
    asset: str,
    protocol: str,
) -> None:
    start, protocol_rate = eth_held(aave, wallet), rate(aave, asset)
    staked = backend.execute([order(venue, f"{token}-{protocol}", BUY, "5")], atomic=False)
    assert staked.gas_operation == "stake"
    held = balance(aave, aave.tokens, asset, wallet)
    assert held == pytest.approx(5, abs=1e-15)  # whole wei rounding of shares
    assert staked.fills[0].price == pytest.approx(protocol_rate, rel=1e-15)
    assert eth_held(aave, wallet) == pytest.approx(start - 5 * protocol_rate - staked.gas_eth, abs=1e-12)


@pytest.mark.parametrize(
    ("token", "asset", "protocol"), [("WSTETH", "wstETH", "LIDO"), ("WEETH", "weETH", "ETHERFI")]
)
def test_withdrawal_queue_request_then_claim_once_finalised(
    aave: LocalAave,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    wallet: LocalAccount,
    token: str,
    asset: str,
    protocol: str,
) -> None:
    backend.execute([order(venue, f"{token}-{protocol}", BUY, "5")], atomic=False)
    protocol_rate = rate(aave, asset)
    requested = backend.execute([order(venue, f"{token}-{protocol}Q", SELL, "2")], atomic=False)
    assert requested.gas_operation == "unstake_request"
    assert requested.fills[0].price == pytest.approx(protocol_rate, rel=1e-15)
    (lst, queued_eth, due_ns) = requested.queued[0]
    assert lst == token and queued_eth == pytest.approx(2 * protocol_rate, rel=1e-15)
    delay = next(s.withdrawal_delay_hours for s in venue.staking if s.token == token)
    now = aave.w3.eth.get_block("latest")["timestamp"]
    assert due_ns == (now + delay * 3600) * 10**9
    assert balance(aave, aave.tokens, asset, wallet) == pytest.approx(3, abs=1e-15)

    start = eth_held(aave, wallet)
    early = backend.claim_withdrawals()  # not finalised: nothing sent, nothing spent
    assert (early.requests, early.eth, early.gas_eth) == (0, 0.0, 0.0)
    assert eth_held(aave, wallet) == start

    staking = aave.staking[asset]
    staking.functions.finalize(staking.functions.lastFinalizedRequestId().call() + 1).transact()
    claimed = backend.claim_withdrawals()
    assert claimed.requests == 1 and backend.pending_requests == []
    assert claimed.eth == pytest.approx(queued_eth, abs=1e-15)
    assert eth_held(aave, wallet) == pytest.approx(start + queued_eth - claimed.gas_eth, abs=1e-12)


def reserves(uniswap: LocalUniswap, symbol: str) -> tuple[float, float]:
    """The pool's virtual (base, quote) reserves in token units, from its liquidity and price:
    a full-range position is the constant-product pool x·y = L²."""
    pool = uniswap.pools[symbol]
    liquidity = pool.contract.functions.liquidity().call()
    sqrt_price = pool.contract.functions.slot0().call()[0] / 2**96  # √(token1 / token0), raw units
    token0, token1 = liquidity / sqrt_price, liquidity * sqrt_price
    base_is_token0 = int(pool.base.address, 16) < int(pool.quote.address, 16)
    base, quote = (token0, token1) if base_is_token0 else (token1, token0)
    decimals = [t.functions.decimals().call() for t in (pool.base, pool.quote)]
    return base / 10 ** decimals[0], quote / 10 ** decimals[1]


def test_swaps_both_directions_fill_at_the_pools_constant_product_price(
    aave: LocalAave,
    uniswap: LocalUniswap,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    wallet: LocalAccount,
) -> None:
    symbol, fee = "ETHUSDT-UNIV3", float(venue.pool("ETHUSDT-UNIV3").fee)
    eth, usdt = reserves(uniswap, symbol)
    start = eth_held(aave, wallet)
    sold = backend.execute([order(venue, symbol, SELL, "2")], atomic=False)
    expected_out = usdt * 2 * (1 - fee) / (eth + 2 * (1 - fee))
    assert balance(aave, aave.tokens, "USDT", wallet) == pytest.approx(expected_out, rel=1e-6)
    assert sold.fills[0].price == pytest.approx(expected_out / (2 * (1 - fee)), rel=1e-6)
    assert eth_held(aave, wallet) == pytest.approx(start - 2 - sold.gas_eth, abs=1e-12)

    eth, usdt = reserves(uniswap, symbol)
    held = balance(aave, aave.tokens, "USDT", wallet)
    bought = backend.execute([order(venue, symbol, BUY, "1")], atomic=False)
    expected_in = usdt * 1 / (eth - 1) / (1 - fee)  # Uniswap's fee is on the input
    assert held - balance(aave, aave.tokens, "USDT", wallet) == pytest.approx(expected_in, rel=1e-6)
    assert bought.fills[0].price == pytest.approx(expected_in / (1 + fee), rel=1e-6)
    gas = sold.gas_eth + bought.gas_eth
    assert eth_held(aave, wallet) == pytest.approx(start - 2 + 1 - gas, abs=1e-12)
