"""Transactions the local-chain tests repeat: fund, supply, read the account (anvil's unlocked accounts)."""

from __future__ import annotations

from typing import Any

from localchain.aave import LocalAave

ETHER = 10**18
MAX = 2**256 - 1
"""Aave's "all of it" amount for repay and withdraw."""


def units(aave: LocalAave, symbol: str, amount: float) -> int:
    return round(amount * 10 ** aave.tokens[symbol].functions.decimals().call())


def price(aave: LocalAave, symbol: str) -> float:
    """USD price the test set on the asset's aggregator (8 decimals, as AaveOracle reports it)."""
    return aave.aggregators[symbol].functions.latestAnswer().call() / 1e8


def send(aave: LocalAave, call: Any, sender: str, value: int = 0) -> int:
    """Send and check the transaction succeeded; returns the ETH (wei) it cost in gas."""
    tx = call.transact({"from": sender, "value": value})
    receipt = aave.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def fund(aave: LocalAave, user: str, symbol: str, amount: float) -> int:
    """Give ``user`` the token (WETH by wrapping ETH, USDT minted by its owner); approve the Pool."""
    raw = units(aave, symbol, amount)
    token = aave.tokens[symbol]
    if symbol == "WETH":
        send(aave, token.functions.deposit(), user, value=raw)
    else:
        send(aave, token.functions.mint(user, raw), aave.admin)
    send(aave, token.functions.approve(aave.pool.address, raw), user)
    return raw


def supply(aave: LocalAave, user: str, symbol: str, amount: float) -> int:
    raw = fund(aave, user, symbol, amount)
    send(aave, aave.pool.functions.supply(aave.tokens[symbol].address, raw, user, 0), user)
    return raw


def account(aave: LocalAave, user: str) -> dict[str, int]:
    names = ("collateral", "debt", "available", "threshold", "ltv", "health_factor")
    return dict(zip(names, aave.pool.functions.getUserAccountData(user).call(), strict=True))


def stake_and_wrap(aave: LocalAave, user: str, symbol: str, eth: float) -> int:
    """ETH → stETH (``submit``) → wstETH, or ETH → eETH (``deposit``) → weETH; returns the wrapped amount."""
    staking, wrapper = aave.staking[symbol], aave.tokens[symbol]
    stake = staking.functions.submit(user) if symbol == "wstETH" else staking.functions.deposit()
    send(aave, stake, user, value=round(eth * ETHER))
    rebasing = staking.functions.balanceOf(user).call()
    send(aave, staking.functions.approve(wrapper.address, rebasing), user)
    send(aave, wrapper.functions.wrap(rebasing), user)
    return wrapper.functions.balanceOf(user).call()


def rate(aave: LocalAave, symbol: str) -> float:
    wrapper = aave.tokens[symbol].functions
    return (wrapper.stEthPerToken() if symbol == "wstETH" else wrapper.getRate()).call() / ETHER
