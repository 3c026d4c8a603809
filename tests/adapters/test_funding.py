"""Funding settlement: −signed_qty × mark × rate at each print, once, booked to account and position."""

from __future__ import annotations

import pytest
from nautilus_trader.model.enums import OrderSide

from adapters.events import TransferKind
from tests.sim_harness import bar, do, flat_bars, run_sim, ts

PERP = "BTCUSDT-PERP.BINANCE"
OKX_PERP = "BTC-USDT-SWAP.OKX"


def _funded(venue: str, side: OrderSide, qty: str) -> dict:
    """Deposit at hour 0 (credited at hour 1, after that hour's bar), margin to futures at 2, trade at 3."""
    return {
        ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, venue, 20_000))],
        ts(2): [do(lambda s: s.transfer(TransferKind.TO_FUTURES, venue, 20_000))],
        ts(3): [do(lambda s: s.market(s.instrument_ids[0], side, qty))],
    }


def _funded_short(venue: str, qty: str) -> dict:
    return _funded(venue, OrderSide.SELL, qty)


def _bars_with_close_at_print(perp: str, print_hour: int, mark: float):
    def bars(instruments):
        out = flat_bars(instruments[perp], range(0, 10), 50_000.0)
        out = [b for b in out if b.ts_event != ts(print_hour)]
        out.append(bar(instruments[perp], print_hour, 50_000.0, mark + 10, 49_990.0, mark))
        return out

    return bars


def test_short_receives_funding_at_the_print_mark_once():
    rate = 0.0001
    sim = run_sim(
        bars=_bars_with_close_at_print(PERP, 5, 51_000.0),
        funding=lambda _: [(PERP, ts(5), rate)],
        script=_funded_short("BINANCE", "1.000"),
        subscribe=(PERP,),
    )
    events = sim.strategy.funding_events
    assert len(events) == 1, (
        "one print must settle exactly once although process() runs after every data point"
    )
    event = events[0]
    assert event.ts_event == ts(5)
    assert event.mark == pytest.approx(51_000.0)
    assert event.signed_base_qty == pytest.approx(-1.0)
    assert event.payment == pytest.approx(1.0 * 51_000.0 * rate)  # shorts receive a positive rate
    assert not event.stale_mark
    position = sim.engine.cache.positions(instrument_id=sim.instruments[PERP].id)[0]
    fee = 50_000.0 * 0.0005
    assert position.realized_pnl.as_double() == pytest.approx(-fee + 5.1)
    assert sim.balance("BINANCE") == pytest.approx(20_000 - fee + 5.1)


def test_long_pays_a_positive_rate_and_receives_a_negative_one():
    sim = run_sim(
        bars=lambda i: flat_bars(i[PERP], range(0, 12), 40_000.0),
        funding=lambda _: [(PERP, ts(4), 0.0002), (PERP, ts(11), -0.0003)],
        script=_funded("BINANCE", OrderSide.BUY, "0.500"),
        subscribe=(PERP,),
    )
    payments = [e.payment for e in sim.strategy.funding_events]
    assert payments == pytest.approx([-0.5 * 40_000 * 0.0002, 0.5 * 40_000 * 0.0003])


def test_print_without_a_bar_at_its_time_uses_the_last_close_and_is_flagged():
    def bars(instruments):
        return [b for b in flat_bars(instruments[PERP], range(0, 10), 50_000.0) if b.ts_event != ts(5)] + [
            bar(instruments[PERP], 4, 50_000.0, 50_300.0, 49_900.0, 50_200.0),
        ]

    def no_dup(instruments):
        unique = {b.ts_event: b for b in bars(instruments)}
        return list(unique.values())

    sim = run_sim(
        bars=no_dup,
        funding=lambda _: [(PERP, ts(5), 0.0001)],
        script=_funded_short("BINANCE", "1.000"),
        subscribe=(PERP,),
    )
    (event,) = sim.strategy.funding_events
    assert event.stale_mark
    assert event.mark == pytest.approx(50_200.0)  # the close stamped 04:00, the last before the print


def test_a_live_quote_of_the_next_rate_is_not_a_print():
    # live streams quote the coming funding time's rate (next_funding_ns): only prints settle
    sim = run_sim(
        bars=lambda i: flat_bars(i[PERP], range(0, 10), 40_000.0),
        funding=lambda _: [(PERP, ts(5), 0.0002, ts(8)), (PERP, ts(8), 0.0001)],
        script=_funded("BINANCE", OrderSide.BUY, "0.500"),
        subscribe=(PERP,),
    )
    events = sim.strategy.funding_events
    assert [e.ts_event for e in events] == [ts(8)]
    assert events[0].payment == pytest.approx(-0.5 * 40_000 * 0.0001)


def test_print_before_any_position_pays_nothing():
    sim = run_sim(
        bars=lambda i: flat_bars(i[PERP], range(0, 6), 50_000.0),
        funding=lambda _: [(PERP, ts(1), 0.001)],
        script=_funded_short("BINANCE", "1.000"),
        subscribe=(PERP,),
    )
    assert sim.strategy.funding_events == []
    assert sim.cex["BINANCE"].funding_paid == 0.0


def test_okx_contracts_are_converted_to_base_units():
    """100 OKX BTC-USDT-SWAP contracts of 0.01 BTC each are 1 BTC of exposure."""
    sim = run_sim(
        venues=("OKX",),
        bars=_bars_with_close_at_print(OKX_PERP, 5, 60_000.0),
        funding=lambda _: [(OKX_PERP, ts(5), 0.0001)],
        script=_funded_short("OKX", "100.00"),
        subscribe=(OKX_PERP,),
    )
    (event,) = sim.strategy.funding_events
    assert event.signed_base_qty == pytest.approx(-1.0)
    assert event.payment == pytest.approx(60_000.0 * 0.0001)


def test_funding_at_t_is_paid_on_the_position_held_into_t_not_on_trades_at_t():
    """The strategy trades on the bar stamped T after the print stamped T has been settled."""
    script = {
        ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 20_000))],
        ts(2): [do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", 20_000))],
        ts(3): [
            do(lambda s: s.market(s.instrument_ids[0], OrderSide.SELL, "1.000"))
        ],  # opened at the 03:00 print
        ts(6): [
            do(lambda s: s.market(s.instrument_ids[0], OrderSide.BUY, "1.000", True))
        ],  # closed at the 06:00 print
    }
    sim = run_sim(
        bars=lambda i: flat_bars(i[PERP], range(0, 9), 50_000.0),
        funding=lambda _: [(PERP, ts(3), 0.001), (PERP, ts(6), 0.0001), (PERP, ts(8), 0.01)],
        script=script,
        subscribe=(PERP,),
    )
    assert [(e.ts_event, e.payment) for e in sim.strategy.funding_events] == [(ts(6), pytest.approx(5.0))]
