"""A fake Binance (spot, USDT-M or COIN-M futures) that Nautilus 1.231's own Binance clients trade
against, on a :class:`~fakevenues.market.VenueMarket`.

The routes are the ones the adapter calls (``nautilus_trader/adapters/binance``), the messages the
ones it parses (``fakevenues/binance_messages.py``):

- REST under ``/api/v3/`` (spot), ``/fapi/v1|v2|v3/`` (USDT-M) or ``/dapi/v1/`` (COIN-M): ping,
  time, exchangeInfo (exactly the account's instruments of ``configs/venues/binance.yaml``, with the
  YAML's tick and step sizes), klines, the futures' fundingRate history (the recorded prints the
  clock has passed); signed: account, trade fees or commission rate, position mode, positionRisk,
  symbolConfig, order (MARKET and LIMIT: new, query, cancel; 1.231 places orders over REST),
  openOrders, allOrders, myTrades / userTrades; the futures' algo orders (``algoOrder`` new, query,
  cancel; ``openAlgoOrders``, ``allAlgoOrders``): STOP_MARKET orders, which Binance takes through
  its algo service only since 2025-12 (Nautilus 1.231 sends them there), hidden from the regular
  order routes until triggered; the futures listenKey;
- market streams on ``<ws>/stream?streams=...`` plus SUBSCRIBE messages, answered with
  combined-stream frames ``{"stream", "data"}``: ``<symbol>@kline_1h`` when the fake's clock closes
  an hour and, for futures, ``<symbol>@markPrice@1s`` (on subscription and every hour);
- spot account events on the WebSocket API (``session.logon``, ``userDataStream.subscribe``),
  wrapped as ``{"subscriptionId", "event"}``: ``executionReport``, ``outboundAccountPosition``;
- futures account events (HMAC keys use the REST listenKey) on ``<ws_stream>?listenKey=K``
  (USDT-M) or ``<ws_stream>/K`` (COIN-M): ``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE`` (reason
  ``ORDER`` after a fill, ``FUNDING_FEE`` for a funding payment), ``ALGO_UPDATE`` (a stop accepted,
  canceled, or finished: its fill itself is the triggered order's ``ORDER_TRADE_UPDATE``).

A spot fake linked to a USDT-M fake (:meth:`FakeBinance.link_futures`) is also the exchange's
wallet as ccxt sees it (one host for every Binance API): ``/sapi/v1/asset/transfer`` moves USDT
between the two accounts (``MAIN_UMFUTURE``, ``UMFUTURE_MAIN``; each account streams its new
balance: ``outboundAccountPosition``, ``ACCOUNT_UPDATE`` reason ``DEPOSIT`` / ``WITHDRAW``) and lists
them, and the market lists ccxt loads first (``/api/v3``, ``/fapi/v1``, ``/dapi/v1`` exchangeInfo;
``/sapi/v1/capital/config/getall``, the (empty) margin pairs) are served.

Signed and user-stream routes require the ``X-MBX-APIKEY`` header with the fake's key and answer a
missing or wrong key as Binance does (HTTP 401, codes -2014 / -2015); a signed route also needs
``timestamp`` and ``signature`` (-1102), whose value is not checked. A refused order is Binance's
HTTP 400 error JSON (-2010 spot balance, -2019 futures margin).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from aiohttp import WSMsgType, web
from nautilus_trader.model.identifiers import InstrumentId

from fakevenues import binance_messages as msg
from fakevenues.market import (
    HOUR_NS,
    BarClosed,
    Event,
    FundingPaid,
    ListedInstrument,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRefused,
    OrderStatus,
    OrderType,
    Refusal,
    Side,
    VenueMarket,
)
from fakevenues.server import FakeServer, send_text

API_KEY_HEADER = "X-MBX-APIKEY"
TRANSFER_SIGNS = {"MAIN_UMFUTURE": 1, "UMFUTURE_MAIN": -1}
"""The internal transfer types the fake wallet serves: +1 spot → USDT-M, −1 back."""


class BinanceAccount(Enum):
    """The Binance account a fake serves: its REST prefix, Nautilus venue and instrument kind."""

    SPOT = ("/api/v3/", "BINANCE_SPOT", "spot")
    USDT_FUTURES = ("/fapi/v1/", "BINANCE", "perp")
    COIN_FUTURES = ("/dapi/v1/", "BINANCE", "inverse")

    def __init__(self, prefix: str, venue: str, kind: str) -> None:
        self.prefix = prefix
        self.venue = venue
        self.kind = kind

    @property
    def is_futures(self) -> bool:
        return self is not BinanceAccount.SPOT

    @property
    def account_path(self) -> str:
        """1.231 reads USDT-M's account from v2, its positions from v3; COIN-M has v1 only."""
        return {"SPOT": "/api/v3/account", "USDT_FUTURES": "/fapi/v2/account"}.get(
            self.name, "/dapi/v1/account"
        )

    @property
    def position_risk_path(self) -> str:
        return "/fapi/v3/positionRisk" if self is BinanceAccount.USDT_FUTURES else "/dapi/v1/positionRisk"

    @property
    def trades_path(self) -> str:
        return self.prefix + ("myTrades" if self is BinanceAccount.SPOT else "userTrades")


class BinanceError(Exception):
    """A Binance error response: HTTP status and the ``{"code", "msg"}`` body."""

    def __init__(self, status: int, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.status, self.code, self.text = status, code, text


REFUSAL_ERRORS: dict[Refusal, tuple[int, str]] = {
    # Binance's own codes and messages for what the market refuses
    Refusal.INSUFFICIENT_BALANCE: (-2010, "Account has insufficient balance for requested action."),
    Refusal.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
    Refusal.UNKNOWN_INSTRUMENT: (-1121, "Invalid symbol."),
    Refusal.UNKNOWN_ORDER: (-2013, "Order does not exist."),
    Refusal.BAD_QUANTITY: (-1013, "Filter failure: LOT_SIZE"),
    Refusal.NO_PRICE: (-1013, "Filter failure: no market price"),
    Refusal.WOULD_TRIGGER: (-2021, "Order would immediately trigger."),
    Refusal.BAD_TRIGGER: (
        -1102,
        "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.",
    ),
}


@dataclass
class Reply:
    """A REST answer and the market events it caused (streamed to the user after answering)."""

    body: Any
    events: list[Event] = field(default_factory=list)


Handler = Callable[[dict[str, str]], Reply]


@dataclass
class _MarketStream:
    """One market-data connection and the streams it subscribed to."""

    ws: web.WebSocketResponse
    streams: set[str]


@dataclass
class _UserStream:
    """One user-data connection: a futures listenKey stream, or a spot WebSocket API session
    (events wrapped with its subscription id once it subscribed)."""

    ws: web.WebSocketResponse
    listen_key: str | None = None
    subscription_id: int | None = None
    wrapped: bool = False


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeBinance:
    """One Binance account (spot, USDT-M or COIN-M) on ``127.0.0.1``; start with :meth:`start`."""

    def __init__(self, account: BinanceAccount, market: VenueMarket, api_key: str) -> None:
        listed = list(market.instruments.values())
        others = sorted(str(i.id) for i in listed if i.spec.kind != account.kind)
        if not listed or others:
            raise ValueError(
                f"a Binance {account.name} account trades {account.kind} instruments only; "
                f"the market lists {others or 'none'}"
            )
        self.account = account
        self.market = market
        self._api_key = api_key
        self._by_symbol = {msg.symbol_of(i): i for i in listed}
        self._market_streams: list[_MarketStream] = []
        self._user_streams: list[_UserStream] = []
        self._listen_keys: set[str] = set()
        self._next_id = 1
        self.server = FakeServer(self._app())
        self.requests: list[tuple[str, str]] = []
        """Every REST request served (method, path): what the client called."""
        self._futures: FakeBinance | None = None
        self.transfers: list[dict[str, Any]] = []
        """Every internal transfer done, as ``GET /sapi/v1/asset/transfer`` lists it."""

    def link_futures(self, futures: FakeBinance) -> FakeBinance:
        """Make this spot account the exchange's wallet, with ``futures`` (USDT-M) as the account
        its internal transfers reach (see the module docstring); returns self."""
        if self.account is not BinanceAccount.SPOT or futures.account is not BinanceAccount.USDT_FUTURES:
            raise ValueError("a spot fake links a USDT-M fake")
        self._futures = futures
        return self

    # -- lifecycle and test controls ------------------------------------------------------------

    def start(self) -> FakeBinance:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def endpoints(self) -> dict[str, str]:
        """The venue YAML ``live.<venue>`` section that points Nautilus' clients here."""
        urls = {
            "http": self.server.http_url,
            "ws": f"{self.server.ws_url}/ws",
            "ws_api": f"{self.server.ws_url}/ws-api",
        }
        if self.account.is_futures:
            urls["ws_stream"] = f"{self.server.ws_url}/user-stream"
        return urls

    def advance_hour(self) -> list[Event]:
        """Move the market's clock one hour and stream what happened (bars, fills of resting
        orders, funding, then the new mark prices) to the connected clients."""
        return self.server.call(self._advance_hour)

    async def _advance_hour(self) -> list[Event]:
        events = self.market.advance_hour()
        await self._publish(events)
        for stream in list(self._market_streams):
            await self._send_marks(stream, stream.streams)
        return events

    def read(self, fn: Callable[[VenueMarket], Any]) -> Any:
        """``fn(market)`` evaluated on the server's loop (a consistent view of the venue's state)."""
        return self.server.run(lambda: fn(self.market))

    def drop_websockets(self) -> int:
        """Close every WebSocket (market data and user data); returns how many were open."""
        return self.server.drop_websockets()

    def symbol(self, instrument_id: InstrumentId) -> str:
        """Binance's symbol of one of the project's instruments (``BTCUSD-PERP`` → ``BTCUSD_PERP``)."""
        return msg.symbol_of(self.market.instruments[instrument_id])

    @property
    def market_streams(self) -> set[str]:
        """The market streams the connected clients subscribed to (``btcusdt@kline_1h``...)."""
        return self.server.run(lambda: set().union(*(s.streams for s in self._market_streams)))

    @property
    def listen_keys(self) -> set[str]:
        """The futures listenKeys issued and not closed."""
        return self.server.run(lambda: set(self._listen_keys))

    @property
    def streaming_listen_keys(self) -> set[str]:
        """The futures listenKeys a user stream is connected on now."""
        return self.server.run(
            lambda: {u.listen_key for u in self._user_streams if u.listen_key is not None and not u.ws.closed}
        )

    # -- REST --------------------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws/stream", self._market_ws)
        app.router.add_get("/ws-api", self._ws_api)
        app.router.add_get("/user-stream", self._futures_user_ws)
        app.router.add_get("/user-stream/{listen_key}", self._futures_user_ws)
        app.router.add_route("*", "/{path:.*}", self._rest)
        return app

    async def _rest(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        params = dict(request.query) | dict(await request.post())  # ccxt posts a form, Nautilus a query
        try:
            handler, security = self._route(request.method, request.path)
            if security != "public":
                self._check_key(request.headers.get(API_KEY_HEADER))
            if security == "signed" and not {"signature", "timestamp"} <= params.keys():
                raise BinanceError(400, -1102, "Mandatory parameter 'signature' was not sent.")
            reply = handler(params)
            if inspect.isawaitable(reply):
                reply = await reply
        except OrderRefused as e:
            code, text = REFUSAL_ERRORS[e.reason]
            return _error(400, code, text)
        except BinanceError as e:
            return _error(e.status, e.code, e.text)
        await self._publish(reply.events)
        return web.json_response(reply.body)

    def _route(self, method: str, path: str) -> tuple[Handler, str]:
        """The handler of ``method path`` and its security: public, key (API key only) or signed."""
        a, p = self.account, self.account.prefix

        def const(body: Any) -> Handler:
            return lambda _: Reply(body)

        routes: dict[tuple[str, str], tuple[Handler, str]] = {
            ("GET", p + "ping"): (const({}), "public"),
            ("GET", p + "time"): (lambda _: Reply({"serverTime": _now_ms()}), "public"),
            ("GET", p + "exchangeInfo"): (self._exchange_info, "public"),
            ("GET", p + "klines"): (self._klines, "public"),
            ("GET", a.account_path): (self._account_info, "signed"),
            ("POST", p + "order"): (self._new_order, "signed"),
            ("GET", p + "order"): (lambda q: Reply(self._order_json(self._find(q))), "signed"),
            ("DELETE", p + "order"): (self._cancel_order, "signed"),
            ("GET", p + "openOrders"): (lambda q: self._orders_json(q, OrderStatus.NEW), "signed"),
            ("GET", p + "allOrders"): (lambda q: self._orders_json(q, None), "signed"),
            ("GET", a.trades_path): (self._user_trades, "signed"),
        }
        if a is BinanceAccount.SPOT:
            routes[("GET", "/sapi/v1/asset/tradeFee")] = (self._spot_trade_fees, "signed")
            if self._futures is not None:
                routes |= {
                    ("POST", "/sapi/v1/asset/transfer"): (self._transfer, "signed"),
                    ("GET", "/sapi/v1/asset/transfer"): (self._transfer_history, "signed"),
                    ("GET", "/sapi/v1/capital/config/getall"): (const([]), "signed"),
                    ("GET", "/sapi/v1/margin/allPairs"): (const([]), "key"),  # no margin trading
                    ("GET", "/sapi/v1/margin/isolated/allPairs"): (const([]), "signed"),
                    ("GET", "/fapi/v1/exchangeInfo"): (self._futures_exchange_info, "public"),
                    ("GET", "/dapi/v1/exchangeInfo"): (const(msg.exchange_info([], _now_ms())), "public"),
                }
        else:
            routes |= {
                ("GET", p + "positionSide/dual"): (const({"dualSidePosition": False}), "signed"),
                ("GET", a.position_risk_path): (self._position_risk, "signed"),
                ("GET", p + "symbolConfig"): (self._symbol_config, "signed"),
                ("GET", p + "commissionRate"): (self._commission_rate, "signed"),
                ("GET", p + "income"): (self._income, "signed"),
                ("GET", p + "fundingRate"): (self._funding_rates, "public"),
                ("POST", p + "algoOrder"): (self._new_algo_order, "signed"),
                ("GET", p + "algoOrder"): (
                    lambda q: Reply(msg.algo_order_json(self._find_algo(q))),
                    "signed",
                ),
                ("DELETE", p + "algoOrder"): (self._cancel_algo_order, "signed"),
                ("GET", p + "openAlgoOrders"): (
                    lambda q: self._algo_orders_json(q, OrderStatus.NEW),
                    "signed",
                ),
                ("GET", p + "allAlgoOrders"): (lambda q: self._algo_orders_json(q, None), "signed"),
                ("POST", p + "listenKey"): (self._new_listen_key, "key"),
                ("PUT", p + "listenKey"): (const({}), "key"),
                ("DELETE", p + "listenKey"): (self._close_listen_keys, "key"),
            }
        try:
            return routes[(method, path)]
        except KeyError:
            raise BinanceError(404, -1000, f"the fake Binance {a.name} serves no {method} {path}") from None

    def _check_key(self, key: str | None) -> None:
        if not key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        if key != self._api_key:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")

    def _listed(self, symbol: str | None) -> ListedInstrument:
        listed = self._by_symbol.get(symbol or "")
        if listed is None:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return listed

    def _selected(self, params: dict[str, str]) -> list[ListedInstrument]:
        """The instruments a request names with ``symbol`` (all when it names none)."""
        return [self._listed(params["symbol"])] if "symbol" in params else list(self._by_symbol.values())

    # -- market data --------------------------------------------------------------------------------

    def _exchange_info(self, params: dict[str, str]) -> Reply:
        wanted = set(json.loads(params["symbols"])) if "symbols" in params else None
        listed = [i for s, i in self._by_symbol.items() if wanted is None or s in wanted]
        if "symbol" in params:
            listed = [self._listed(params["symbol"])]
        describe = msg.futures_symbol if self.account.is_futures else msg.spot_symbol
        return Reply(msg.exchange_info([describe(i) for i in listed], _now_ms()))

    def _klines(self, params: dict[str, str]) -> Reply:
        """Recorded klines the fake's clock has closed, opening in ``[startTime, endTime]``."""
        listed = self._listed(params.get("symbol"))
        if params.get("interval") != msg.KLINE_INTERVAL:
            raise BinanceError(400, -1120, f"the fake serves {msg.KLINE_INTERVAL} klines only")
        limit = int(params.get("limit", 500))
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        bars = [
            b
            for b in self.market.prices.bars.get(listed.id, [])
            if b.ts_event <= self.market.now_ns and start <= msg.ms(b.ts_event - HOUR_NS) <= end
        ]
        bars = bars[:limit] if "startTime" in params else bars[-limit:]
        return Reply([msg.kline_row(b) for b in bars])

    def _funding_rates(self, params: dict[str, str]) -> Reply:
        """Settled funding prints (the clock has passed them) with ``fundingTime`` in
        ``[startTime, endTime]``, oldest first: the first ``limit`` from ``startTime``, else the last."""
        listed = self._listed(params.get("symbol"))
        limit = int(params.get("limit", 100))
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        prints = [
            msg.funding_rate_row(
                listed,
                f.ts_event,
                Decimal(str(f.rate)),
                self._close_at(listed, f.ts_event),
            )
            for f in self.market.prices.funding.get(listed.id, [])
            if f.ts_event <= self.market.now_ns and start <= msg.ms(f.ts_event) <= end
        ]
        return Reply(prints[:limit] if "startTime" in params else prints[-limit:])

    def _close_at(self, listed: ListedInstrument, ts_ns: int) -> Decimal:
        """The recorded close at ``ts_ns`` (a funding print's mark price; 0 before the history)."""
        bar = self.market.prices.last_bar(listed.id, ts_ns)
        return bar.close.as_decimal() if bar is not None else Decimal(0)

    async def _market_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = await self.server.open_websocket(request)
        stream = _MarketStream(ws, set(filter(None, request.query.get("streams", "").split("/"))))
        self._market_streams.append(stream)
        try:
            await self._send_marks(stream, stream.streams)
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                command = json.loads(frame.data)
                names = set(command.get("params", []))
                if command.get("method") == "SUBSCRIBE":
                    stream.streams |= names
                    await ws.send_json({"result": None, "id": command.get("id")})
                    await self._send_marks(stream, names)
                elif command.get("method") == "UNSUBSCRIBE":
                    stream.streams -= names
                    await ws.send_json({"result": None, "id": command.get("id")})
        finally:
            self._market_streams.remove(stream)
            self.server.forget(ws)
        return ws

    async def _send_marks(self, stream: _MarketStream, names: set[str]) -> None:
        """A mark price frame for each ``@markPrice`` stream among ``names`` (Binance pushes one
        every second; the fake pushes one on subscription and one per hour of its clock)."""
        if not self.account.is_futures:
            return
        for name in sorted(names):
            symbol, _, kind = name.partition("@")
            listed = self._by_symbol.get(symbol.upper())
            if listed is not None and kind.startswith("markPrice"):
                await _send(stream.ws, {"stream": name, "data": msg.mark_price_event(self.market, listed)})

    # -- account ------------------------------------------------------------------------------------

    def _account_info(self, _: dict[str, str]) -> Reply:
        if self.account.is_futures:
            return Reply(msg.futures_account(self.market))
        return Reply(msg.spot_account(self.market))

    def _spot_trade_fees(self, params: dict[str, str]) -> Reply:
        return Reply(
            [
                {
                    "symbol": msg.symbol_of(i),
                    "makerCommission": i.spec.maker_fee,
                    "takerCommission": i.spec.taker_fee,
                }
                for i in self._selected(params)
            ]
        )

    def _commission_rate(self, params: dict[str, str]) -> Reply:
        listed = self._listed(params.get("symbol"))
        return Reply(
            {
                "symbol": msg.symbol_of(listed),
                "makerCommissionRate": listed.spec.maker_fee,
                "takerCommissionRate": listed.spec.taker_fee,
            }
        )

    def _income(self, params: dict[str, str]) -> Reply:
        """The income history's funding payments (what ccxt's ``fetch_funding_history`` reads);
        the fake records no other income type."""
        if params.get("incomeType", "FUNDING_FEE") != "FUNDING_FEE":
            return Reply([])
        listed = {i.id for i in self._selected(params)}
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        paid = [
            p
            for p in self.market.funding_paid
            if p.instrument.id in listed and start <= msg.ms(p.ts_ns) <= end
        ]
        return Reply(
            [msg.funding_income(p, n) for n, p in enumerate(paid, start=1)][: int(params.get("limit", 100))]
        )

    def _position_risk(self, params: dict[str, str]) -> Reply:
        return Reply([msg.position_risk(self.market, i) for i in self._selected(params)])

    def _symbol_config(self, params: dict[str, str]) -> Reply:
        return Reply([msg.symbol_config(i) for i in self._selected(params)])

    # -- orders ---------------------------------------------------------------------------------------

    def _new_order(self, params: dict[str, str]) -> Reply:
        listed = self._listed(params.get("symbol"))
        if params.get("type") not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        client_order_id = params.get("newClientOrderId") or f"fake-{len(self.market.orders) + 1}"
        if any(o.client_order_id == client_order_id for o in self.market.orders.values()):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        order, events = self.market.submit(
            listed.id,
            Side(params["side"]),
            OrderType(params["type"]),
            Decimal(params["quantity"]),
            Decimal(params["price"]) if "price" in params else None,
            client_order_id,
            reduce_only=params.get("reduceOnly") == "true",
        )
        return Reply(self._order_json(order), events)

    def _find(self, params: dict[str, str]) -> Order:
        order_id = int(params["orderId"]) if "orderId" in params else None
        order = self.market.find_order(order_id=order_id, client_order_id=params.get("origClientOrderId"))
        if not _is_regular(order):
            raise OrderRefused(Refusal.UNKNOWN_ORDER, f"{order.client_order_id} is an algo order")
        return order

    def _new_algo_order(self, params: dict[str, str]) -> Reply:
        listed = self._listed(params.get("symbol"))
        if params.get("algoType") != "CONDITIONAL" or params.get("type") != OrderType.STOP_MARKET.value:
            raise BinanceError(400, -1116, "the fake takes CONDITIONAL STOP_MARKET algo orders only")
        client_order_id = params.get("clientAlgoId") or f"fake-algo-{len(self.market.orders) + 1}"
        if any(o.client_order_id == client_order_id for o in self.market.orders.values()):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        order, events = self.market.submit(
            listed.id,
            Side(params["side"]),
            OrderType.STOP_MARKET,
            Decimal(params["quantity"]),
            None,
            client_order_id,
            reduce_only=params.get("reduceOnly") == "true",
            trigger_price=Decimal(params["triggerPrice"]) if "triggerPrice" in params else None,
        )
        return Reply(msg.algo_order_json(order), events)

    def _find_algo(self, params: dict[str, str]) -> Order:
        order_id = int(params["algoId"]) if "algoId" in params else None
        order = self.market.find_order(order_id=order_id, client_order_id=params.get("clientAlgoId"))
        if _is_regular(order):
            raise OrderRefused(Refusal.UNKNOWN_ORDER, f"{order.client_order_id} is not an algo order")
        return order

    def _cancel_algo_order(self, params: dict[str, str]) -> Reply:
        order = self._find_algo(params)
        events = self.market.cancel(order.order_id)
        return Reply(msg.algo_canceled(order), events)

    def _algo_orders_json(self, params: dict[str, str], status: OrderStatus | None) -> Reply:
        listed = {i.id for i in self._selected(params)}
        return Reply(
            [
                msg.algo_order_json(o)
                for o in self.market.orders.values()
                if o.instrument.id in listed
                and o.order_type is OrderType.STOP_MARKET
                and status in (None, o.status)
            ]
        )

    def _cancel_order(self, params: dict[str, str]) -> Reply:
        order = self._find(params)
        events = self.market.cancel(order.order_id)
        return Reply(self._order_json(order), events)

    def _orders(self, params: dict[str, str]) -> list[Order]:
        """The regular orders on the selected instruments (a stop once triggered is one)."""
        listed = {i.id for i in self._selected(params)}
        return [o for o in self.market.orders.values() if o.instrument.id in listed and _is_regular(o)]

    def _orders_json(self, params: dict[str, str], status: OrderStatus | None) -> Reply:
        return Reply([self._order_json(o) for o in self._orders(params) if status in (None, o.status)])

    def _order_json(self, order: Order) -> dict[str, Any]:
        return msg.order_json(order, futures=self.account.is_futures)

    def _user_trades(self, params: dict[str, str]) -> Reply:
        return Reply([trade for order in self._orders(params) for trade in msg.user_trades(order)])

    # -- the wallet: internal transfers (spot fake linked to a USDT-M fake) --------------------------

    async def _transfer(self, params: dict[str, str]) -> Reply:
        """Move ``amount`` of ``asset`` between this spot account and the linked USDT-M account."""
        futures = self._futures
        assert futures is not None  # the route exists only when linked
        kind, asset, amount = params.get("type"), params.get("asset", ""), Decimal(params.get("amount", "0"))
        if kind not in TRANSFER_SIGNS or amount <= 0:
            raise BinanceError(400, -1100, f"the fake moves USDT spot <-> USDT-M only, got {kind} {amount}")
        to_futures = TRANSFER_SIGNS[kind] * amount
        if to_futures > 0 and self.market.balance(asset).free < amount:
            raise BinanceError(400, -5013, "Asset transfer failed: insufficient balance")
        moved = asyncio.run_coroutine_threadsafe(futures._credit(asset, to_futures), futures.server.loop)
        if not await asyncio.wrap_future(moved):
            raise BinanceError(400, -5013, "Asset transfer failed: insufficient balance")
        self.market.balance(asset).free -= to_futures
        record = {
            "timestamp": msg.ms(self.market.now_ns),
            "asset": asset,
            "amount": msg.number(amount),
            "type": kind,
            "status": "CONFIRMED",
            "tranId": len(self.transfers) + 1,
        }
        self.transfers.append(record)
        for listed in self._by_symbol.values():
            if asset in (listed.spec.base, listed.spec.quote):
                await self._to_user(msg.outbound_account_position(self.market, listed))
        return Reply({"tranId": record["tranId"]})

    async def _credit(self, asset: str, amount: Decimal) -> bool:
        """Add ``amount`` (negative: take) to this futures wallet and stream the new balance;
        False (nothing moved) when it would take more than the available margin."""
        if amount < 0 and self.market.available_margin(asset) < -amount:
            return False
        self.market.balance(asset).free += amount
        await self._to_user(msg.transfer_update(self.market, asset, amount))
        return True

    def _transfer_history(self, params: dict[str, str]) -> Reply:
        rows = [t for t in self.transfers if t["type"] == params.get("type")]
        return Reply({"total": len(rows), "rows": rows})

    def _futures_exchange_info(self, _: dict[str, str]) -> Reply:
        futures = self._futures
        assert futures is not None
        symbols = [msg.futures_symbol(i) for i in futures._by_symbol.values()]
        return Reply(msg.exchange_info(symbols, _now_ms()))

    # -- user data streams ------------------------------------------------------------------------------

    def _new_listen_key(self, _: dict[str, str]) -> Reply:
        key = f"fake-listen-key-{self._next_id}"
        self._next_id += 1
        self._listen_keys.add(key)
        return Reply({"listenKey": key})

    def _close_listen_keys(self, _: dict[str, str]) -> Reply:
        self._listen_keys.clear()
        return Reply({})

    async def _futures_user_ws(self, request: web.Request) -> web.WebSocketResponse:
        key = request.match_info.get("listen_key") or request.query.get("listenKey")
        if key not in self._listen_keys:
            raise web.HTTPBadRequest(
                text=json.dumps({"code": -1125, "msg": "This listenKey does not exist."})
            )
        ws = await self.server.open_websocket(request)
        await self._serve_user(_UserStream(ws, listen_key=key), lambda _: None)
        return ws

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        """Binance's WebSocket API: the requests Nautilus' spot client sends (session, user stream)."""
        if request.headers.get(API_KEY_HEADER) != self._api_key:
            raise web.HTTPUnauthorized(text=json.dumps({"code": -2015, "msg": "Invalid API-key."}))
        ws = await self.server.open_websocket(request)
        user = _UserStream(ws, wrapped=True)
        await self._serve_user(user, lambda req: self._ws_api_answer(req, user))
        return ws

    async def _serve_user(
        self, user: _UserStream, answer: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> None:
        """Read ``user``'s requests until it closes, sending each ``answer``; it receives events
        meanwhile (a WebSocket API session once subscribed)."""
        self._user_streams.append(user)
        try:
            async for frame in user.ws:
                if frame.type == WSMsgType.TEXT:
                    reply = answer(json.loads(frame.data))
                    if reply is not None:
                        await user.ws.send_json(reply)
        finally:
            self._user_streams.remove(user)
            self.server.forget(user.ws)

    def _ws_api_answer(self, req: dict[str, Any], user: _UserStream) -> dict[str, Any]:
        method, params, ok = req.get("method"), req.get("params", {}), {"id": req.get("id"), "status": 200}
        if method == "session.logon":
            if params.get("apiKey") != self._api_key:
                return {
                    "id": req.get("id"),
                    "status": 401,
                    "error": {"code": -2015, "msg": "Invalid API-key."},
                }
            return ok | {"result": {"apiKey": self._api_key, "serverTime": _now_ms()}}
        if method == "userDataStream.subscribe":
            user.subscription_id = self._next_id
            self._next_id += 1
            return ok | {"result": {"subscriptionId": user.subscription_id}}
        if method == "userDataStream.unsubscribe":
            user.subscription_id = None
            return ok | {"result": {}}
        return {
            "id": req.get("id"),
            "status": 400,
            "error": {"code": -1100, "msg": f"unknown method {method}"},
        }

    # -- publishing events --------------------------------------------------------------------------------

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, BarClosed):
                await self._publish_bar(event)
            elif isinstance(event, (OrderAccepted, OrderFilled, OrderCanceled)):
                await self._publish_order(event)
            elif isinstance(event, FundingPaid):
                await self._to_user(msg.account_update(self.market, event.instrument, event))

    async def _publish_bar(self, event: BarClosed) -> None:
        name = f"{msg.symbol_of(event.instrument).lower()}@kline_{msg.KLINE_INTERVAL}"
        frame = {"stream": name, "data": msg.kline_event(event.instrument, event.bar)}
        for stream in list(self._market_streams):
            if name in stream.streams:
                await _send(stream.ws, frame)

    async def _publish_order(self, event: OrderAccepted | OrderFilled | OrderCanceled) -> None:
        listed = event.order.instrument
        if self.account.is_futures:
            algo = event.order.order_type is OrderType.STOP_MARKET
            if not algo or isinstance(event, OrderFilled):  # a triggered stop fills as an order
                await self._to_user(msg.order_trade_update(event))
            if isinstance(event, OrderFilled):
                await self._to_user(msg.account_update(self.market, listed, None))
            if algo:
                await self._to_user(msg.algo_update(event.order))
        else:
            await self._to_user(msg.execution_report(event))
            if isinstance(event, OrderFilled):
                await self._to_user(msg.outbound_account_position(self.market, listed))

    async def _to_user(self, payload: dict[str, Any]) -> None:
        for user in list(self._user_streams):
            if not user.wrapped:
                await _send(user.ws, payload)
            elif user.subscription_id is not None:
                await _send(user.ws, {"subscriptionId": user.subscription_id, "event": payload})


def _is_regular(order: Order) -> bool:
    """Whether the regular order routes show ``order``: a stop-market order is an algo order until
    it triggers (the fake triggers and fills it at once)."""
    return order.order_type is not OrderType.STOP_MARKET or order.status is OrderStatus.FILLED


async def _send(ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
    await send_text(ws, json.dumps(payload))


def _error(status: int, code: int, text: str) -> web.Response:
    return web.json_response({"code": code, "msg": text}, status=status)
