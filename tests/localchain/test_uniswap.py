"""Uniswap v3 pools on the local chain cost what the model's constant-product pools cost.

Expected amounts come from :mod:`adapters.defi.dex` at the configured depth and fee and the oracle
mark, never from a chain run.
"""

from __future__ import annotations

import pytest

from adapters.defi import dex
from localchain.aave import LocalAave
from localchain.uniswap import DEADLINE, LocalUniswap, mark
from tests.localchain.helpers import ETHER, fund, send, stake_and_wrap


def swap(aave: LocalAave, uniswap: LocalUniswap, user: str, pool: str, sell_base: bool, raw_in: int) -> int:
    """Swap exactly ``raw_in`` through the SwapRouter; check QuoterV2 quoted the same; return the output."""
    local = uniswap.pools[pool]
    token_in, token_out = (local.base, local.quote) if sell_base else (local.quote, local.base)
    send(aave, token_in.functions.approve(uniswap.router.address, raw_in), user)
    quoted = uniswap.quoter.functions.quoteExactInputSingle(
        (token_in.address, token_out.address, raw_in, local.fee, 0)
    ).call()[0]
    before = token_out.functions.balanceOf(user).call()
    params = (token_in.address, token_out.address, local.fee, user, DEADLINE, raw_in, 0, 0)
    send(aave, uniswap.router.functions.exactInputSingle(params), user)
    received = token_out.functions.balanceOf(user).call() - before
    assert received == quoted
    return received


def test_pools_start_at_the_oracle_mark_with_the_real_fee(aave: LocalAave, uniswap: LocalUniswap) -> None:
    assert set(uniswap.pools) == {"ETHUSDT-UNIV3", "WSTETHETH-UNIV3", "WEETHETH-CURVE"}
    for local in uniswap.pools.values():
        assert local.contract.functions.fee().call() == round(float(local.spec.fee) * 1_000_000)
        sqrt_price = local.contract.functions.slot0().call()[0]
        raw = (sqrt_price / 2**96) ** 2  # token1 per token0, raw units
        decimals = local.base.functions.decimals().call() - local.quote.functions.decimals().call()
        base_is_token0 = local.contract.functions.token0().call() == local.base.address
        pool_price = (raw if base_is_token0 else 1 / raw) * 10**decimals
        assert pool_price == pytest.approx(mark(aave, local.base, local.quote), rel=1e-12)


def test_selling_eth_for_usdt_matches_the_model(
    aave: LocalAave, uniswap: LocalUniswap, users: list[str]
) -> None:
    spec, user = uniswap.pools["ETHUSDT-UNIV3"].spec, users[0]
    price = mark(aave, aave.tokens["WETH"], aave.tokens["USDT"])
    fund(aave, user, "WETH", 500)  # ≈7 % of the pool's ETH: a visible price impact
    received = swap(aave, uniswap, user, "ETHUSDT-UNIV3", True, 500 * ETHER)
    expected = dex.sell_base(500, price, spec.depth, float(spec.fee))
    assert expected.impact > 0.05
    assert received / 1e6 == pytest.approx(expected.amount_out, rel=1e-9)


def test_buying_eth_with_usdt_matches_the_model(
    aave: LocalAave, uniswap: LocalUniswap, users: list[str]
) -> None:
    spec, user = uniswap.pools["ETHUSDT-UNIV3"].spec, users[0]
    price = mark(aave, aave.tokens["WETH"], aave.tokens["USDT"])
    fund(aave, user, "USDT", 3_000_000)
    received = swap(aave, uniswap, user, "ETHUSDT-UNIV3", False, 3_000_000 * 10**6)
    expected = dex.base_for_quote(3_000_000, price, spec.depth, float(spec.fee))
    assert received / ETHER == pytest.approx(expected.amount_out, rel=1e-9)


@pytest.mark.parametrize(("pool", "lst"), [("WSTETHETH-UNIV3", "wstETH"), ("WEETHETH-CURVE", "weETH")])
def test_selling_an_lst_for_eth_matches_the_model(
    aave: LocalAave, uniswap: LocalUniswap, users: list[str], pool: str, lst: str
) -> None:
    """The fast exit of the LST modes: 1,000 ETH worth sold at the pool's fee and modelled depth."""
    spec, user = uniswap.pools[pool].spec, users[0]
    price = mark(aave, aave.tokens[lst], aave.tokens["WETH"])
    wrapped = stake_and_wrap(aave, user, lst, 1_000)
    received = swap(aave, uniswap, user, pool, True, wrapped)
    expected = dex.sell_base(wrapped / ETHER, price, spec.depth, float(spec.fee))
    assert received / ETHER == pytest.approx(expected.amount_out, rel=1e-9)
