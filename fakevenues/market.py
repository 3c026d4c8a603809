"""A fake venue's market: recorded hourly prices, a clock the test moves, and a tiny matching engine.

Venue-neutral: the venue modules (``fakevenues/binance.py``, ``bybit.py``, ``okx.py``) translate
these orders, fills, balances, positions and funding payments into their exchange's messages.
Prices are the real history of the project's catalog (the hourly bars a backtest reads, stamped at
their close), fees and margin rates are the venue YAML's (``configs/venues/<venue>.yaml``), so a
fill on a fake venue can be checked against the same numbers a backtest uses:

- a MARKET order fills at once at the current price (the close of the last bar closed at the
  clock's time) and pays the taker fee; a LIMIT order rests and fills at its limit price, maker fee,
  when an hour's bar crosses it (its low for a buy, its high for a sell); a STOP_MARKET order (a
  perp's stop-loss) rests until an hour's bar reaches its trigger (its high for a buy, its low for
  a sell) and fills at the trigger, taker fee, before the limits that bar crosses (a stop-loss
  trades before a take-profit, DOMAIN.md's conservative reading); a reduce-only order that no
  longer reduces the position does not fill;
- spot trades move coin balances (the fee taken in the asset received, as Binance, Bybit and OKX
  do); perps keep one net position per instrument in a margin wallet (linear: USDT, inverse: the
  base coin), realise P&L when reduced, and need the YAML's initial margin free before an order
  that grows them;
- every 8 hours (00, 08, 16 UTC) each open perp pays or receives funding at the recorded rate of
  that print: payment = -signed position x mark x rate (in the margin asset).

Methods return the events they caused, in order; the venue module publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path

from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from adapters.cex.config import CexInstrumentSpec, load_cex_venue
from adapters.cex.instruments import venue_instruments
from adapters.config import VENUE_CONFIG_DIR

HOUR_NS = 3_600_000_000_000
FUNDING_INTERVAL_NS = 8 * HOUR_NS
"""Funding is settled at 00, 08 and 16 UTC on every venue the project trades."""


class Side(Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"


class OrderStatus(Enum):
    NEW = "NEW"
    FILLED = "FILLED"
    CANCELED = "CANCELED"


class Refusal(Enum):
    """Why the venue refused an order (each venue maps these to its own error codes)."""

    INSUFFICIENT_BALANCE = "insufficient balance"
    INSUFFICIENT_MARGIN = "margin is insufficient"
    UNKNOWN_INSTRUMENT = "unknown instrument"
    UNKNOWN_ORDER = "unknown order"
    BAD_QUANTITY = "quantity is not a positive multiple of the size increment"
    WOULD_TRIGGER = "the stop's trigger is already reached at the current price"
    BAD_TRIGGER = "a stop order needs a perp and a positive trigger price"
    NO_PRICE = "no recorded price at the venue's time"


class OrderRefused(Exception):
    """The venue refused a request; ``reason`` says why in venue-neutral terms."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class ListedInstrument:
    """An instrument the venue lists: the project's Nautilus instrument and its YAML spec."""

    instrument: Instrument
    spec: CexInstrumentSpec

    @property
    def id(self) -> InstrumentId:
        return self.instrument.id

    @property
    def is_perp(self) -> bool:
        return self.spec.kind != "spot"

    @property
    def multiplier(self) -> Decimal:
        """Base units per contract (1 except OKX swaps: ctVal), or USD per inverse contract."""
        return Decimal(self.spec.multiplier)

    @property
    def is_inverse(self) -> bool:
        return self.spec.kind == "inverse"

    @property
    def margin_asset(self) -> str:
        """The asset a perp's margin, P&L, fees and funding are paid in."""
        return self.spec.base if self.is_inverse else self.spec.quote

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Value of ``quantity`` at ``price`` in the margin asset (spot: in the quote asset)."""
        if self.is_inverse:  # contracts of `multiplier` USD each, valued in the base coin
            return quantity * Decimal(self.spec.multiplier) / price
        return quantity * Decimal(self.spec.multiplier) * price


def listed_instruments(exchange: str, config_dir: Path = VENUE_CONFIG_DIR) -> list[ListedInstrument]:
    """Every instrument of ``configs/venues/<exchange>.yaml``, with the ids the backtest uses."""
    config = load_cex_venue(exchange, config_dir)
    return [ListedInstrument(instrument, spec) for _, (spec, instrument) in venue_instruments(config).items()]


@dataclass(frozen=True)
class RecordedPrices:
    """The hourly bars and funding prints of some instruments over a window, from the catalog."""

    bars: dict[InstrumentId, list[Bar]]
    """Per instrument, its hourly bars in time order (``ts_event`` = the bar's close)."""
    funding: dict[InstrumentId, list[FundingRateUpdate]]
    """Per perp, its funding prints in time order (``ts_event`` = the funding time)."""

    @classmethod
    def from_catalog(
        cls, catalog_dir: Path, instrument_ids: list[InstrumentId], start_ns: int, end_ns: int
    ) -> RecordedPrices:
        """Read ``[start_ns, end_ns]`` of the instruments' 1-hour bars and funding prints."""
        catalog = ParquetDataCatalog(str(catalog_dir))
        bars, funding = {}, {}
        for instrument_id in instrument_ids:  # one identifier per query, as backtesting/engine.py
            bar_type = str(bar_type_for(instrument_id))
            found = catalog.bars(bar_types=[bar_type], start=start_ns, end=end_ns)
            if not found:
                raise ValueError(f"the catalog {catalog_dir} has no {bar_type} bars in the window")
            bars[instrument_id] = found
            funding[instrument_id] = catalog.query(
                data_cls=FundingRateUpdate, identifiers=[str(instrument_id)], start=start_ns, end=end_ns
            )
        return cls(bars, funding)

    def last_bar(self, instrument_id: InstrumentId, now_ns: int) -> Bar | None:
        """The last bar closed at or before ``now_ns``."""
        closed = [b for b in self.bars.get(instrument_id, []) if b.ts_event <= now_ns]
        return closed[-1] if closed else None

    def bars_closing_in(self, instrument_id: InstrumentId, after_ns: int, until_ns: int) -> list[Bar]:
        """The bars whose close lies in ``(after_ns, until_ns]``."""
        return [b for b in self.bars.get(instrument_id, []) if after_ns < b.ts_event <= until_ns]

    def funding_print(self, instrument_id: InstrumentId, funding_ns: int) -> Decimal | None:
        """The recorded rate of the print at ``funding_ns`` (None: no print recorded then)."""
        for update in self.funding.get(instrument_id, []):
            if update.ts_event == funding_ns:
                return Decimal(str(update.rate))
        return None


@dataclass
class Fill:
    trade_id: int
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    realized_pnl: Decimal
    ts_ns: int


@dataclass
class Order:
    order_id: int
    client_order_id: str
    instrument: ListedInstrument
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    reduce_only: bool
    ts_ns: int
    trigger_price: Decimal | None = None
    """A STOP_MARKET order's trigger (None for the others)."""
    status: OrderStatus = OrderStatus.NEW
    fills: list[Fill] = field(default_factory=list)
    update_ns: int = 0

    @property
    def filled_qty(self) -> Decimal:
        return sum((f.quantity for f in self.fills), Decimal(0))

    @property
    def avg_price(self) -> Decimal:
        qty = self.filled_qty
        return sum((f.price * f.quantity for f in self.fills), Decimal(0)) / qty if qty else Decimal(0)

    @property
    def cum_quote(self) -> Decimal:
        """Filled value in the margin asset (spot: quote asset)."""
        return sum((self.instrument.notional(f.quantity, f.price) for f in self.fills), Decimal(0))


@dataclass
class Position:
    """One net perp position: signed quantity (contracts for inverse perps) and entry price."""

    quantity: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)


@dataclass
class Balance:
    free: Decimal = Decimal(0)
    locked: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


# Events a venue publishes -------------------------------------------------------------------


@dataclass(frozen=True)
class OrderAccepted:
    order: Order


@dataclass(frozen=True)
class OrderFilled:
    order: Order
    fill: Fill


@dataclass(frozen=True)
class OrderCanceled:
    order: Order


@dataclass(frozen=True)
class BarClosed:
    instrument: ListedInstrument
    bar: Bar


@dataclass(frozen=True)
class FundingPaid:
    instrument: ListedInstrument
    asset: str
    amount: Decimal
    """Signed: positive = received."""
    rate: Decimal
    mark: Decimal
    ts_ns: int


Event = OrderAccepted | OrderFilled | OrderCanceled | BarClosed | FundingPaid


class VenueMarket:
    """One account on one fake venue: its instruments, balances, positions and orders, on the
    recorded prices, at the clock's time (``now_ns``, moved by :meth:`advance_hour`)."""

    def __init__(
        self,
        instruments: list[ListedInstrument],
        prices: RecordedPrices,
        start_ns: int,
        balances: dict[str, Decimal],
    ) -> None:
        if start_ns % HOUR_NS:
            raise ValueError(f"the venue clock starts on a whole hour, got {start_ns}")
        self.instruments = {i.id: i for i in instruments}
        self.prices = prices
        self.now_ns = start_ns
        self.balances = {asset: Balance(free=amount) for asset, amount in balances.items()}
        self.positions: dict[InstrumentId, Position] = {}
        self.orders: dict[int, Order] = {}
        self.funding_paid: list[FundingPaid] = []
        """Every funding payment settled, in time order (the venue's income history)."""
        self._next_order_id = 1
        self._next_trade_id = 1

    # -- prices --------------------------------------------------------------------------------

    def price(self, instrument_id: InstrumentId) -> Decimal:
        """The current price: the close of the last bar closed at the clock's time."""
        bar = self.prices.last_bar(instrument_id, self.now_ns)
        if bar is None:
            raise OrderRefused(Refusal.NO_PRICE, f"{instrument_id} at {self.now_ns}")
        return bar.close.as_decimal()

    def next_funding(self, instrument_id: InstrumentId) -> tuple[int, Decimal | None]:
        """The next funding time after the clock and the rate recorded for it (the venue's
        announced rate for the coming print)."""
        next_ns = (self.now_ns // FUNDING_INTERVAL_NS + 1) * FUNDING_INTERVAL_NS
        return next_ns, self.prices.funding_print(instrument_id, next_ns)

    # -- balances and positions -----------------------------------------------------------------

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def position(self, instrument_id: InstrumentId) -> Position:
        return self.positions.setdefault(instrument_id, Position())

    def unrealized_pnl(self, instrument_id: InstrumentId) -> Decimal:
        position = self.positions.get(instrument_id)
        if position is None or not position.quantity:
            return Decimal(0)
        listed = self.instruments[instrument_id]
        mark = self.price(instrument_id)
        entry_value = listed.notional(abs(position.quantity), position.entry_price)
        mark_value = listed.notional(abs(position.quantity), mark)
        # inverse: value in coin falls as the price rises, so a long gains entry_value - mark_value
        gain = entry_value - mark_value if listed.is_inverse else mark_value - entry_value
        return gain if position.quantity > 0 else -gain

    def initial_margin(self, asset: str) -> Decimal:
        """Initial margin the open perps in ``asset`` use (YAML's first-tier rate, at the mark)."""
        used = Decimal(0)
        for instrument_id, position in self.positions.items():
            listed = self.instruments[instrument_id]
            if position.quantity and listed.margin_asset == asset:
                notional = listed.notional(abs(position.quantity), self.price(instrument_id))
                used += notional * Decimal(str(listed.spec.margin.initial))
        return used

    def unrealized_pnl_in(self, asset: str) -> Decimal:
        """Unrealised P&L of the open perps margined in ``asset``."""
        return sum(
            (
                self.unrealized_pnl(i)
                for i, listed in self.instruments.items()
                if listed.is_perp and listed.margin_asset == asset
            ),
            Decimal(0),
        )

    def available_margin(self, asset: str) -> Decimal:
        """Margin balance (wallet + unrealised P&L) less the initial margin in use."""
        return self.balance(asset).total + self.unrealized_pnl_in(asset) - self.initial_margin(asset)

    # -- orders ---------------------------------------------------------------------------------

    def submit(
        self,
        instrument_id: InstrumentId,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool = False,
        trigger_price: Decimal | None = None,
    ) -> tuple[Order, list[Event]]:
        """Accept (or refuse with :class:`OrderRefused`) an order; a MARKET order fills at once,
        a LIMIT order that is already marketable too (at the current price, taker); a STOP_MARKET
        order (perps only, with ``trigger_price``) rests, refused when the current price has
        already reached its trigger (as Binance refuses an order that would trigger at once)."""
        listed = self.instruments.get(instrument_id)
        if listed is None:
            raise OrderRefused(Refusal.UNKNOWN_INSTRUMENT, str(instrument_id))
        increment = Decimal(listed.spec.size_increment)
        if quantity <= 0 or quantity % increment:
            raise OrderRefused(Refusal.BAD_QUANTITY, f"{quantity} (increment {increment})")
        current = self.price(instrument_id)
        if order_type is OrderType.STOP_MARKET:
            self._check_stop(listed, side, trigger_price, current)
            fill_price = trigger_price
        else:
            fill_price = current if order_type is OrderType.MARKET else price
        assert fill_price is not None  # a LIMIT order carries its price, a stop its trigger
        self._check_funds(listed, side, quantity, fill_price, reduce_only)
        order = Order(
            order_id=self._next_order_id,
            client_order_id=client_order_id,
            instrument=listed,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            reduce_only=reduce_only,
            ts_ns=self.now_ns,
            trigger_price=trigger_price,
            update_ns=self.now_ns,
        )
        self._next_order_id += 1
        self.orders[order.order_id] = order
        events: list[Event] = [OrderAccepted(order)]
        if order_type is OrderType.STOP_MARKET:
            return order, events
        marketable = order_type is OrderType.MARKET or (side.sign * (price - current) >= 0)
        if marketable:
            events.append(self._fill(order, current, is_maker=False))
        elif not listed.is_perp:
            self._lock(order)
        return order, events

    def cancel(self, order_id: int) -> list[Event]:
        order = self.orders.get(order_id)
        if order is None or order.status is not OrderStatus.NEW:
            raise OrderRefused(Refusal.UNKNOWN_ORDER, str(order_id))
        if not order.instrument.is_perp:
            self._unlock(order)
        order.status = OrderStatus.CANCELED
        order.update_ns = self.now_ns
        return [OrderCanceled(order)]

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status is OrderStatus.NEW]

    def find_order(self, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        for order in self.orders.values():
            if order.order_id == order_id or order.client_order_id == client_order_id:
                return order
        raise OrderRefused(Refusal.UNKNOWN_ORDER, f"order id {order_id}, client id {client_order_id}")

    @staticmethod
    def _check_stop(
        listed: ListedInstrument, side: Side, trigger_price: Decimal | None, current: Decimal
    ) -> None:
        if not listed.is_perp or trigger_price is None or trigger_price <= 0:
            raise OrderRefused(Refusal.BAD_TRIGGER, f"{listed.id} at {trigger_price}")
        if side.sign * (trigger_price - current) <= 0:  # a buy stop above the price, a sell stop below
            raise OrderRefused(Refusal.WOULD_TRIGGER, f"trigger {trigger_price}, price {current}")

    def _check_funds(
        self, listed: ListedInstrument, side: Side, quantity: Decimal, price: Decimal, reduce_only: bool
    ) -> None:
        if not listed.is_perp:
            asset, needed = (
                (listed.spec.quote, quantity * price) if side is Side.BUY else (listed.spec.base, quantity)
            )
            if self.balance(asset).free < needed:
                raise OrderRefused(
                    Refusal.INSUFFICIENT_BALANCE, f"needs {needed} {asset}, has {self.balance(asset).free}"
                )
            return
        position = self.position(listed.id).quantity
        grows = side.sign * position >= 0 or quantity > abs(position)
        if reduce_only or not grows:
            return
        added = quantity if side.sign * position >= 0 else quantity - abs(position)
        notional = listed.notional(added, price)
        needed = notional * Decimal(str(listed.spec.margin.initial)) + notional * Decimal(
            listed.spec.taker_fee
        )
        available = self.available_margin(listed.margin_asset)
        if available < needed:
            raise OrderRefused(
                Refusal.INSUFFICIENT_MARGIN,
                f"needs {needed:.8f} {listed.margin_asset} of initial margin, {available:.8f} available",
            )

    def _lock(self, order: Order) -> None:
        spec = order.instrument.spec
        asset, amount = (
            (spec.quote, order.quantity * order.price)
            if order.side is Side.BUY
            else (spec.base, order.quantity)
        )
        balance = self.balance(asset)
        balance.free -= amount
        balance.locked += amount

    def _unlock(self, order: Order) -> None:
        spec = order.instrument.spec
        asset, amount = (
            (spec.quote, order.quantity * order.price)
            if order.side is Side.BUY
            else (spec.base, order.quantity)
        )
        balance = self.balance(asset)
        balance.locked -= amount
        balance.free += amount

    def _fill(self, order: Order, price: Decimal, is_maker: bool) -> OrderFilled:
        listed, spec = order.instrument, order.instrument.spec
        rate = Decimal(spec.maker_fee if is_maker else spec.taker_fee)
        quantity = order.quantity
        realized = Decimal(0)
        if listed.is_perp:
            fee_asset = listed.margin_asset
            fee = listed.notional(quantity, price) * rate
            realized = self._trade_position(listed, order.side.sign * quantity, price)
            self.balance(fee_asset).free += realized - fee
        else:
            if is_maker:
                self._unlock(order)
            base, quote = self.balance(spec.base), self.balance(spec.quote)
            if order.side is Side.BUY:  # spot fees are taken in the asset received
                fee_asset, fee = spec.base, quantity * rate
                quote.free -= quantity * price
                base.free += quantity - fee
            else:
                fee_asset, fee = spec.quote, quantity * price * rate
                base.free -= quantity
                quote.free += quantity * price - fee
        fill = Fill(self._next_trade_id, price, quantity, fee, fee_asset, is_maker, realized, self.now_ns)
        self._next_trade_id += 1
        order.fills.append(fill)
        order.status = OrderStatus.FILLED
        order.update_ns = self.now_ns
        return OrderFilled(order, fill)

    def _trade_position(self, listed: ListedInstrument, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Apply a trade to the net position; return the P&L it realises (margin asset)."""
        position = self.position(listed.id)
        old = position.quantity
        realized = Decimal(0)
        if old and (old > 0) != (signed_qty > 0):  # reduces (and maybe flips)
            closed = min(abs(old), abs(signed_qty))
            entry_value = listed.notional(closed, position.entry_price)
            exit_value = listed.notional(closed, price)
            gain = entry_value - exit_value if listed.is_inverse else exit_value - entry_value
            realized = gain if old > 0 else -gain
        new = old + signed_qty
        if not new:
            position.entry_price = Decimal(0)
        elif not old or (old > 0) != (new > 0):
            position.entry_price = price
        elif abs(new) > abs(old):  # grows: average entry (by notional for inverse perps)
            if listed.is_inverse:
                coins = abs(old) / position.entry_price + abs(signed_qty) / price
                position.entry_price = abs(new) / coins
            else:
                position.entry_price = (abs(old) * position.entry_price + abs(signed_qty) * price) / abs(new)
        position.quantity = new
        return realized

    # -- the clock -------------------------------------------------------------------------------

    def advance_hour(self) -> list[Event]:
        """Move the clock one hour: the bars closing in it, the resting stops the hour's bar
        reaches (filled at their trigger, taker), then the resting LIMIT orders it crosses
        (filled at their price, maker), then funding if the hour is a funding time."""
        before, self.now_ns = self.now_ns, self.now_ns + HOUR_NS
        events: list[Event] = []
        for listed in self.instruments.values():
            for bar in self.prices.bars_closing_in(listed.id, before, self.now_ns):
                events.append(BarClosed(listed, bar))
                low, high = bar.low.as_decimal(), bar.high.as_decimal()
                resting = [o for o in self.open_orders() if o.instrument.id == listed.id]
                stops = [o for o in resting if o.order_type is OrderType.STOP_MARKET]
                limits = [o for o in resting if o.order_type is OrderType.LIMIT]
                for order in stops:
                    assert order.trigger_price is not None
                    reached = (
                        high >= order.trigger_price if order.side is Side.BUY else low <= order.trigger_price
                    )
                    if reached and self._may_fill(order):
                        events.append(self._fill(order, order.trigger_price, is_maker=False))
                for order in limits:
                    assert order.price is not None
                    crossed = low <= order.price if order.side is Side.BUY else high >= order.price
                    if crossed and self._may_fill(order):
                        events.append(self._fill(order, order.price, is_maker=True))
        if self.now_ns % FUNDING_INTERVAL_NS == 0:
            events.extend(self._settle_funding())
        return events

    def _may_fill(self, order: Order) -> bool:
        """A reduce-only order fills only against an opposite position at least its size."""
        if not order.reduce_only:
            return True
        held = self.position(order.instrument.id).quantity
        return -order.side.sign * held >= order.quantity

    def _settle_funding(self) -> list[Event]:
        events: list[Event] = []
        for instrument_id, position in self.positions.items():
            listed = self.instruments[instrument_id]
            rate = self.prices.funding_print(instrument_id, self.now_ns)
            if not position.quantity or rate is None:
                continue
            mark = self.price(instrument_id)
            value = listed.notional(abs(position.quantity), mark)
            amount = -(value if position.quantity > 0 else -value) * rate
            self.balance(listed.margin_asset).free += amount
            paid = FundingPaid(listed, listed.margin_asset, amount, rate, mark, self.now_ns)
            self.funding_paid.append(paid)
            events.append(paid)
        return events
