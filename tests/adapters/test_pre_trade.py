"""Pre-trade checks: the simulated venues reject what Binance/Bybit/OKX or a wallet would reject."""

from __future__ import annotations

import pytest
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.events import TransferKind
from tests.sim_harness import do, flat_bars, run_sim, ts

SPOT, PERP, POOL = "BTCUSDT.BINANCE_SPOT", "BTCUSDT-PERP.BINANCE", "ETHUSDT-UNIV3.ETHEREUM"
TAKER = 0.001  # configs/venues/binance.yaml, spot


def _bars(instruments):
    return [
        *flat_bars(instruments[SPOT], range(0, 8), 50_000.0),
        *flat_bars(instruments[PERP], range(0, 8), 50_000.0),
        *flat_bars(instruments[POOL], range(0, 8), 3_000.0),
    ]


def _run(
    actions_at_3: list,
    futures: float = 0.0,
    wallet_eth: float = 1.0,
    capital: float = 100_000.0,
    at_4: list | None = None,
):
    script = {
        ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 10_000))],
        ts(2): [do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", futures))] if futures else [],
        ts(3): actions_at_3,
        ts(4): at_4 or [],
    }
    return run_sim(
        bars=_bars, script=script, subscribe=(SPOT, PERP, POOL), wallet_eth=wallet_eth, capital=capital
    )


def _market(iid: str, side: OrderSide, qty: str, reduce_only: bool = False):
    return do(lambda s: s.market(InstrumentId.from_str(iid), side, qty, reduce_only))


def test_spot_buy_beyond_the_spot_wallet_is_rejected():
    # 10,000 USDT buys at most 10,000 / 50,000 = 0.2 BTC: Binance takes the fee in the BTC bought
    sim = _run([_market(SPOT, OrderSide.BUY, "0.20001")])
    assert len(sim.strategy.rejections) == 1 and "INSUFFICIENT_BALANCE" in sim.strategy.rejections[0]
    sim = _run([_market(SPOT, OrderSide.BUY, "0.20000")])
    assert sim.strategy.rejections == [] and len(sim.strategy.fills) == 1


def test_spot_sell_of_coins_not_held_is_rejected():
    # Binance takes the buy's fee in the coins bought: 0.1 BTC bought leaves 0.1 × (1 − 0.1 %)
    held = f"{0.1 * (1 - TAKER):.5f}"
    sim = _run([_market(SPOT, OrderSide.BUY, "0.10000")], at_4=[_market(SPOT, OrderSide.SELL, held)])
    assert sim.strategy.rejections == []
    sim = _run([_market(SPOT, OrderSide.BUY, "0.10000")], at_4=[_market(SPOT, OrderSide.SELL, "0.10000")])
    assert "INSUFFICIENT_BALANCE" in sim.strategy.rejections[0]
    sim = _run([_market(SPOT, OrderSide.SELL, "0.01000")])
    assert "INSUFFICIENT_BALANCE" in sim.strategy.rejections[0]


def test_perp_orders_need_initial_margin_in_the_futures_wallet_not_the_spot_wallet():
    # spot cash does not back perps: with nothing in the futures wallet the short is rejected
    sim = _run([_market(PERP, OrderSide.SELL, "0.010")])
    assert "INSUFFICIENT_MARGIN" in sim.strategy.rejections[0]
    # 100 USDT of futures margin backs 0.008 × 50,000 × 0.2 = 80 of initial margin (+ 0.1 fee)
    sim = _run([_market(PERP, OrderSide.SELL, "0.200")], futures=100.0)
    assert sim.strategy.rejections == []
    sim = _run([_market(PERP, OrderSide.SELL, "0.300")], futures=100.0)
    assert "INSUFFICIENT_MARGIN" in sim.strategy.rejections[0]


def test_reduce_only_orders_are_always_accepted():
    sim = _run(
        [_market(PERP, OrderSide.SELL, "0.200"), _market(PERP, OrderSide.BUY, "0.200", reduce_only=True)],
        futures=100.0,
    )
    assert sim.strategy.rejections == []
    assert len(sim.strategy.fills) == 2


def test_orders_below_the_minimum_notional_are_rejected():
    # Binance USDT-M BTC needs 100 USDT of notional; 0.001 BTC at 50,000 is 50
    sim = _run([_market(PERP, OrderSide.SELL, "0.001")], futures=100.0)
    assert "MIN_NOTIONAL" in sim.strategy.rejections[0]


def test_wallet_swaps_need_the_tokens_and_the_gas():
    sim = _run([_market(POOL, OrderSide.BUY, "40.000000")], capital=100_000.0)  # 120,360 USDT > 90,000 left
    assert "INSUFFICIENT_BALANCE" in sim.strategy.rejections[0]
    # the deposit's gas left 0.999 ETH: selling all of it leaves nothing for the swap's 0.0018 gas
    sim = _run([_market(POOL, OrderSide.SELL, "0.999000")], wallet_eth=1.0)
    assert "INSUFFICIENT_GAS: token_swap needs 0.001800 ETH" in sim.strategy.rejections[0]
    sim = _run([_market(POOL, OrderSide.SELL, "1.000000")], wallet_eth=1.0)
    assert "INSUFFICIENT_BALANCE: the wallet would end short of ETH" in sim.strategy.rejections[0]
    sim = _run([_market(POOL, OrderSide.SELL, "0.990000")], wallet_eth=1.0)
    assert sim.strategy.rejections == []
    swap_gas, deposit_gas = 180_000 * 10e-9, 100_000 * 10e-9
    eth = sim.balance("ETHEREUM", currency=sim.instruments[POOL].base_currency)
    assert eth == pytest.approx(1.0 - 0.99 - swap_gas - deposit_gas)
