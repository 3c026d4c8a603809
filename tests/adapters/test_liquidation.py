"""Liquidation: a perp bar's adverse extreme through the liquidation price closes the position.

Hand computation for the Binance BTC short used below (maintenance 0.4%, taker 0.05%):
deposit 1,000 USDT, all to the futures wallet, short 1 BTC at 50,000 paying 25 fee, so the
futures wallet F = 975. Margin balance F + 1·(50,000 − P) meets maintenance 0.004·P at
P_liq = (975 + 50,000) / 1.004 = 50,771.91 → 50,771.9 on the 0.1 tick.
"""

from __future__ import annotations

import pytest
from nautilus_trader.model.enums import OrderSide

from adapters.cex.liquidation_fills import VENUE_TAG, is_liquidation_fill
from adapters.cex.margin import PerpState, VenueWallets, liquidation_price
from adapters.events import TransferKind
from tests.sim_harness import bar, do, flat_bars, run_sim, ts

PERP = "BTCUSDT-PERP.BINANCE"
P_LIQ = 50_771.9
TAKER = 0.0005


def _short_with_thin_margin() -> dict:
    return {
        ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 1_000))],
        ts(2): [do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", 1_000))],
        ts(3): [do(lambda s: s.market(s.instrument_ids[0], OrderSide.SELL, "1.000"))],
    }


def _bars(spike: tuple[float, float, float, float]):
    def bars(instruments):
        perp = instruments[PERP]
        return [
            *flat_bars(perp, range(0, 5), 50_000.0),
            bar(perp, 5, *spike),
            *flat_bars(perp, range(6, 8), 50_500.0),
        ]

    return bars


def test_liquidation_price_matches_the_hand_computation():
    wallets = VenueWallets(
        "BINANCE", 0.0, 0.0, 975.0, (), (PerpState(None, -1.0, 50_000.0, 50_000.0, 0.004, 0.008),)
    )
    assert liquidation_price(wallets, wallets.perps[0]) == pytest.approx((975 + 50_000) / 1.004)
    long = PerpState(None, 2.0, 50_000.0, 50_000.0, 0.004, 0.008)
    wallets = VenueWallets("BINANCE", 0.0, 0.0, 5_000.0, (), (long,))
    # F + 2 (P − 50,000) = 0.004 · 2 P  →  P = (100,000 − 5,000) / (2 · 0.996)
    assert liquidation_price(wallets, long) == pytest.approx(95_000 / 1.992)


def test_high_through_the_liquidation_price_closes_the_short_at_that_price():
    sim = run_sim(
        bars=_bars((50_000.0, 51_000.0, 49_900.0, 50_400.0)),
        script=_short_with_thin_margin(),
        subscribe=(PERP,),
    )
    (event,) = sim.strategy.liquidation_events
    assert event.ts_event == ts(5)
    assert event.price == pytest.approx(P_LIQ)
    assert event.signed_base_qty == pytest.approx(-1.0)
    assert event.mark == pytest.approx(50_400.0)
    margin_after_close = 975.0 - (P_LIQ - 50_000.0) - P_LIQ * TAKER
    assert event.fee == pytest.approx(min(0.004 * P_LIQ, margin_after_close))
    assert event.insurance_credit == 0.0
    cache = sim.engine.cache
    liquidation_fill = [
        f for f in sim.strategy.fills if is_liquidation_fill(f, cache.order(f.client_order_id))
    ]
    assert len(liquidation_fill) == 1 and liquidation_fill[0].last_px.as_double() == pytest.approx(P_LIQ)
    # shaped as Binance's live liquidation: its ``autoclose-`` id, an order the venue originated
    assert liquidation_fill[0].client_order_id.value == f"autoclose-{ts(5)}"
    assert cache.order(liquidation_fill[0].client_order_id).tags == [VENUE_TAG]
    assert sim.engine.cache.positions_open(instrument_id=sim.instruments[PERP].id) == []
    # everything left in the futures wallet was forfeited: the account keeps nothing
    assert sim.balance("BINANCE") == pytest.approx(0.0, abs=1e-6)


def test_high_below_the_liquidation_price_changes_nothing():
    sim = run_sim(
        bars=_bars((50_000.0, 50_700.0, 49_900.0, 50_400.0)),
        script=_short_with_thin_margin(),
        subscribe=(PERP,),
    )
    assert sim.strategy.liquidation_events == []
    assert len(sim.engine.cache.positions_open(instrument_id=sim.instruments[PERP].id)) == 1


def test_gap_through_the_liquidation_price_fills_at_the_open_and_the_insurance_fund_covers_the_hole():
    sim = run_sim(
        bars=_bars((52_000.0, 52_500.0, 51_900.0, 52_100.0)),
        script=_short_with_thin_margin(),
        subscribe=(PERP,),
    )
    (event,) = sim.strategy.liquidation_events
    assert event.price == pytest.approx(52_000.0)
    assert event.fee == 0.0
    shortfall = 975.0 - 2_000.0 - 52_000.0 * TAKER
    assert event.insurance_credit == pytest.approx(-shortfall)
    assert sim.balance("BINANCE") == pytest.approx(0.0, abs=1e-6)
