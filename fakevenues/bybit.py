"""A local fake of Bybit's v5 API (spot + linear, unified trading account) for Nautilus' Bybit
clients: the REST routes and WebSocket messages Nautilus 1.231's Rust Bybit client uses, serving
the project's recorded prices and filling market orders at them.

Endpoints (one server, paths as on bybit.com):

- REST ``/v5/market/{instruments-info,kline,funding/history,tickers,time}``,
  ``/v5/account/{fee-rate,wallet-balance,info}``, ``/v5/position/list``,
  ``/v5/order/{realtime,history,create}``, ``/v5/execution/list`` and the account-settings
  POSTs; private routes check the ``X-BAPI-API-KEY`` header against the venue's key.
- WebSocket ``/v5/public/spot`` and ``/v5/public/linear`` (topics ``kline.60.<symbol>`` and
  ``tickers.<symbol>`` with ``fundingRate``/``nextFundingTime``), ``/v5/private`` (``auth``, then
  ``order``, ``execution``, ``position``, ``wallet``) and ``/v5/trade`` (``auth``, ``order.create``).

What it does not do: limit orders rest nowhere (only MARKET orders are matched), no order book,
no trades stream, no signature check (only the key is compared).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import WSMsgType, web
from nautilus_trader.model.identifiers import InstrumentId

from adapters.config import VENUE_CONFIG_DIR
from fakevenues._shared_bybit_okx import (
    FakeVenueServer,
    Order,
    OrderRefused,
    RecordedMarket,
    Refusal,
    Subscriptions,
    UnifiedAccount,
    ms,
    plain,
)
from fakevenues.market import ListedInstrument, listed_instruments

CATEGORIES = ("spot", "linear")
KLINE_INTERVAL = "60"
"""Bybit's name of the 1-hour kline (the only bars the fake records)."""
PUBLIC_PATH = "/v5/public"
"""Public streams live at ``<PUBLIC_PATH>/<category>``, as on stream.bybit.com."""
_SIDES = {"Buy": "BUY", "Sell": "SELL"}
RET_CODES = {
    Refusal.BAD_SIZE: 10001,
    Refusal.BELOW_MIN_NOTIONAL: 170140,
    Refusal.INSUFFICIENT_BALANCE: 110007,
    Refusal.UNKNOWN_INSTRUMENT: 10001,
    Refusal.UNSUPPORTED: 10001,
}
"""Bybit's ``retCode`` for each refusal."""
_BYBIT_SIDE = {v: k for k, v in _SIDES.items()}


def _category(instrument: ListedInstrument) -> str:
    return "linear" if instrument.is_perp else "spot"


def _symbol(instrument: ListedInstrument) -> str:
    return instrument.instrument.raw_symbol.value


class FakeBybit:
    """The fake venue: a recorded market, one unified account and the aiohttp server serving both."""

    def __init__(
        self,
        catalog_dir: Path,
        start: pd.Timestamp,
        hours: int,
        api_key: str,
        balances: dict[str, Decimal],
        config_dir: Path = VENUE_CONFIG_DIR,
    ):
        instruments = listed_instruments("BYBIT", config_dir)
        self.market = RecordedMarket(catalog_dir, [i.id for i in instruments], start, hours)
        self.account = UnifiedAccount(self.market, instruments, balances)
        self.instruments = instruments
        self._api_key = api_key
        self._topics = Subscriptions()
        self._private: set[web.WebSocketResponse] = set()
        self._category_of: dict[web.WebSocketResponse, str] = {}
        """The category of each public stream (the last part of its path)."""
        self.rejections: list[dict[str, Any]] = []
        app = web.Application()
        app.add_routes(
            [
                web.get("/v5/market/time", self._time),
                web.get("/v5/market/instruments-info", self._instruments_info),
                web.get("/v5/market/kline", self._klines),
                web.get("/v5/market/funding/history", self._funding_history),
                web.get("/v5/market/tickers", self._tickers),
                web.get("/v5/account/fee-rate", self._fee_rate),
                web.get("/v5/account/wallet-balance", self._wallet_balance),
                web.get("/v5/account/info", self._account_info),
                web.get("/v5/position/list", self._position_list),
                web.get("/v5/order/realtime", self._orders_realtime),
                web.get("/v5/order/history", self._orders_history),
                web.get("/v5/execution/list", self._execution_list),
                web.post("/v5/order/create", self._order_create),
                web.post("/v5/position/set-leverage", self._accept_setting),
                web.post("/v5/position/switch-mode", self._accept_setting),
                web.post("/v5/account/set-margin-mode", self._accept_setting),
                *(web.get(f"{PUBLIC_PATH}/{c}", self._public_ws) for c in CATEGORIES),
                web.get("/v5/private", self._private_ws),
                web.get("/v5/trade", self._trade_ws),
            ]
        )
        self.server = FakeVenueServer(app)

    @property
    def public_ws_url(self) -> str:
        """The base of the public streams (``ws`` in the venue YAML's ``live.BYBIT``)."""
        return f"{self.server.ws_url}{PUBLIC_PATH}"

    def endpoints(self) -> dict[str, str]:
        """The ``live.BYBIT`` section pointing every settable endpoint at this fake."""
        return {
            "http": self.server.http_url,
            "ws": self.public_ws_url,
            "ws_private": f"{self.server.ws_url}/v5/private",
            "ws_trade": f"{self.server.ws_url}/v5/trade",
        }

    def subscriptions(self, path: str) -> set[str]:
        """The topics subscribed on the open WebSockets of ``path`` (e.g. ``/v5/public/spot``)."""
        return {t for ws in self.server.open_sockets(path) for t in self._topics.of(ws)}

    def instrument(self, instrument_id: InstrumentId) -> ListedInstrument:
        return self.account.instruments[instrument_id]

    async def step(self) -> pd.Timestamp:
        """Advance the recorded clock one hour: publish the closed klines and tickers, and at a
        funding mark settle funding and publish the account's new positions and wallet."""
        now = self.market.step()
        for ws, topics in self._topics.items():
            for topic in sorted(topics):
                message = self._public_message(ws, topic)
                if message is not None:
                    await self._topics.send(ws, message)
        if self.market.at_funding_mark and self.account.settle_funding():
            await self._publish_private("position", self._positions_data(None))
            await self._publish_private("wallet", [self._wallet()])
        return now

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    # ----- REST ---------------------------------------------------------------------------------

    def _reply(self, result: Any, code: int = 0, message: str = "OK") -> web.Response:
        return web.json_response(
            {
                "retCode": code,
                "retMsg": message,
                "result": result,
                "retExtInfo": {},
                "time": ms(pd.Timestamp.now(tz="UTC")),
            }
        )

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-BAPI-API-KEY") != self._api_key:
            return self._reply({}, 10003, "API key is invalid.")
        return None

    def _listed(self, request: web.Request) -> list[ListedInstrument]:
        category = request.query.get("category")
        symbol = request.query.get("symbol")
        return [
            i
            for i in self.account.instruments.values()
            if _category(i) == category and (symbol is None or _symbol(i) == symbol)
        ]

    def _by_symbol(self, category: str, symbol: str) -> ListedInstrument | None:
        return next(
            (
                i
                for i in self.account.instruments.values()
                if _category(i) == category and _symbol(i) == symbol
            ),
            None,
        )

    async def _time(self, request: web.Request) -> web.Response:
        now = pd.Timestamp.now(tz="UTC")
        return self._reply({"timeSecond": str(now.value // 10**9), "timeNano": str(now.value)})

    async def _instruments_info(self, request: web.Request) -> web.Response:
        category = request.query.get("category")
        if category not in CATEGORIES:
            return self._reply({}, 10001, f"the fake lists no category {category!r}")
        items = [self._definition(i) for i in self._listed(request)]
        return self._reply({"category": category, "list": items, "nextPageCursor": ""})

    def _definition(self, i: ListedInstrument) -> dict[str, Any]:
        spec = i.spec
        common = {
            "symbol": _symbol(i),
            "baseCoin": spec.base,
            "quoteCoin": spec.quote,
            "status": "Trading",
            "priceFilter": {
                "tickSize": spec.price_increment,
                "minPrice": spec.price_increment,
                "maxPrice": "1999999",
            },
        }
        if not i.is_perp:
            return {
                **common,
                "innovation": "0",
                "marginTrading": "utaOnly",
                "lotSizeFilter": {
                    "basePrecision": spec.size_increment,
                    "quotePrecision": "0.00000001",
                    "minOrderQty": spec.size_increment,
                    "maxOrderQty": "10000",
                    "minOrderAmt": plain(spec.min_notional),
                    "maxOrderAmt": "10000000",
                },
            }
        assert spec.margin is not None
        return {
            **common,
            "contractType": "LinearPerpetual",
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(i.instrument.price_precision),
            "leverageFilter": {
                "minLeverage": "1",
                "maxLeverage": plain(1 / Decimal(str(spec.margin.initial))),
                "leverageStep": "0.01",
            },
            "lotSizeFilter": {
                "maxOrderQty": "1000",
                "minOrderQty": spec.size_increment,
                "qtyStep": spec.size_increment,
                "postOnlyMaxOrderQty": "1000",
                "maxMktOrderQty": "1000",
                "minNotionalValue": plain(spec.min_notional),
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": "USDT",
        }

    async def _fee_rate(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        items = [
            {
                "symbol": _symbol(i),
                "baseCoin": "",
                "takerFeeRate": i.spec.taker_fee,
                "makerFeeRate": i.spec.maker_fee,
            }
            for i in self._listed(request)
        ]
        return self._reply({"list": items})

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        instrument = self._by_symbol(q.get("category", ""), q.get("symbol", ""))
        if instrument is None or q.get("interval") != KLINE_INTERVAL:
            return self._reply({}, 10001, f"the fake serves 1-hour klines of listed symbols, not {dict(q)}")
        start, end = int(q.get("start", 0)), int(q.get("end", 2**62))
        rows = []
        for bar in self.market.bars(instrument.id):
            opened = bar.ts_event // 1_000_000 - 3_600_000
            if start <= opened <= end:
                turnover = bar.volume.as_decimal() * bar.close.as_decimal()
                rows.append(
                    [
                        str(opened),
                        str(bar.open),
                        str(bar.high),
                        str(bar.low),
                        str(bar.close),
                        str(bar.volume),
                        plain(turnover),
                    ]
                )
        rows = rows[::-1][: int(q.get("limit", 200))]  # newest first, as Bybit
        return self._reply({"category": q["category"], "symbol": q["symbol"], "list": rows})

    async def _funding_history(self, request: web.Request) -> web.Response:
        q = request.query
        instrument = self._by_symbol(q.get("category", ""), q.get("symbol", ""))
        if instrument is None or not instrument.is_perp:
            return self._reply({}, 10001, f"no perpetual {q.get('symbol')!r} in {q.get('category')!r}")
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        rows = [
            {
                "symbol": q["symbol"],
                "fundingRate": plain(f.rate),
                "fundingRateTimestamp": str(f.ts_event // 1_000_000),
            }
            for f in self.market.funding_rates(instrument.id)
            if start <= f.ts_event // 1_000_000 <= end
        ]
        return self._reply({"category": "linear", "list": rows[::-1][: int(q.get("limit", 200))]})

    async def _tickers(self, request: web.Request) -> web.Response:
        items = [self._ticker(i) for i in self._listed(request)]
        return self._reply({"category": request.query.get("category"), "list": items})

    def _ticker(self, i: ListedInstrument) -> dict[str, Any]:
        bar = self.market.bar(i.id)
        price = str(bar.close)
        ticker = {
            "symbol": _symbol(i),
            "lastPrice": price,
            "bid1Price": price,
            "bid1Size": "1",
            "ask1Price": price,
            "ask1Size": "1",
            "prevPrice24h": str(bar.open),
            "price24hPcnt": "0",
            "highPrice24h": str(bar.high),
            "lowPrice24h": str(bar.low),
            "turnover24h": "0",
            "volume24h": str(bar.volume),
        }
        if i.is_perp:
            ticker |= {
                "markPrice": price,
                "indexPrice": price,
                "prevPrice1h": str(bar.open),
                "openInterest": "0",
                "openInterestValue": "0",
                "tickDirection": "ZeroPlusTick",
                "fundingRate": plain(self.market.funding_rate(i.id)),
                "nextFundingTime": str(ms(self.market.next_funding_time())),
                "fundingIntervalHour": "8",
            }
        return ticker

    async def _wallet_balance(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply({"list": [self._wallet()]})

    def _wallet(self) -> dict[str, Any]:
        """The unified account as Bybit reports it (coins; perps' margin and P&L on USDT)."""
        account = self.account
        perps = account.open_perps()
        upl = sum((account.unrealized_pnl(i) for i in perps), Decimal(0))
        im = sum((account.initial_margin(i) for i in perps), Decimal(0))
        mm = sum((account.maintenance_margin(i) for i in perps), Decimal(0))
        coins = []
        for coin, balance in sorted(account.balances.items()):
            usdt = coin == "USDT"
            equity = balance + upl if usdt else balance
            coins.append(
                {
                    "coin": coin,
                    "equity": plain(equity),
                    "usdValue": plain(equity if usdt else Decimal(0)),
                    "walletBalance": plain(balance),
                    "availableToWithdraw": plain(balance - im if usdt else balance),
                    "availableToBorrow": "",
                    "borrowAmount": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "0",
                    "totalPositionIM": plain(im if usdt else Decimal(0)),
                    "totalPositionMM": plain(mm if usdt else Decimal(0)),
                    "unrealisedPnl": plain(upl if usdt else Decimal(0)),
                    "cumRealisedPnl": "0",
                    "bonus": "0",
                    "locked": "0",
                    "collateralSwitch": True,
                    "marginCollateral": True,
                    "spotBorrow": "0",
                }
            )
        usdt = account.balances.get("USDT", Decimal(0))
        return {
            "accountType": "UNIFIED",
            "accountIMRate": "0",
            "accountMMRate": "0",
            "accountLTV": "0",
            "totalEquity": plain(usdt + upl),
            "totalWalletBalance": plain(usdt),
            "totalMarginBalance": plain(usdt + upl),
            "totalAvailableBalance": plain(usdt + upl - im),
            "totalPerpUPL": plain(upl),
            "totalInitialMargin": plain(im),
            "totalMaintenanceMargin": plain(mm),
            "coin": coins,
        }

    async def _account_info(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply(
            {
                "marginMode": "REGULAR_MARGIN",
                "updatedTime": "0",
                "unifiedMarginStatus": 4,
                "dcpStatus": "OFF",
                "timeWindow": 10,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            }
        )

    async def _position_list(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        if request.query.get("category") != "linear":
            return self._reply({"category": request.query.get("category"), "list": [], "nextPageCursor": ""})
        symbol = request.query.get("symbol")
        items = [p for p in self._positions_data(None) if symbol is None or p["symbol"] == symbol]
        return self._reply({"category": "linear", "list": items, "nextPageCursor": ""})

    def _positions_data(self, only: InstrumentId | None) -> list[dict[str, Any]]:
        """Bybit's position records (one-way mode) of the perps the account has traded."""
        now = str(ms(self.market.now))
        out = []
        for instrument_id, position in self.account.positions.items():
            if only is not None and instrument_id != only:
                continue
            price = self.market.price(instrument_id)
            side = "Buy" if position.qty > 0 else "Sell" if position.qty < 0 else ""
            size = abs(position.qty)
            out.append(
                {
                    "category": "linear",
                    "symbol": _symbol(self.instrument(instrument_id)),
                    "positionIdx": 0,
                    "tradeMode": 0,
                    "riskId": 1,
                    "riskLimitValue": "2000000",
                    "side": side,
                    "size": plain(size),
                    "avgPrice": plain(position.entry_price),
                    "entryPrice": plain(position.entry_price),
                    "sessionAvgPrice": "",
                    "positionValue": plain(size * position.entry_price),
                    "positionBalance": "0",
                    "leverage": "10",
                    "markPrice": plain(price),
                    "positionIM": plain(self.account.initial_margin(instrument_id)),
                    "positionMM": plain(self.account.maintenance_margin(instrument_id)),
                    "positionIMByMp": plain(self.account.initial_margin(instrument_id)),
                    "positionMMByMp": plain(self.account.maintenance_margin(instrument_id)),
                    "liqPrice": "",
                    "bustPrice": "",
                    "takeProfit": "0",
                    "stopLoss": "0",
                    "trailingStop": "0",
                    "tpslMode": "Full",
                    "unrealisedPnl": plain(self.account.unrealized_pnl(instrument_id)),
                    "curRealisedPnl": plain(position.realized_pnl),
                    "cumRealisedPnl": plain(position.realized_pnl),
                    "positionStatus": "Normal",
                    "adlRankIndicator": 0,
                    "autoAddMargin": 0,
                    "isReduceOnly": False,
                    "mmrSysUpdatedTime": "",
                    "leverageSysUpdatedTime": "",
                    "createdTime": now,
                    "updatedTime": now,
                    "seq": 1,
                }
            )
        return out

    async def _orders_realtime(self, request: web.Request) -> web.Response:
        """Open orders; asked for one order (``orderId``/``orderLinkId``), Bybit also returns it
        closed (Nautilus looks an HTTP-placed order up this way)."""
        if denied := self._unauthorized(request):
            return denied
        one = request.query.get("orderId") or request.query.get("orderLinkId")
        if one:
            return self._orders_reply(request, lambda o: one in (o.order_id, o.client_order_id))
        return self._orders_reply(request, lambda o: o.status == "NEW")

    async def _orders_history(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._orders_reply(request, lambda o: o.status != "NEW")

    def _orders_reply(self, request: web.Request, keep: Callable[[Order], bool]) -> web.Response:
        """The orders of the request's category that ``keep`` selects; a refused order never
        reached Bybit's books (its create returned a ``retCode``), so none is listed."""
        category = request.query.get("category")
        items = [
            self._order_data(o)
            for o in self.account.orders.values()
            if o.status != "REJECTED" and keep(o) and _category(o.instrument) == category
        ]
        return self._reply({"category": category, "list": items, "nextPageCursor": ""})

    async def _execution_list(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        category = request.query.get("category")
        items = [self._execution_data(f) for f in self.account.fills if _category(f.instrument) == category]
        return self._reply({"category": category, "list": items[::-1], "nextPageCursor": ""})

    async def _accept_setting(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply({})

    async def _order_create(self, request: web.Request) -> web.Response:
        """The HTTP order entry (Nautilus uses it on Bybit demo, which has no trade stream)."""
        if denied := self._unauthorized(request):
            return denied
        args = await request.json()
        try:
            order = self._place(args)
        except OrderRefused as e:
            return self._reply({}, RET_CODES[e.reason], e.message)
        await self._publish_fills(order)
        return self._reply({"orderId": order.order_id, "orderLinkId": order.client_order_id})

    # ----- order entry and account events -------------------------------------------------------

    def _place(self, args: dict[str, Any]) -> Order:
        """Take one ``order.create`` argument set: a MARKET order fills at the recorded price."""
        instrument = self._by_symbol(args.get("category", ""), args.get("symbol", ""))
        if instrument is None:
            raise self._rejected(
                args, OrderRefused(Refusal.UNKNOWN_INSTRUMENT, f"symbol {args.get('symbol')!r} not listed")
            )
        if args.get("orderType") != "Market":
            raise self._rejected(
                args, OrderRefused(Refusal.UNSUPPORTED, "the fake venue matches MARKET orders only")
            )
        if args.get("marketUnit") == "quoteCoin":
            raise self._rejected(
                args, OrderRefused(Refusal.UNSUPPORTED, "the fake venue takes base-coin quantities only")
            )
        try:
            return self.account.submit_market(
                instrument.id, _SIDES[args["side"]], Decimal(args["qty"]), args.get("orderLinkId", "")
            )
        except OrderRefused as e:
            raise self._rejected(args, e) from None

    def _rejected(self, args: dict[str, Any], error: OrderRefused) -> OrderRefused:
        self.rejections.append({"args": args, "retCode": RET_CODES[error.reason], "retMsg": error.message})
        return error

    async def _publish_fills(self, order: Order) -> None:
        """What Bybit streams after a market order: the order accepted, its execution, the order
        filled, then (perps) the position and the wallet."""
        await self._publish_private("order", [self._order_data(order, status="New")])
        await self._publish_private("execution", [self._execution_data(f) for f in order.fills])
        await self._publish_private("order", [self._order_data(order)])
        if order.instrument.is_perp:
            await self._publish_private("position", self._positions_data(order.instrument.id))
        await self._publish_private("wallet", [self._wallet()])

    def _order_data(self, order: Order, status: str | None = None) -> dict[str, Any]:
        status = status or {"NEW": "New", "FILLED": "Filled", "REJECTED": "Rejected"}[order.status]
        filled = Decimal(0) if status == "New" else order.filled_qty
        value = filled * order.avg_price * order.instrument.multiplier
        created = str(ms(order.created))
        return {
            "category": _category(order.instrument),
            "symbol": _symbol(order.instrument),
            "orderId": order.order_id,
            "orderLinkId": order.client_order_id,
            "side": _BYBIT_SIDE[order.side],
            "orderType": "Market",
            "isLeverage": "0",
            "cancelType": "UNKNOWN",
            "price": "0",
            "qty": plain(order.qty),
            "orderIv": "",
            "timeInForce": "IOC",
            "orderStatus": status,
            "lastPriceOnCreated": plain(self.market.price(order.instrument.id)),
            "reduceOnly": False,
            "leavesQty": plain(order.qty - filled),
            "leavesValue": "0",
            "cumExecQty": plain(filled),
            "cumExecValue": plain(value),
            "avgPrice": plain(order.avg_price) if filled else "",
            "blockTradeId": "",
            "positionIdx": 0,
            "cumExecFee": plain(order.fees if filled else Decimal(0)),
            "createdTime": created,
            "updatedTime": created,
            "rejectReason": order.reject_reason or "EC_NoError",
            "triggerPrice": "0",
            "takeProfit": "0",
            "stopLoss": "0",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "tpLimitPrice": "0",
            "slLimitPrice": "0",
            "closeOnTrigger": False,
            "placeType": "",
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "feeCurrency": order.instrument.spec.quote,
            "triggerBy": "",
            "stopOrderType": "",
            "triggerDirection": 0,
            "tpslMode": "",
            "createType": "CreateByUser",
        }

    def _execution_data(self, fill) -> dict[str, Any]:
        instrument = fill.instrument
        order = self.account.orders[fill.order_id]
        return {
            "category": _category(instrument),
            "symbol": _symbol(instrument),
            "orderId": fill.order_id,
            "orderLinkId": fill.client_order_id,
            "side": _BYBIT_SIDE[fill.side],
            "orderPrice": "0",
            "orderQty": plain(order.qty),
            "leavesQty": "0",
            "createType": "CreateByUser",
            "orderType": "Market",
            "stopOrderType": "",
            "execFee": plain(fill.fee),
            "feeCurrency": instrument.spec.quote,
            "execId": fill.exec_id,
            "execPrice": plain(fill.price),
            "execQty": plain(fill.qty),
            "execType": "Trade",
            "execValue": plain(fill.qty * fill.price * instrument.multiplier),
            "execTime": str(ms(fill.ts)),
            "isMaker": False,
            "feeRate": instrument.spec.taker_fee,
            "tradeIv": "",
            "markIv": "",
            "markPrice": plain(fill.price),
            "indexPrice": "",
            "underlyingPrice": "",
            "blockTradeId": "",
            "closedSize": plain(fill.closed_qty),
            "isLeverage": "0",
            "seq": 1,
        }

    # ----- WebSockets ---------------------------------------------------------------------------

    async def _publish_private(self, topic: str, data: list[dict[str, Any]]) -> None:
        message = {"topic": topic, "id": uuid.uuid4().hex, "creationTime": ms(self.market.now), "data": data}
        for ws, topics in self._topics.items():
            if ws in self._private and topic in topics:
                await self._topics.send(ws, message)

    def _public_message(self, ws: web.WebSocketResponse, topic: str) -> dict[str, Any] | None:
        if ws in self._private:
            return None
        kind, *_, symbol = topic.split(".")
        category = self._category_of.get(ws, "")
        instrument = self._by_symbol(category, symbol)
        if instrument is None:
            return None
        ts = ms(self.market.now)
        if kind == "kline":
            bar = self.market.bar(instrument.id)
            opened = ts - 3_600_000
            kline = {
                "start": opened,
                "end": ts - 1,
                "interval": KLINE_INTERVAL,
                "open": str(bar.open),
                "close": str(bar.close),
                "high": str(bar.high),
                "low": str(bar.low),
                "volume": str(bar.volume),
                "turnover": plain(bar.volume.as_decimal() * bar.close.as_decimal()),
                "confirm": True,
                "timestamp": ts,
            }
            return {"topic": topic, "type": "snapshot", "ts": ts, "data": [kline]}
        if kind == "tickers":
            return {"topic": topic, "type": "snapshot", "cs": 1, "ts": ts, "data": self._ticker(instrument)}
        return None

    async def _public_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = await self.server.accept(request)
        self._category_of[ws] = request.path.rsplit("/", 1)[1]
        await self._serve(request, ws, authenticated=True)
        return ws

    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = await self.server.accept(request)
        self._private.add(ws)
        await self._serve(request, ws, authenticated=False)
        return ws

    async def _trade_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = await self.server.accept(request)
        self._private.add(ws)
        await self._serve(request, ws, authenticated=False)
        return ws

    async def _serve(self, request: web.Request, ws: web.WebSocketResponse, authenticated: bool) -> None:
        """One connection's request loop: ping, auth, subscribe/unsubscribe, order.create."""
        self._topics.open(ws)
        conn_id = uuid.uuid4().hex
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                request_msg = json.loads(msg.data)
                op = request_msg.get("op")
                req_id = request_msg.get("req_id") or request_msg.get("reqId") or ""
                if op == "ping":
                    await self._topics.send(
                        ws,
                        {
                            "success": True,
                            "ret_msg": "pong",
                            "conn_id": conn_id,
                            "req_id": req_id,
                            "op": "pong",
                        },
                    )
                elif op == "auth":
                    authenticated = (request_msg.get("args") or [None])[0] == self._api_key
                    code, text = (0, "") if authenticated else (10003, "Invalid apikey")
                    await self._topics.send(
                        ws,
                        {
                            "op": "auth",
                            "success": authenticated,
                            "retCode": code,
                            "retMsg": text,
                            "connId": conn_id,
                        },
                    )
                elif op in ("subscribe", "unsubscribe"):
                    await self._subscription(
                        ws, op, request_msg.get("args", []), req_id, conn_id, authenticated
                    )
                elif op == "order.create":
                    await self._ws_order_create(ws, request_msg, req_id, conn_id, authenticated)
        finally:
            self._topics.close(ws)
            self._private.discard(ws)
            self._category_of.pop(ws, None)
            self.server.forget(request, ws)

    async def _subscription(
        self,
        ws: web.WebSocketResponse,
        op: str,
        topics: list[str],
        req_id: str,
        conn_id: str,
        authenticated: bool,
    ) -> None:
        ok = authenticated
        if ok:
            if op == "subscribe":
                self._topics.add(ws, topics)
            else:
                self._topics.remove(ws, topics)
        await self._topics.send(
            ws,
            {
                "success": ok,
                "ret_msg": "" if ok else "Request not authorized",
                "conn_id": conn_id,
                "req_id": req_id,
                "op": op,
            },
        )
        if op == "subscribe" and ok:
            for topic in topics:
                if topic.startswith("tickers."):  # Bybit sends a ticker snapshot on subscribing
                    message = self._public_message(ws, topic)
                    if message is not None:
                        await self._topics.send(ws, message)

    async def _ws_order_create(
        self,
        ws: web.WebSocketResponse,
        request_msg: dict[str, Any],
        req_id: str,
        conn_id: str,
        authenticated: bool,
    ) -> None:
        reply = {"op": "order.create", "connId": conn_id, "reqId": req_id, "header": {}, "retExtInfo": {}}
        if not authenticated:
            refused = {"retCode": 10003, "retMsg": "Request not authorized", "data": {}}
            await self._topics.send(ws, reply | refused)
            return
        args = (request_msg.get("args") or [{}])[0]
        try:
            order = self._place(args)
        except OrderRefused as e:
            refused = {"retCode": RET_CODES[e.reason], "retMsg": e.message, "data": {}}
            await self._topics.send(ws, reply | refused)
            return
        await self._topics.send(
            ws,
            reply
            | {
                "retCode": 0,
                "retMsg": "OK",
                "data": {"orderId": order.order_id, "orderLinkId": order.client_order_id},
            },
        )
        await self._publish_fills(order)
