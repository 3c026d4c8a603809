"""The venue-neutral half of the fake Bybit and OKX: recorded prices on a test-driven clock, one
unified trading account with a tiny matching engine, an aiohttp server on a free loopback port
that keeps its WebSockets (to drop them), and the channels each WebSocket subscribed to.

The fakes exist so Nautilus' real Bybit and OKX clients can be tested offline, by base URL: the
prices they serve are the project's recorded hourly bars and funding rates (the catalog), the
account is the one a unified venue keeps (spot coins and perp positions in one margin account,
USDT settling fees, realized P&L and funding). The clock moves only when a test calls
:meth:`RecordedMarket.step`, so every number a test checks can be computed independently.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import WSCloseCode, web
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from fakevenues.market import ListedInstrument
from fakevenues.server import send_text

HOUR = pd.Timedelta(hours=1)
FUNDING_INTERVAL_HOURS = 8
"""Bybit and OKX settle USDT perp funding every 8 hours, at 00:00, 08:00 and 16:00 UTC."""


def ms(ts: pd.Timestamp) -> int:
    """Milliseconds since the epoch (the venues' time unit)."""
    return int(ts.value // 1_000_000)


class RecordedMarket:
    """Recorded hourly bars and funding rates of some instruments, on a clock a test steps.

    ``now`` is always an hour mark: the close of the current bar of every instrument. A market
    order fills at that bar's close; the perp's funding rate is the latest one recorded at or
    before ``now``.
    """

    def __init__(
        self, catalog_dir: Path, instrument_ids: list[InstrumentId], start: pd.Timestamp, hours: int
    ):
        if start.tzinfo is None or start != start.floor("h"):
            raise ValueError(f"start must be a UTC hour mark, got {start}")
        catalog = ParquetDataCatalog(str(catalog_dir))
        end = start + hours * HOUR
        self._bars: dict[InstrumentId, dict[pd.Timestamp, Bar]] = {}
        self._funding: dict[InstrumentId, list[FundingRateUpdate]] = {}
        for instrument_id in instrument_ids:
            bar_type = f"{instrument_id}-1-HOUR-LAST-EXTERNAL"
            bars = catalog.bars(bar_types=[bar_type], start=start, end=end)
            if len(bars) != hours + 1:
                raise ValueError(
                    f"{catalog_dir}: {bar_type} has {len(bars)} bars closing in [{start}, {end}], "
                    f"expected {hours + 1} (one per hour)"
                )
            self._bars[instrument_id] = {pd.Timestamp(b.ts_event, tz="UTC"): b for b in bars}
            self._funding[instrument_id] = catalog.query(
                FundingRateUpdate,
                identifiers=[str(instrument_id)],
                start=start - FUNDING_INTERVAL_HOURS * HOUR,
                end=end,
            )
        self.start = start
        self.end = end
        self.now = start

    @property
    def instrument_ids(self) -> list[InstrumentId]:
        return list(self._bars)

    def step(self) -> pd.Timestamp:
        """Advance the clock one hour (to the next bar close) and return the new ``now``."""
        if self.now >= self.end:
            raise RuntimeError(f"the recorded window ends at {self.end}")
        self.now += HOUR
        return self.now

    def bar(self, instrument_id: InstrumentId, at: pd.Timestamp | None = None) -> Bar:
        """The bar closing at ``at`` (default: now)."""
        return self._bars[instrument_id][self.now if at is None else at]

    def bars(self, instrument_id: InstrumentId) -> list[Bar]:
        """The bars closed so far (a venue serves no future klines)."""
        return [b for ts, b in self._bars[instrument_id].items() if ts <= self.now]

    def price(self, instrument_id: InstrumentId) -> Decimal:
        """The recorded price a market order fills at: the close of the current bar."""
        return self.bar(instrument_id).close.as_decimal()

    def funding_rates(self, instrument_id: InstrumentId) -> list[FundingRateUpdate]:
        """The funding rates recorded up to now (oldest first)."""
        return [f for f in self._funding[instrument_id] if f.ts_event <= self.now.value]

    def funding_rate(self, instrument_id: InstrumentId) -> Decimal:
        """The current funding rate of a perp (the latest recorded at or before now)."""
        rates = self.funding_rates(instrument_id)
        if not rates:
            raise ValueError(f"no funding rate recorded for {instrument_id} at or before {self.now}")
        return Decimal(str(rates[-1].rate))

    def next_funding_time(self) -> pd.Timestamp:
        """The next 8-hour funding mark after now."""
        marks = self.now.floor(f"{FUNDING_INTERVAL_HOURS}h")
        return marks + FUNDING_INTERVAL_HOURS * HOUR

    @property
    def at_funding_mark(self) -> bool:
        return self.now.hour % FUNDING_INTERVAL_HOURS == 0 and self.now.minute == 0


@dataclass
class Fill:
    """One execution of a market order."""

    exec_id: str
    order_id: str
    client_order_id: str
    instrument: ListedInstrument
    side: str
    """``BUY`` or ``SELL``."""
    qty: Decimal
    """Base units (spot) or contracts (perps)."""
    price: Decimal
    fee: Decimal
    """Quote currency (USDT), the taker rate of the venue YAML on the notional."""
    ts: pd.Timestamp
    closed_qty: Decimal


@dataclass
class Order:
    """An order the fake venue took (market orders fill at once; rejected ones keep their reason)."""

    order_id: str
    client_order_id: str
    instrument: ListedInstrument
    side: str
    qty: Decimal
    created: pd.Timestamp
    status: str = "NEW"
    """``NEW``, ``FILLED`` or ``REJECTED``."""
    reject_reason: str = ""
    fills: list[Fill] = field(default_factory=list)

    @property
    def filled_qty(self) -> Decimal:
        return sum((f.qty for f in self.fills), Decimal(0))

    @property
    def avg_price(self) -> Decimal:
        qty = self.filled_qty
        return sum((f.qty * f.price for f in self.fills), Decimal(0)) / qty if qty else Decimal(0)

    @property
    def fees(self) -> Decimal:
        return sum((f.fee for f in self.fills), Decimal(0))


@dataclass
class Position:
    """A perp position: signed contracts and the average entry price."""

    qty: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    """Closed P&L, funding and fees since the position opened (the venues' cumRealisedPnl)."""


@dataclass(frozen=True)
class FundingPayment:
    instrument: ListedInstrument
    rate: Decimal
    mark_price: Decimal
    position_qty: Decimal
    amount: Decimal
    """Credited to the settlement coin: negative when the position pays."""


class Refusal(Enum):
    """Why the matching engine refuses an order (each venue reports it with its own code)."""

    BAD_SIZE = "bad_size"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    UNSUPPORTED = "unsupported"
    """An order the fake does not match (anything but a MARKET order)."""


class OrderRefused(Exception):
    """The venue's refusal of an order: why, and the message the venue sends."""

    def __init__(self, reason: Refusal, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class UnifiedAccount:
    """One unified margin account: coin balances (spot holdings are coins) and perp positions,
    settled in USDT.

    A market order fills whole at the market's recorded price; the fee is the instrument's taker
    rate (venue YAML) on the notional, in USDT. Perps settle realized P&L and funding in USDT.
    """

    def __init__(
        self, market: RecordedMarket, instruments: list[ListedInstrument], balances: dict[str, Decimal]
    ):
        self.market = market
        self.instruments = {i.id: i for i in instruments if i.id in market.instrument_ids}
        self.balances = {coin: Decimal(v) for coin, v in balances.items()}
        self.positions: dict[InstrumentId, Position] = {}
        self.orders: dict[str, Order] = {}
        self.funding_payments: list[FundingPayment] = []
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    @property
    def fills(self) -> list[Fill]:
        return [f for o in self.orders.values() for f in o.fills]

    def submit_market(
        self, instrument_id: InstrumentId, side: str, qty: Decimal, client_order_id: str
    ) -> Order:
        """Fill a market order at the recorded price, or raise :class:`OrderRefused`
        (the order is kept as ``REJECTED`` either way)."""
        instrument = self.instruments.get(instrument_id)
        if instrument is None:
            raise OrderRefused(Refusal.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument_id}")
        order = Order(self.next_id("O"), client_order_id, instrument, side, qty, self.market.now)
        self.orders[order.order_id] = order
        price = self.market.price(instrument_id)
        notional = qty * instrument.multiplier * price
        fee = notional * Decimal(instrument.spec.taker_fee)
        try:
            self._check(instrument, side, qty, notional, fee)
        except OrderRefused as e:
            order.status, order.reject_reason = "REJECTED", e.message
            raise
        closed = self._apply(instrument, side, qty, price, notional, fee)
        order.fills.append(
            Fill(
                self.next_id("E"),
                order.order_id,
                client_order_id,
                instrument,
                side,
                qty,
                price,
                fee,
                self.market.now,
                closed,
            )
        )
        order.status = "FILLED"
        return order

    def _check(
        self, instrument: ListedInstrument, side: str, qty: Decimal, notional: Decimal, fee: Decimal
    ) -> None:
        increment = Decimal(instrument.spec.size_increment)
        if qty <= 0 or qty % increment:
            raise OrderRefused(Refusal.BAD_SIZE, f"qty {qty} is not a positive multiple of {increment}")
        if notional < Decimal(str(instrument.spec.min_notional)):
            raise OrderRefused(
                Refusal.BELOW_MIN_NOTIONAL,
                f"order value {notional:.2f} is below the minimum {instrument.spec.min_notional}",
            )
        usdt = self.balances.get("USDT", Decimal(0))
        if instrument.is_perp:
            assert instrument.spec.margin is not None
            needed = notional * Decimal(str(instrument.spec.margin.initial)) + fee
        elif side == "BUY":
            needed = notional + fee
        else:
            held = self.balances.get(instrument.spec.base, Decimal(0))
            if held < qty:
                raise OrderRefused(
                    Refusal.INSUFFICIENT_BALANCE, f"insufficient {instrument.spec.base}: {held} < {qty}"
                )
            needed = Decimal(0)
        if needed > usdt:
            raise OrderRefused(
                Refusal.INSUFFICIENT_BALANCE, f"insufficient USDT: needs {needed:.4f}, available {usdt:.4f}"
            )

    def _apply(
        self,
        instrument: ListedInstrument,
        side: str,
        qty: Decimal,
        price: Decimal,
        notional: Decimal,
        fee: Decimal,
    ) -> Decimal:
        sign = Decimal(1) if side == "BUY" else Decimal(-1)
        self._credit("USDT", -fee)
        if not instrument.is_perp:
            self._credit(instrument.spec.base, sign * qty)
            self._credit("USDT", -sign * notional)
            return Decimal(0)
        position = self.positions.setdefault(instrument.id, Position())
        position.realized_pnl -= fee
        closed = min(qty, abs(position.qty)) if position.qty * sign < 0 else Decimal(0)
        if closed:
            pnl = closed * instrument.multiplier * (price - position.entry_price) * (-sign)
            position.realized_pnl += pnl
            self._credit("USDT", pnl)
        opened = qty - closed
        if opened:
            held = abs(position.qty) - closed
            position.entry_price = (held * position.entry_price + opened * price) / (held + opened)
        position.qty += sign * qty
        if position.qty == 0:
            position.entry_price = Decimal(0)
        return closed

    def settle_funding(self) -> list[FundingPayment]:
        """Pay or charge every open perp position its funding at the current mark (the recorded
        price): ``-contracts × multiplier × mark × rate`` in USDT (longs pay a positive rate)."""
        payments = []
        for instrument_id, position in self.positions.items():
            if position.qty == 0:
                continue
            instrument = self.instruments[instrument_id]
            rate = self.market.funding_rate(instrument_id)
            mark = self.market.price(instrument_id)
            amount = -position.qty * instrument.multiplier * mark * rate
            self._credit("USDT", amount)
            position.realized_pnl += amount
            payments.append(FundingPayment(instrument, rate, mark, position.qty, amount))
        self.funding_payments += payments
        return payments

    def unrealized_pnl(self, instrument_id: InstrumentId) -> Decimal:
        position = self.positions.get(instrument_id, Position())
        mark = self.market.price(instrument_id)
        return position.qty * self.instruments[instrument_id].multiplier * (mark - position.entry_price)

    def initial_margin(self, instrument_id: InstrumentId) -> Decimal:
        instrument = self.instruments[instrument_id]
        assert instrument.spec.margin is not None
        position = self.positions.get(instrument_id, Position())
        notional = abs(position.qty) * instrument.multiplier * self.market.price(instrument_id)
        return notional * Decimal(str(instrument.spec.margin.initial))

    def maintenance_margin(self, instrument_id: InstrumentId) -> Decimal:
        instrument = self.instruments[instrument_id]
        assert instrument.spec.margin is not None
        position = self.positions.get(instrument_id, Position())
        notional = abs(position.qty) * instrument.multiplier * self.market.price(instrument_id)
        return notional * Decimal(str(instrument.spec.margin.maintenance))

    def open_perps(self) -> list[InstrumentId]:
        return [i for i, p in self.positions.items() if p.qty != 0]

    def _credit(self, coin: str, amount: Decimal) -> None:
        self.balances[coin] = self.balances.get(coin, Decimal(0)) + amount


class FakeVenueServer:
    """An aiohttp application on a free 127.0.0.1 port, keeping its open WebSockets so a test can
    drop them (the client must reconnect) and count how often each path was connected to."""

    def __init__(self, app: web.Application):
        self.app = app
        self.sockets: dict[str, set[web.WebSocketResponse]] = {}
        self.connections: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for path in list(self.sockets):
            await self.drop(path)
        if self._runner is not None:
            await self._runner.cleanup()

    async def accept(self, request: web.Request) -> web.WebSocketResponse:
        """Upgrade a request to a WebSocket the server keeps track of."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.setdefault(request.path, set()).add(ws)
        self.connections[request.path] = self.connections.get(request.path, 0) + 1
        return ws

    def forget(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.sockets.get(request.path, set()).discard(ws)

    async def drop(self, path: str) -> int:
        """Close every WebSocket open on ``path`` as a venue restart would; returns how many."""
        sockets = list(self.sockets.get(path, ()))
        for ws in sockets:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake venue dropped the connection")
        return len(sockets)

    def open_sockets(self, path: str) -> list[web.WebSocketResponse]:
        return [ws for ws in self.sockets.get(path, ()) if not ws.closed]


def plain(value: Decimal | float | str) -> str:
    """A number as the venues write it: a decimal string, no exponent, no trailing zeros."""
    return format(Decimal(str(value)).normalize(), "f")


class Subscriptions:
    """The channels each open WebSocket of a fake venue subscribed to (a channel is whatever key
    the venue names its streams by: Bybit's topic string, OKX's ``arg``)."""

    def __init__(self) -> None:
        self._channels: dict[web.WebSocketResponse, set[Any]] = {}

    def open(self, ws: web.WebSocketResponse) -> None:
        self._channels[ws] = set()

    def close(self, ws: web.WebSocketResponse) -> None:
        self._channels.pop(ws, None)

    def add(self, ws: web.WebSocketResponse, channels: Iterable[Any]) -> None:
        self._channels[ws].update(channels)

    def remove(self, ws: web.WebSocketResponse, channels: Iterable[Any]) -> None:
        self._channels[ws].difference_update(channels)

    def of(self, ws: web.WebSocketResponse) -> set[Any]:
        return set(self._channels.get(ws, ()))

    def items(self) -> list[tuple[web.WebSocketResponse, set[Any]]]:
        return [(ws, set(channels)) for ws, channels in self._channels.items() if not ws.closed]

    @staticmethod
    async def send(ws: web.WebSocketResponse, message: dict[str, Any] | str) -> None:
        """Send ``message`` (JSON unless a plain string) unless the socket has closed meanwhile."""
        await send_text(ws, message if isinstance(message, str) else json.dumps(message))
