"""The replay's levers on the local chain (``localchain.market``) put it where the recorded data says."""

from __future__ import annotations

import pytest

from localchain.aave import LocalAave
from localchain.market import ChainMarket
from localchain.uniswap import LocalUniswap, mark
from tests.localchain.helpers import price, rate, supply


@pytest.fixture
def market(aave: LocalAave, uniswap: LocalUniswap) -> ChainMarket:
    return ChainMarket(aave, uniswap)


@pytest.mark.parametrize("move", [1.07, 0.93])
def test_a_pool_is_arbitraged_to_the_recorded_price(market: ChainMarket, uniswap: LocalUniswap, move: float):
    for symbol, pool in uniswap.pools.items():
        target = market.pool_price(pool) * move
        market.move_pool(symbol, target)
        assert market.pool_price(pool) == pytest.approx(target, rel=1e-9)


def test_the_oracle_and_the_lst_rate_follow_the_recorded_values(aave: LocalAave, market: ChainMarket):
    market.set_price("WETH", 3_210.5)
    market.set_lst_rate("weETH", 1.0412)
    assert price(aave, "WETH") == 3_210.5
    assert rate(aave, "weETH") == pytest.approx(1.0412, rel=1e-15)
    # Aave prices the LST at ETH/USD × its rate
    assert mark(aave, aave.tokens["weETH"], aave.tokens["WETH"]) == pytest.approx(1.0412, rel=1e-7)


@pytest.mark.parametrize("utilizations", [(0.8, 0.3), (0.5, 0.9)])
def test_a_reserve_is_borrowed_to_the_recorded_utilization(
    aave: LocalAave, market: ChainMarket, users: list[str], utilizations: tuple[float, float]
):
    supply(aave, users[0], "USDT", 250_000)
    for utilization in utilizations:
        market.set_utilization("USDT", utilization)
        debt = aave.debt_tokens["USDT"].functions.totalSupply().call()
        supplied = aave.a_tokens["USDT"].functions.totalSupply().call()
        assert debt / supplied == pytest.approx(utilization, rel=1e-6)


def test_the_clock_moves_to_the_hour_asked(market: ChainMarket):
    target = market.now() + 3_600
    market.advance_to(target)
    assert market.now() == target


def test_the_blocks_after_the_hour_follow_on_from_it(market: ChainMarket):
    target = market.now() + 7_200
    market.advance_to(target)
    market.advance_to(target)  # already there: only mines, at or after the hour
    assert target <= market.now() <= target + 5
