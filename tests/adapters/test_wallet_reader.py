"""The venue wallet reader re-reads its book when a net position moves, not only on account events.

Live, a venue's account state (Binance's ``ACCOUNT_UPDATE``) reaches the portfolio directly while
the fill behind it waits in the execution engine's queue: a read in between must not pin a book
that still holds the position the fill closes (seen on the fake Binance: the NAV of a stopped-out
long counted its loss twice)."""

from __future__ import annotations

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import AccountType, LiquiditySide, OmsType, OrderSide, OrderType
from nautilus_trader.model.events import AccountState, OrderFilled
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import AccountBalance, Money
from nautilus_trader.model.position import Position
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.test_kit.stubs.events import TestEventStubs

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import venue_instruments
from adapters.cex.margin import VenueWalletReader
from adapters.events import VenueLedger

TRADER = TraderId("TESTER-001")
ACCOUNT = AccountId("BINANCE-master")
PERP = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")


def _fill(instrument: Instrument, side: OrderSide, qty: float, price: float, n: int) -> OrderFilled:
    return OrderFilled(
        TRADER,
        StrategyId("S-001"),
        PERP,
        ClientOrderId(f"O-{n}"),
        VenueOrderId(str(n)),
        ACCOUNT,
        TradeId(str(n)),
        PositionId("P-1"),
        side,
        OrderType.MARKET,
        instrument.make_qty(qty),
        instrument.make_price(price),
        USDT,
        Money(0, USDT),
        LiquiditySide.TAKER,
        UUID4(),
        n,
        n,
    )


def test_a_fill_booked_after_the_account_update_is_read():
    clock = TestClock()
    cache = Cache()
    portfolio = Portfolio(MessageBus(TRADER, clock), cache, clock)
    for _, instrument in venue_instruments(load_cex_venue("BINANCE")).values():
        cache.add_instrument(instrument)
    balance = AccountBalance(Money(1_000, USDT), Money(0, USDT), Money(1_000, USDT))
    portfolio.update_account(
        AccountState(ACCOUNT, AccountType.MARGIN, USDT, True, [balance], [], {}, UUID4(), 0, 0)
    )
    reader = VenueWalletReader("BINANCE", coin_balances=True)
    assert reader.read(cache, portfolio, VenueLedger()).perps == ()

    # the long's fill is booked with no account event after it
    position = Position(
        cache.instrument(PERP), _fill(cache.instrument(PERP), OrderSide.BUY, 0.5, 100_000.0, 1)
    )
    cache.add_position(position, OmsType.NETTING)
    portfolio.update_position(TestEventStubs.position_opened(position))
    (perp,) = reader.read(cache, portfolio, VenueLedger()).perps
    assert (perp.instrument_id, perp.signed_qty, perp.avg_px) == (PERP, 0.5, 100_000.0)

    # and its close: the book is flat again
    position.apply(_fill(cache.instrument(PERP), OrderSide.SELL, 0.5, 99_000.0, 2))
    cache.update_position(position)
    portfolio.update_position(TestEventStubs.position_closed(position))
    assert reader.read(cache, portfolio, VenueLedger()).perps == ()
