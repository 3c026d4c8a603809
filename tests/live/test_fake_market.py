"""The fake venues' market (``fakevenues/market.py``) on hand-made bars: fills, fees, balances,
positions, P&L and funding against values worked out by hand from binance.yaml's numbers."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity

from adapters.bars import bar_type_for
from fakevenues.market import (
    HOUR_NS,
    BarClosed,
    FundingPaid,
    OrderAccepted,
    OrderFilled,
    OrderRefused,
    OrderStatus,
    OrderType,
    RecordedPrices,
    Refusal,
    Side,
    VenueMarket,
    listed_instruments,
)

SPOT = InstrumentId.from_str("BTCUSDT.BINANCE_SPOT")
PERP = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
INVERSE = InstrumentId.from_str("BTCUSD-PERP.BINANCE")
T0 = pd.Timestamp("2024-06-01 05:00", tz="UTC").value
"""Three hours before the 08:00 funding."""


def _bar(instrument_id: InstrumentId, close_ns: int, low: str, high: str, close: str) -> Bar:
    precision = 1 if instrument_id != SPOT else 2
    price = lambda v: Price(float(v), precision)  # noqa: E731
    return Bar(
        bar_type_for(instrument_id),
        price(close),
        price(high),
        price(low),
        price(close),
        Quantity.from_int(10),
        close_ns,
        close_ns,
    )


def _market(
    instrument_id: InstrumentId, balances: dict[str, str], hours: list[tuple[str, str, str]]
) -> VenueMarket:
    """A market on one instrument whose bars close at T0, T0+1h, ... with (low, high, close);
    funding 0.0001 at 08:00."""
    listed = [i for i in listed_instruments("BINANCE") if i.id == instrument_id]
    bars = [_bar(instrument_id, T0 + k * HOUR_NS, *hour) for k, hour in enumerate(hours)]
    eight = T0 + 3 * HOUR_NS
    funding = [FundingRateUpdate(instrument_id, Decimal("0.0001"), eight, eight)]
    prices = RecordedPrices({instrument_id: bars}, {instrument_id: funding})
    return VenueMarket(listed, prices, T0, {a: Decimal(v) for a, v in balances.items()})


FLAT = [("60000", "60000", "60000")] * 5


def test_a_spot_market_buy_fills_at_the_close_and_pays_the_fee_in_the_coin_received():
    market = _market(SPOT, {"USDT": "1000"}, [("59000", "61000", "60000.5"), *FLAT])
    order, events = market.submit(SPOT, Side.BUY, OrderType.MARKET, Decimal("0.01"), None, "c1")
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    fill = events[1].fill
    assert (fill.price, fill.fee, fill.fee_asset, fill.is_maker) == (
        Decimal("60000.5"),
        Decimal("0.00001"),  # 0.01 BTC x 0.1 % taker
        "BTC",
        False,
    )
    assert market.balance("BTC").total == Decimal("0.00999")
    assert market.balance("USDT").total == Decimal("1000") - Decimal("600.005")
    assert order.status is OrderStatus.FILLED


def test_a_resting_spot_limit_sell_locks_the_coin_and_fills_at_its_price_when_the_high_reaches_it():
    hours = [("60000", "60000", "60000"), ("59900", "60100", "60050"), ("60100", "60600", "60400")]
    market = _market(SPOT, {"BTC": "1"}, hours)
    order, events = market.submit(SPOT, Side.SELL, OrderType.LIMIT, Decimal("0.5"), Decimal("60500"), "c1")
    assert [type(e) for e in events] == [OrderAccepted]
    assert market.open_orders() == [order]
    assert (market.balance("BTC").free, market.balance("BTC").locked) == (Decimal("0.5"), Decimal("0.5"))
    assert not [e for e in market.advance_hour() if isinstance(e, OrderFilled)]  # high 60100 < 60500
    (filled,) = [e for e in market.advance_hour() if isinstance(e, OrderFilled)]  # high 60600
    assert (filled.order, filled.fill.price, filled.fill.is_maker) == (order, Decimal("60500"), True)
    assert market.open_orders() == []
    assert filled.fill.fee == Decimal("30.25")  # 0.5 x 60500 x 0.1 % maker, in USDT
    assert market.balance("BTC").total == Decimal("0.5") and market.balance("BTC").locked == 0
    assert market.balance("USDT").total == Decimal("30250") - Decimal("30.25")


def test_canceling_a_resting_order_unlocks_its_funds():
    market = _market(SPOT, {"USDT": "1000"}, FLAT)
    order, _ = market.submit(SPOT, Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("50000"), "c1")
    assert market.balance("USDT").locked == Decimal("500")
    market.cancel(order.order_id)
    assert (market.balance("USDT").free, market.balance("USDT").locked) == (Decimal("1000"), 0)
    with pytest.raises(OrderRefused) as refused:
        market.cancel(order.order_id)
    assert refused.value.reason is Refusal.UNKNOWN_ORDER


def test_a_linear_perp_realises_pnl_on_reduce_and_reopens_at_the_flip_price():
    hours = [("60000", "60000", "60000"), ("59000", "59000", "59000"), ("61000", "61000", "61000")]
    market = _market(PERP, {"USDT": "10000"}, [*hours, *FLAT])
    market.submit(PERP, Side.SELL, OrderType.MARKET, Decimal("0.1"), None, "c1")
    market.advance_hour()
    _, events = market.submit(PERP, Side.BUY, OrderType.MARKET, Decimal("0.04"), None, "c2")
    assert events[1].fill.realized_pnl == Decimal("40")  # 0.04 x (60000 - 59000)
    assert market.position(PERP).quantity == Decimal("-0.06")
    market.advance_hour()
    _, events = market.submit(PERP, Side.BUY, OrderType.MARKET, Decimal("0.1"), None, "c3")
    assert events[1].fill.realized_pnl == Decimal("-60")  # 0.06 x (60000 - 61000)
    position = market.position(PERP)
    assert (position.quantity, position.entry_price) == (Decimal("0.04"), Decimal("61000"))
    fees = (Decimal("6000") + Decimal("2360") + Decimal("6100")) * Decimal("0.0005")
    assert market.balance("USDT").total == Decimal("10000") + 40 - 60 - fees


def test_an_inverse_perp_pays_fees_pnl_and_funding_in_the_coin():
    hours = [("50000", "50000", "50000"), ("60000", "60000", "60000"), *FLAT[:2], ("60000", "60000", "60000")]
    market = _market(INVERSE, {"BTC": "1"}, hours)
    _, events = market.submit(INVERSE, Side.BUY, OrderType.MARKET, Decimal("100"), None, "c1")
    assert events[1].fill.fee == Decimal("10000") / Decimal("50000") * Decimal("0.0005")
    market.advance_hour()  # 06:00, price 60000
    assert market.unrealized_pnl(INVERSE) == Decimal("10000") * (1 / Decimal(50000) - 1 / Decimal(60000))
    market.advance_hour()  # 07:00
    (paid,) = [e for e in market.advance_hour() if isinstance(e, FundingPaid)]  # 08:00
    assert (paid.asset, paid.amount) == ("BTC", -Decimal("10000") / Decimal("60000") * Decimal("0.0001"))


def test_funding_is_settled_at_the_8_hour_mark_only_and_shorts_receive_a_positive_rate():
    market = _market(PERP, {"USDT": "10000"}, FLAT)
    market.submit(PERP, Side.SELL, OrderType.MARKET, Decimal("0.1"), None, "c1")
    wallet = market.balance("USDT").total
    settled = [[type(e) for e in market.advance_hour() if not isinstance(e, BarClosed)] for _ in range(4)]
    assert settled == [[], [], [FundingPaid], []]  # 06:00, 07:00, 08:00, 09:00
    assert market.balance("USDT").total == wallet + Decimal("0.1") * 60000 * Decimal("0.0001")


def test_an_order_beyond_the_balance_or_margin_is_refused_and_changes_nothing():
    spot = _market(SPOT, {"USDT": "100"}, FLAT)
    with pytest.raises(OrderRefused) as refused:
        spot.submit(SPOT, Side.BUY, OrderType.MARKET, Decimal("0.01"), None, "c1")  # 600 USDT
    assert refused.value.reason is Refusal.INSUFFICIENT_BALANCE
    assert spot.orders == {} and spot.balance("USDT").total == 100

    perp = _market(PERP, {"USDT": "100"}, FLAT)
    with pytest.raises(OrderRefused) as refused:  # 0.25 BTC: 15000 x 0.8 % = 120 USDT of margin
        perp.submit(PERP, Side.SELL, OrderType.MARKET, Decimal("0.25"), None, "c1")
    assert refused.value.reason is Refusal.INSUFFICIENT_MARGIN
    perp.submit(PERP, Side.SELL, OrderType.MARKET, Decimal("0.19"), None, "c2")  # 91.2 + 5.7 fee
    assert perp.position(PERP).quantity == Decimal("-0.19")


def test_quantities_must_be_positive_multiples_of_the_yaml_step_and_the_clock_whole_hours():
    market = _market(PERP, {"USDT": "10000"}, FLAT)
    for quantity in ("0.0005", "0", "-0.001"):
        with pytest.raises(OrderRefused) as refused:
            market.submit(PERP, Side.BUY, OrderType.MARKET, Decimal(quantity), None, "c1")
        assert refused.value.reason is Refusal.BAD_QUANTITY
    with pytest.raises(ValueError, match="whole hour"):
        VenueMarket([], RecordedPrices({}, {}), T0 + 1, {})


def test_a_stop_loss_fills_at_its_trigger_before_a_take_profit_the_same_bar_crosses():
    """One hour reaching both a long's stop (low 58,000 <= 59,000) and its take-profit (high
    62,000 >= 61,000): the stop fills at its trigger with the taker fee, the reduce-only
    take-profit stays unfilled (the position is gone), and a stop already reached is refused."""
    market = _market(PERP, {"USDT": "10000"}, [FLAT[0], ("58000", "62000", "60000"), *FLAT])
    market.submit(PERP, Side.BUY, OrderType.MARKET, Decimal("0.1"), None, "entry")
    with pytest.raises(OrderRefused) as refused:
        market.submit(
            PERP, Side.SELL, OrderType.STOP_MARKET, Decimal("0.1"), None, "late", True, Decimal("60500")
        )
    assert refused.value.reason is Refusal.WOULD_TRIGGER
    stop, accepted = market.submit(
        PERP, Side.SELL, OrderType.STOP_MARKET, Decimal("0.1"), None, "sl", True, Decimal("59000")
    )
    target, _ = market.submit(PERP, Side.SELL, OrderType.LIMIT, Decimal("0.1"), Decimal("61000"), "tp", True)
    assert [type(e) for e in accepted] == [OrderAccepted] and stop.status is OrderStatus.NEW
    wallet = market.balance("USDT").total
    events = market.advance_hour()
    (filled,) = [e for e in events if isinstance(e, OrderFilled)]
    assert filled.order is stop
    assert (filled.fill.price, filled.fill.is_maker) == (Decimal("59000"), False)
    # 0.1 BTC bought at 60,000 sold at 59,000: -100 USDT, and 0.05 % taker on 5,900 USDT
    assert market.balance("USDT").total == wallet - Decimal("100") - Decimal("2.95")
    assert market.position(PERP).quantity == 0
    assert target.status is OrderStatus.NEW
