"""The ML directional modes' pieces, checked by hand: calls, thresholds, SL/TP levels, the
venue's stop-before-target rule and the coin-margined perp's P&L, funding and fees in BTC."""

from __future__ import annotations

from decimal import Decimal

import pytest
from nautilus_trader.model.currencies import BTC
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.hours import HOUR_NS
from adapters.signals import SignalPrediction
from strategies.directional import bracket_levels, target_side
from tests.sim_harness import bar, do, flat_bars, run_sim, ts

INVERSE = "BTCUSD-PERP.BINANCE"
TAKER = 0.0005  # configs/venues/binance.yaml, COIN-M


H = 10 * HOUR_NS  # an hour's close


def _call(signal: int, confidence: float, at: int = H, sd: float = 0.01) -> SignalPrediction:
    return SignalPrediction(
        ts_event=at, ts_init=at, signal=signal, confidence=confidence, sd=sd, horizon_hours=4
    )


# -- calls and levels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "now", "expected"),
    [
        (None, H, None),  # no call yet: hold
        (_call(1, 0.79), H, None),  # below the threshold: hold whatever is held
        (_call(1, 0.80), H, 1),  # at the threshold: act
        (_call(-1, 0.95), H, -1),
        (_call(0, 0.90), H, 0),  # a confident neutral goes flat
        (_call(1, 0.95, at=H - 1_000_000), H, 1),  # stamped at a Binance close (…:59:59.999): this hour's
        (_call(1, 0.95), H + HOUR_NS, None),  # an older call is not acted on again
    ],
)
def test_only_a_fresh_confident_call_sets_the_target(call, now, expected):
    assert target_side(call, now, 0.8) == expected


def test_a_call_outside_long_short_neutral_is_refused():
    with pytest.raises(ValueError, match="signal 2"):
        target_side(_call(2, 0.9), H, 0.8)


def test_bracket_levels_are_entry_times_one_minus_or_plus_k_sd():
    # long at 100 with sd 1%: stop 2 sd below, target 3 sd above
    assert bracket_levels(1, 100.0, 0.01, 2.0, 3.0) == pytest.approx((98.0, 103.0))
    # short: mirrored
    assert bracket_levels(-1, 100.0, 0.01, 2.0, 3.0) == pytest.approx((102.0, 97.0))
    with pytest.raises(ValueError):
        bracket_levels(0, 100.0, 0.01, 2.0, 3.0)
    with pytest.raises(ValueError):
        bracket_levels(1, 100.0, 0.0, 2.0, 3.0)


# -- the venue: brackets and the coin-margined perp --------------------------------------------


def _inverse_run(bars, script, **kwargs):
    return run_sim(
        bars=bars,
        script=script,
        subscribe=(INVERSE,),
        coin_margined={"BINANCE": ("BTC", 1.0)},
        **kwargs,
    )


@pytest.mark.parametrize(
    ("high", "low", "stop", "target"),
    [
        # the bar reaches both: Nautilus replays the high first, so the target would win; the
        # venue lets the stop trade and cancels the target (SL is checked before TP)
        (51_500.0, 48_500.0, OrderStatus.FILLED, OrderStatus.CANCELED),
        (51_500.0, 49_500.0, OrderStatus.CANCELED, OrderStatus.FILLED),  # only the target
        (50_500.0, 48_500.0, OrderStatus.FILLED, OrderStatus.CANCELED),  # only the stop
    ],
)
def test_the_stop_trades_first_when_a_bar_reaches_both_legs(high, low, stop, target):
    """Long 1,000 contracts at 50,000, stop 49,000, target 51,000; the next bar spans low..high."""

    def bars(instruments):
        perp = instruments[INVERSE]
        return [*flat_bars(perp, range(0, 3), 50_000.0), bar(perp, 3, 50_000.0, high, low, 50_100.0)]

    entry = do(lambda s: s.bracket(s.instrument_ids[0], OrderSide.BUY, "1000", "49000.0", "51000.0"))
    sim = _inverse_run(bars, {ts(1): [entry]})
    statuses = {o.order_type.name: o.status for o in sim.engine.cache.orders()}
    assert statuses == {"MARKET": OrderStatus.FILLED, "STOP_MARKET": stop, "LIMIT": target}
    exit_fill = next(f for f in sim.strategy.fills if f.order_type.name != "MARKET")
    assert exit_fill.last_px.as_double() == pytest.approx(
        49_000.0 if stop == OrderStatus.FILLED else 51_000.0
    )


def test_inverse_perp_pnl_funding_and_fees_are_in_btc():
    """1 BTC collateral; long 1,000 contracts (100,000 USD) at 50,000, price to 55,000:

    - unrealized = 100,000 × (1/50,000 − 1/55,000) = 0.181818… BTC;
    - funding 0.01% printed at 55,000: the long pays 100,000 / 55,000 × 0.0001 BTC;
    - fees 0.05% of the notional in BTC at each fill: 100,000/50,000 and 100,000/55,000 × 0.0005;
    - closing at 55,000 leaves 1 + 0.181818 − fees − funding BTC, all on the BTC balance."""
    rate = 0.0001

    def bars(instruments):  # deep enough that 1,000 contracts fill at the close
        perp = instruments[INVERSE]
        return [bar(perp, h, p, p, p, p, volume=1e6) for h, p in enumerate([50_000.0] * 2 + [55_000.0] * 4)]

    def funding(_instruments):
        return [(INVERSE, ts(3), rate)]

    seen = {}

    def record(s):
        account = s.cache.account_for_venue(Venue("BINANCE"))
        position = s.cache.positions_open(instrument_id=InstrumentId.from_str(INVERSE))
        seen["unrealized"] = s.portfolio.unrealized_pnl(InstrumentId.from_str(INVERSE)).as_double()
        seen["qty"] = position[0].signed_qty if position else 0.0
        seen["balance_before_close"] = account.balance_total(BTC).as_double()

    sim = _inverse_run(
        bars,
        {
            ts(1): [do(lambda s: s.market(s.instrument_ids[0], OrderSide.BUY, "1000"))],
            ts(4): [
                do(record),
                do(lambda s: s.market(s.instrument_ids[0], OrderSide.SELL, "1000", reduce_only=True)),
            ],
        },
        funding=funding,
    )
    face = 100_000.0
    assert seen["qty"] == 1000
    assert seen["unrealized"] == pytest.approx(face * (1 / 50_000 - 1 / 55_000), abs=1e-8)  # BTC: 8 dp
    entry_fee = face / 50_000 * TAKER
    exit_fee = face / 55_000 * TAKER
    paid_funding = face / 55_000 * rate
    (event,) = sim.strategy.funding_events
    assert event.payment == pytest.approx(-paid_funding, rel=1e-9)  # before the account's rounding
    assert event.payment_usdt == pytest.approx(-paid_funding * 55_000, rel=1e-9)
    assert seen["balance_before_close"] == pytest.approx(1.0 - entry_fee - paid_funding, abs=2e-8)
    final = sim.balance("BINANCE", BTC)
    expected = 1.0 + face * (1 / 50_000 - 1 / 55_000) - entry_fee - exit_fee - paid_funding
    assert final == pytest.approx(expected, abs=3e-8)
    assert Decimal(str(final)) != Decimal(1)
