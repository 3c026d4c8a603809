"""A local fake of OKX's v5 API (spot + USDT swaps, unified account) for Nautilus' OKX clients: the
REST routes and WebSocket messages Nautilus 1.231's Rust OKX client uses, serving the project's
recorded prices and filling market orders at them.

Endpoints (one server, paths as on okx.com):

- REST ``/api/v5/public/{time,instruments,mark-price,funding-rate,funding-rate-history}``,
  ``/api/v5/market/{candles,history-candles}``, ``/api/v5/account/{balance,positions,trade-fee,
  set-position-mode}``, ``/api/v5/trade/{order,orders-pending,orders-history,orders-algo-pending,
  orders-algo-history,fills}``; private routes check the ``OK-ACCESS-KEY`` and
  ``OK-ACCESS-PASSPHRASE`` headers against the venue's keys.
- WebSocket ``/ws/v5/public`` (``mark-price``, ``funding-rate``, ``instruments``),
  ``/ws/v5/business`` (``candle1H``) and ``/ws/v5/private`` (``login``, then ``orders``,
  ``account``, ``positions``, and the ``order`` operation). Nautilus derives the business and
  private paths from the public one by replacing its last segment.

Swap sizes are contracts of ``ctVal`` (the YAML's ``multiplier``) base units. Fees are charged in
USDT on both spot and swaps (OKX charges a spot buy's fee in the base coin). What it does not do:
limit and algo orders, order books, trades, signature checks (only key and passphrase compared).
"""

from __future__ import annotations

import json
import uuid
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import WSMsgType, web

from adapters.config import VENUE_CONFIG_DIR
from fakevenues._shared_bybit_okx import (
    FakeVenueServer,
    Fill,
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

WS_PATHS = {"public": "/ws/v5/public", "business": "/ws/v5/business", "private": "/ws/v5/private"}
CANDLE_CHANNEL = "candle1H"
"""OKX's name of the 1-hour candle stream (the only bars the fake records)."""
PRIVATE_CHANNELS = frozenset({"orders", "account", "positions", "balance_and_position"})
S_CODES = {
    Refusal.BAD_SIZE: "51121",
    Refusal.BELOW_MIN_NOTIONAL: "51020",
    Refusal.INSUFFICIENT_BALANCE: "51008",
    Refusal.UNKNOWN_INSTRUMENT: "51001",
    Refusal.UNSUPPORTED: "51000",
}
"""OKX's ``sCode`` for each refusal."""
_UNUSED_BALANCE_FIELDS = [
    "borrowFroz",
    "crossLiab",
    "interest",
    "isoLiab",
    "liab",
    "maxLoan",
    "mgnRatio",
    "spotInUseAmt",
    "clSpotInUseAmt",
    "maxSpotInUseAmt",
    "uplLiab",
    "spotBal",
    "openAvgPx",
    "accAvgPx",
    "spotUpl",
    "spotUplRatio",
    "totalPnl",
    "totalPnlRatio",
]
"""Fields of a balance record the unified account without borrowing leaves empty."""
_UNUSED_POSITION_FIELDS = [
    "baseBal",
    "uplRatio",
    "mgnRatio",
    "uplLastPx",
    "uplRatioLastPx",
    "bePx",
    "liqPenalty",
    "optVal",
    "pendingCloseOrdLiabVal",
    "pnl",
    "quoteBal",
    "quoteBorrowed",
    "quoteInterest",
    "spotInUseAmt",
    "spotInUseCcy",
    "usdPx",
]
"""Fields of a swap position record that concern other margin modes or products (left empty)."""
_INST_ID_CODE_BASE = 10_000
"""OKX numbers instruments (``instIdCode``): the WebSocket order operation names them so."""


def _inst_type(instrument: ListedInstrument) -> str:
    return "SWAP" if instrument.is_perp else "SPOT"


def _inst_id(instrument: ListedInstrument) -> str:
    return instrument.instrument.raw_symbol.value


def _channel_key(arg: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in arg.items()))


class FakeOKX:
    """The fake venue: a recorded market, one unified account and the aiohttp server serving both."""

    def __init__(
        self,
        catalog_dir: Path,
        start: pd.Timestamp,
        hours: int,
        api_key: str,
        passphrase: str,
        balances: dict[str, Decimal],
        config_dir: Path = VENUE_CONFIG_DIR,
    ):
        instruments = listed_instruments("OKX", config_dir)
        self.market = RecordedMarket(catalog_dir, [i.id for i in instruments], start, hours)
        self.account = UnifiedAccount(self.market, instruments, balances)
        self._codes = {_INST_ID_CODE_BASE + n: i for n, i in enumerate(self.account.instruments.values(), 1)}
        self._api_key, self._passphrase = api_key, passphrase
        self._channels = Subscriptions()
        self._logged_in: set[web.WebSocketResponse] = set()
        self.rejections: list[dict[str, Any]] = []
        app = web.Application()
        app.add_routes(
            [
                web.get("/api/v5/public/time", self._time),
                web.get("/api/v5/public/instruments", self._instruments),
                web.get("/api/v5/public/mark-price", self._mark_price),
                web.get("/api/v5/public/funding-rate", self._funding_rate),
                web.get("/api/v5/public/funding-rate-history", self._funding_rate_history),
                web.get("/api/v5/market/candles", self._candles),
                web.get("/api/v5/market/history-candles", self._candles),
                web.get("/api/v5/account/balance", self._balance),
                web.get("/api/v5/account/positions", self._positions),
                web.get("/api/v5/account/trade-fee", self._trade_fee),
                web.post("/api/v5/account/set-position-mode", self._accept_setting),
                web.post("/api/v5/trade/order", self._order_http),
                web.get("/api/v5/trade/orders-pending", self._orders_pending),
                web.get("/api/v5/trade/orders-history", self._orders_history),
                web.get("/api/v5/trade/orders-algo-pending", self._no_algo_orders),
                web.get("/api/v5/trade/orders-algo-history", self._no_algo_orders),
                web.get("/api/v5/trade/fills", self._fills),
                *(web.get(path, self._ws) for path in WS_PATHS.values()),
            ]
        )
        self.server = FakeVenueServer(app)

    def endpoints(self) -> dict[str, str]:
        """The ``live.OKX`` section pointing every settable endpoint at this fake."""
        return {
            "http": self.server.http_url,
            "ws": f"{self.server.ws_url}{WS_PATHS['public']}",
            "ws_private": f"{self.server.ws_url}{WS_PATHS['private']}",
        }

    def subscriptions(self, path: str) -> set[tuple[tuple[str, str], ...]]:
        """The channels subscribed on the open WebSockets of ``path``."""
        return {c for ws in self.server.open_sockets(path) for c in self._channels.of(ws)}

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def step(self) -> pd.Timestamp:
        """Advance the recorded clock one hour: publish the closed candles, mark prices and funding
        rates, and at a funding mark settle funding and publish the account."""
        now = self.market.step()
        for ws, channels in self._channels.items():
            for key in sorted(channels):
                message = self._market_message(dict(key))
                if message is not None:
                    await self._channels.send(ws, message)
        if self.market.at_funding_mark and self.account.settle_funding():
            await self._publish_private({"channel": "positions", "instType": "SWAP"}, self._positions_data())
            await self._publish_private({"channel": "account"}, [self._account_data()])
        return now

    # ----- REST ---------------------------------------------------------------------------------

    @staticmethod
    def _reply(data: list[Any], code: str = "0", msg: str = "", status: int = 200) -> web.Response:
        return web.json_response({"code": code, "msg": msg, "data": data}, status=status)

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        key, passphrase = request.headers.get("OK-ACCESS-KEY"), request.headers.get("OK-ACCESS-PASSPHRASE")
        if key != self._api_key or passphrase != self._passphrase:
            return self._reply([], "50111", "Invalid OK-ACCESS-KEY or passphrase.", status=401)
        return None

    def _by_inst_id(self, inst_id: str | None) -> ListedInstrument | None:
        return next((i for i in self.account.instruments.values() if _inst_id(i) == inst_id), None)

    def _listed(self, request: web.Request) -> list[ListedInstrument]:
        inst_type, inst_id = request.query.get("instType"), request.query.get("instId")
        return [
            i
            for i in self.account.instruments.values()
            if (inst_type is None or _inst_type(i) == inst_type)
            and (inst_id is None or _inst_id(i) == inst_id)
        ]

    async def _time(self, request: web.Request) -> web.Response:
        return self._reply([{"ts": str(ms(pd.Timestamp.now(tz="UTC")))}])

    async def _instruments(self, request: web.Request) -> web.Response:
        return self._reply([self._definition(i) for i in self._listed(request)])

    def _definition(self, i: ListedInstrument) -> dict[str, Any]:
        spec = i.spec
        code = next(c for c, listed in self._codes.items() if listed.id == i.id)
        common = {
            "instType": _inst_type(i),
            "instId": _inst_id(i),
            "instIdCode": code,
            "category": "1",
            "state": "live",
            "ruleType": "normal",
            "listTime": "1611916828000",
            "tickSz": spec.price_increment,
            "lotSz": spec.size_increment,
            "minSz": spec.size_increment,
            "maxLmtSz": "100000000",
            "maxMktSz": "1000000",
            "maxLmtAmt": "20000000",
            "maxMktAmt": "1000000",
            "maxStopSz": "1000000",
            "maxTwapSz": "100000000",
            "maxIcebergSz": "100000000",
            "maxTriggerSz": "100000000",
            "alias": "",
            "auctionEndTime": "",
            "expTime": "",
            "optType": "",
            "stk": "",
        }
        if not i.is_perp:
            return common | {
                "baseCcy": spec.base,
                "quoteCcy": spec.quote,
                "settleCcy": "",
                "ctMult": "",
                "ctType": "",
                "ctVal": "",
                "ctValCcy": "",
                "instFamily": "",
                "uly": "",
                "lever": "10",
            }
        assert spec.margin is not None
        family = f"{spec.base}-{spec.quote}"
        return common | {
            "baseCcy": "",
            "quoteCcy": "",
            "settleCcy": spec.quote,
            "ctMult": "1",
            "ctType": "linear",
            "ctVal": spec.multiplier,
            "ctValCcy": spec.base,
            "instFamily": family,
            "uly": family,
            "lever": plain(1 / Decimal(str(spec.margin.initial))),
        }

    async def _trade_fee(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        listed = self._listed(request)
        if not listed:
            return self._reply([], "51001", f"no instruments of type {request.query.get('instType')!r}")
        spec = listed[0].spec  # OKX quotes one fee level per instrument type
        maker, taker = plain(-Decimal(spec.maker_fee)), plain(-Decimal(spec.taker_fee))  # negative: a charge
        linear = listed[0].is_perp
        return self._reply(
            [
                {
                    "category": "1",
                    "instType": request.query["instType"],
                    "level": "Lv1",
                    "maker": maker,
                    "taker": taker,
                    "makerU": maker if linear else "",
                    "takerU": taker if linear else "",
                    "makerUSDC": "",
                    "takerUSDC": "",
                    "delivery": "",
                    "exercise": "",
                    "uly": "",
                    "ts": str(ms(self.market.now)),
                }
            ]
        )

    async def _mark_price(self, request: web.Request) -> web.Response:
        return self._reply([self._mark_data(i) for i in self._listed(request) if i.is_perp])

    def _mark_data(self, i: ListedInstrument) -> dict[str, Any]:
        return {
            "instType": "SWAP",
            "instId": _inst_id(i),
            "markPx": str(self.market.bar(i.id).close),
            "ts": str(ms(self.market.now)),
        }

    async def _funding_rate(self, request: web.Request) -> web.Response:
        instrument = self._by_inst_id(request.query.get("instId"))
        if instrument is None or not instrument.is_perp:
            return self._reply([], "51001", f"no swap {request.query.get('instId')!r}")
        return self._reply([self._funding_data(instrument)])

    def _funding_data(self, i: ListedInstrument) -> dict[str, Any]:
        """The current rate (the latest recorded), settled at the next 8-hour mark."""
        funding_time = self.market.next_funding_time()
        return {
            "instType": "SWAP",
            "instId": _inst_id(i),
            "fundingRate": plain(self.market.funding_rate(i.id)),
            "nextFundingRate": "",
            "fundingTime": str(ms(funding_time)),
            "nextFundingTime": str(ms(funding_time + pd.Timedelta(hours=8))),
            "method": "current_period",
            "ts": str(ms(self.market.now)),
        }

    async def _funding_rate_history(self, request: web.Request) -> web.Response:
        instrument = self._by_inst_id(request.query.get("instId"))
        if instrument is None or not instrument.is_perp:
            return self._reply([], "51001", f"no swap {request.query.get('instId')!r}")
        rows = [
            {
                "instType": "SWAP",
                "instId": _inst_id(instrument),
                "fundingRate": plain(f.rate),
                "realizedRate": plain(f.rate),
                "fundingTime": str(f.ts_event // 1_000_000),
                "method": "current_period",
            }
            for f in self.market.funding_rates(instrument.id)
        ]
        return self._reply(self._page(rows[::-1], request, "fundingTime"))

    async def _candles(self, request: web.Request) -> web.Response:
        instrument = self._by_inst_id(request.query.get("instId"))
        if instrument is None or request.query.get("bar", "1m") != "1H":
            return self._reply(
                [], "51000", f"the fake serves 1H candles of listed instruments, not {dict(request.query)}"
            )
        rows = [
            self._candle_row(instrument, pd.Timestamp(b.ts_event, tz="UTC"))
            for b in self.market.bars(instrument.id)
        ]
        page = self._page([{"ts": r[0], "row": r} for r in rows[::-1]], request, "ts")
        return self._reply([r["row"] for r in page])

    @staticmethod
    def _page(rows: list[dict[str, Any]], request: web.Request, key: str) -> list[dict[str, Any]]:
        """OKX paging on newest-first rows: ``after`` (older than), ``before`` (newer than), ``limit``."""
        after, before = request.query.get("after"), request.query.get("before")
        if after:
            rows = [r for r in rows if int(r[key]) < int(after)]
        if before:
            rows = [r for r in rows if int(r[key]) > int(before)]
        return rows[: int(request.query.get("limit", 100))]

    def _candle_row(self, i: ListedInstrument, closed: pd.Timestamp) -> list[str]:
        """OKX's candle row of the bar closing at ``closed``: stamped at its open, confirmed."""
        bar = self.market.bar(i.id, closed)
        volume = bar.volume.as_decimal()
        quote_volume = plain(volume * bar.close.as_decimal() * i.multiplier)
        opened = str(ms(closed - pd.Timedelta(hours=1)))
        return [
            opened,
            str(bar.open),
            str(bar.high),
            str(bar.low),
            str(bar.close),
            str(bar.volume),
            quote_volume,
            quote_volume,
            "1",
        ]

    async def _balance(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply([self._account_data()])

    def _account_data(self) -> dict[str, Any]:
        """The unified account as OKX reports it: each coin's cash balance; the swaps' margin and
        unrealized P&L on USDT."""
        account = self.account
        perps = account.open_perps()
        upl = sum((account.unrealized_pnl(i) for i in perps), Decimal(0))
        imr = sum((account.initial_margin(i) for i in perps), Decimal(0))
        mmr = sum((account.maintenance_margin(i) for i in perps), Decimal(0))
        now = str(ms(self.market.now))
        details = []
        for coin, balance in sorted(account.balances.items()):
            usdt = coin == "USDT"
            equity = balance + upl if usdt else balance
            details.append(
                {
                    "ccy": coin,
                    "cashBal": plain(balance),
                    "availBal": plain(balance - imr if usdt else balance),
                    "availEq": plain(equity - imr if usdt else equity),
                    "eq": plain(equity),
                    "eqUsd": plain(equity if usdt else Decimal(0)),
                    "disEq": plain(equity if usdt else Decimal(0)),
                    "frozenBal": plain(imr if usdt else Decimal(0)),
                    "ordFrozen": "0",
                    "upl": plain(upl if usdt else Decimal(0)),
                    "imr": plain(imr if usdt else Decimal(0)),
                    "mmr": plain(mmr if usdt else Decimal(0)),
                    "isoEq": "0",
                    "isoUpl": "0",
                    "fixedBal": "0",
                    "rewardBal": "0",
                    "smtSyncEq": "0",
                    "spotCopyTradingEq": "0",
                    "spotIsoBal": "0",
                    "stgyEq": "0",
                    "twap": "0",
                    "notionalLever": "0",
                    "collateralEnabled": True,
                    **dict.fromkeys(_UNUSED_BALANCE_FIELDS, ""),
                    "uTime": now,
                }
            )
        usdt = account.balances.get("USDT", Decimal(0))
        return {
            "totalEq": plain(usdt + upl),
            "adjEq": plain(usdt + upl),
            "isoEq": "0",
            "imr": plain(imr),
            "mmr": plain(mmr),
            "upl": plain(upl),
            "mgnRatio": "",
            "notionalUsd": "",
            "ordFroz": "",
            "borrowFroz": "",
            "notionalUsdForBorrow": "",
            "notionalUsdForFutures": "",
            "notionalUsdForOption": "",
            "notionalUsdForSwap": "",
            "uTime": now,
            "details": details,
        }

    async def _positions(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        inst_id = request.query.get("instId")
        return self._reply([p for p in self._positions_data() if inst_id is None or p["instId"] == inst_id])

    def _positions_data(self) -> list[dict[str, Any]]:
        """OKX's position records (net mode, cross margin) of the swaps the account holds."""
        now = str(ms(self.market.now))
        out = []
        for instrument_id in self.account.open_perps():
            i = self.account.instruments[instrument_id]
            position = self.account.positions[instrument_id]
            price = plain(self.market.price(instrument_id))
            out.append(
                {
                    "instType": "SWAP",
                    "instId": _inst_id(i),
                    "mgnMode": "cross",
                    "posId": f"P{instrument_id}",
                    "posSide": "net",
                    "pos": plain(position.qty),
                    "availPos": plain(abs(position.qty)),
                    "avgPx": plain(position.entry_price),
                    "markPx": price,
                    "last": price,
                    "idxPx": price,
                    "upl": plain(self.account.unrealized_pnl(instrument_id)),
                    "realizedPnl": plain(position.realized_pnl),
                    "imr": plain(self.account.initial_margin(instrument_id)),
                    "mmr": plain(self.account.maintenance_margin(instrument_id)),
                    "margin": "",
                    "lever": "10",
                    "liqPx": "",
                    "ccy": i.spec.quote,
                    "posCcy": "",
                    "notionalUsd": plain(abs(position.qty) * i.multiplier * self.market.price(instrument_id)),
                    "adl": "1",
                    "fee": "0",
                    "fundingFee": "0",
                    "interest": "0",
                    "tradeId": "",
                    **dict.fromkeys(_UNUSED_POSITION_FIELDS, ""),
                    "cTime": now,
                    "uTime": now,
                }
            )
        return out

    async def _accept_setting(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply([await request.json()])

    async def _orders_pending(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply([])  # market orders never rest

    async def _orders_history(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        inst_type = request.query.get("instType")
        orders = [
            o
            for o in self.account.orders.values()
            if o.fills and inst_type in (None, _inst_type(o.instrument))
        ]  # a refused order never reaches OKX's books
        return self._reply([self._order_data(o, o.fills[-1]) for o in orders[::-1]])

    async def _no_algo_orders(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        return self._reply([])

    async def _fills(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        inst_type = request.query.get("instType")
        fills = [f for f in self.account.fills if inst_type in (None, _inst_type(f.instrument))]
        return self._reply([self._fill_data(f) for f in fills[::-1]])

    def _fill_data(self, fill: Fill) -> dict[str, Any]:
        return {
            "instType": _inst_type(fill.instrument),
            "instId": _inst_id(fill.instrument),
            "tradeId": fill.exec_id,
            "ordId": fill.order_id,
            "clOrdId": fill.client_order_id,
            "billId": fill.exec_id,
            "fillPx": plain(fill.price),
            "fillSz": plain(fill.qty),
            "side": fill.side.lower(),
            "posSide": "net",
            "execType": "T",
            "feeCcy": fill.instrument.spec.quote,
            "fee": plain(-fill.fee),
            "ts": str(ms(fill.ts)),
            "fillTime": str(ms(fill.ts)),
        }

    async def _order_http(self, request: web.Request) -> web.Response:
        """The REST order entry (Nautilus uses the WebSocket one for regular orders)."""
        if denied := self._unauthorized(request):
            return denied
        result, order = self._place(await request.json())
        if order is not None:
            await self._publish_fills(order)
        return self._reply([result], "0" if result["sCode"] == "0" else "1")

    # ----- order entry and account events -------------------------------------------------------

    def _place(self, args: dict[str, Any]) -> tuple[dict[str, Any], Order | None]:
        """Take one ``order`` argument set: a MARKET order fills at the recorded price. Returns the
        per-order result OKX replies with, and the order (None when refused)."""
        client_order_id = args.get("clOrdId", "")
        try:
            order = self._submit(args)
        except OrderRefused as e:
            self.rejections.append({"args": args, "sCode": S_CODES[e.reason], "sMsg": e.message})
            refused = {
                "clOrdId": client_order_id,
                "ordId": "",
                "tag": "",
                "sCode": S_CODES[e.reason],
                "sMsg": e.message,
            }
            return refused, None
        placed = {
            "clOrdId": client_order_id,
            "ordId": order.order_id,
            "tag": "",
            "sCode": "0",
            "sMsg": "Order placed",
        }
        return placed | {"ts": str(ms(self.market.now))}, order

    def _submit(self, args: dict[str, Any]) -> Order:
        code = args.get("instIdCode")
        instrument = self._codes.get(int(code)) if code is not None else self._by_inst_id(args.get("instId"))
        if instrument is None:
            raise OrderRefused(
                Refusal.UNKNOWN_INSTRUMENT, f"instrument {code or args.get('instId')!r} not listed"
            )
        if args.get("ordType") != "market":
            raise OrderRefused(Refusal.UNSUPPORTED, "the fake venue matches MARKET orders only")
        side = args["side"].upper()
        size = Decimal(args["sz"])
        spot_in_quote = not instrument.is_perp and args.get(
            "tgtCcy", "quote_ccy" if side == "BUY" else "base_ccy"
        )
        if spot_in_quote == "quote_ccy":  # OKX's default for a spot market buy: sz is USDT to spend
            increment = Decimal(instrument.spec.size_increment)
            size = (size / self.market.price(instrument.id)).quantize(increment, rounding=ROUND_DOWN)
        return self.account.submit_market(instrument.id, side, size, args.get("clOrdId", ""))

    async def _publish_fills(self, order: Order) -> None:
        """What OKX streams after a market order: the order live, then filled with its fill, then
        (swaps) the position and the account."""
        channel = {"channel": "orders", "instType": _inst_type(order.instrument)}
        await self._publish_private(channel, [self._order_data(order, None)])
        for fill in order.fills:
            await self._publish_private(channel, [self._order_data(order, fill)])
        if order.instrument.is_perp:
            await self._publish_private({"channel": "positions", "instType": "SWAP"}, self._positions_data())
        await self._publish_private({"channel": "account"}, [self._account_data()])

    def _order_data(self, order: Order, fill: Fill | None) -> dict[str, Any]:
        """The ``orders`` record of ``order``: live before ``fill`` (None), filled with it."""
        filled = fill is not None
        created = str(ms(order.created))
        return {
            "instType": _inst_type(order.instrument),
            "instId": _inst_id(order.instrument),
            "ordId": order.order_id,
            "clOrdId": order.client_order_id,
            "algoId": "",
            "algoClOrdId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "linkedAlgoOrd": {"algoId": ""},
            "category": "normal",
            "ccy": "",
            "tdMode": "cross" if order.instrument.is_perp else "cash",
            "side": order.side.lower(),
            "posSide": "net",
            "ordType": "market",
            "sz": plain(order.qty),
            "px": "",
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "tgtCcy": "" if order.instrument.is_perp else "base_ccy",
            "state": "filled" if filled else "live",
            "accFillSz": plain(order.filled_qty if filled else Decimal(0)),
            "avgPx": plain(order.avg_price) if filled else "",
            "fillPx": plain(fill.price) if fill else "",
            "fillSz": plain(fill.qty) if fill else "0",
            "fillTime": str(ms(fill.ts)) if fill else "",
            "tradeId": fill.exec_id if fill else "",
            "execType": "T" if fill else "",
            "fee": plain(-order.fees) if filled else "0",
            "feeCcy": order.instrument.spec.quote,
            "rebate": "0",
            "rebateCcy": order.instrument.spec.quote,
            "pnl": "0",
            "lever": "10" if order.instrument.is_perp else "",
            "reduceOnly": "false",
            "isTpLimit": "false",
            "source": "",
            "stpId": "",
            "stpMode": "cancel_maker",
            "tag": "",
            "cancelSource": "",
            "cancelSourceReason": "",
            "quickMgnType": "",
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "cTime": created,
            "uTime": str(ms(self.market.now)),
        }

    # ----- WebSockets ---------------------------------------------------------------------------

    def _market_message(self, arg: dict[str, Any]) -> dict[str, Any] | None:
        """The current data of a public or business channel (None: a private channel)."""
        instrument = self._by_inst_id(arg.get("instId"))
        channel = arg.get("channel")
        if instrument is None:
            return None
        if channel == CANDLE_CHANNEL:
            return {"arg": arg, "data": [self._candle_row(instrument, self.market.now)]}
        if channel == "mark-price" and instrument.is_perp:
            return {"arg": arg, "data": [self._mark_data(instrument)]}
        if channel == "funding-rate" and instrument.is_perp:
            return {"arg": arg, "data": [self._funding_data(instrument)]}
        return None

    async def _publish_private(self, arg: dict[str, Any], data: list[dict[str, Any]]) -> None:
        """Push ``data`` to the logged-in sockets subscribed to ``arg``'s channel (for ``orders``
        and ``positions``: of its instrument type, or of ``ANY``)."""
        for ws, channels in self._channels.items():
            if ws not in self._logged_in:
                continue
            for key in channels:
                sub = dict(key)
                if sub.get("channel") == arg["channel"] and sub.get("instType", "ANY") in (
                    "ANY",
                    arg.get("instType", "ANY"),
                ):
                    await self._channels.send(ws, {"arg": sub, "data": data})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        """One connection's request loop: ping, login, subscribe/unsubscribe, order."""
        ws = await self.server.accept(request)
        self._channels.open(ws)
        conn_id = uuid.uuid4().hex[:8]
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    await self._channels.send(ws, "pong")
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == "login":
                    await self._login(ws, payload, conn_id)
                elif op in ("subscribe", "unsubscribe"):
                    for arg in payload.get("args", []):
                        await self._subscription(ws, op, arg, conn_id)
                elif op == "order":
                    await self._ws_order(ws, payload)
        finally:
            self._channels.close(ws)
            self._logged_in.discard(ws)
            self.server.forget(request, ws)
        return ws

    async def _login(self, ws: web.WebSocketResponse, payload: dict[str, Any], conn_id: str) -> None:
        arg = (payload.get("args") or [{}])[0]
        if arg.get("apiKey") == self._api_key and arg.get("passphrase") == self._passphrase:
            self._logged_in.add(ws)
            await self._channels.send(ws, {"event": "login", "code": "0", "msg": "", "connId": conn_id})
        else:
            await self._channels.send(
                ws, {"event": "error", "code": "60009", "msg": "Login failed.", "connId": conn_id}
            )

    async def _subscription(
        self, ws: web.WebSocketResponse, op: str, arg: dict[str, Any], conn_id: str
    ) -> None:
        if arg.get("channel") in PRIVATE_CHANNELS and ws not in self._logged_in:
            await self._channels.send(
                ws, {"event": "error", "code": "60011", "msg": "Please log in", "connId": conn_id}
            )
            return
        key = _channel_key(arg)
        (self._channels.add if op == "subscribe" else self._channels.remove)(ws, [key])
        await self._channels.send(ws, {"event": op, "arg": arg, "connId": conn_id})
        if op != "subscribe":
            return
        # OKX pushes the current state on subscribing: the account, mark prices and funding rates
        if arg.get("channel") == "account":
            await self._channels.send(ws, {"arg": arg, "data": [self._account_data()]})
        elif arg.get("channel") in ("mark-price", "funding-rate"):
            message = self._market_message(arg)
            if message is not None:
                await self._channels.send(ws, message)

    async def _ws_order(self, ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": payload.get("id", ""), "op": "order"}
        if ws not in self._logged_in:
            await self._channels.send(ws, reply | {"code": "60011", "msg": "Please log in", "data": []})
            return
        result, order = self._place((payload.get("args") or [{}])[0])
        now = str(ms(pd.Timestamp.now(tz="UTC")) * 1000)
        code = "0" if order is not None else "1"
        await self._channels.send(
            ws, reply | {"code": code, "msg": "", "data": [result], "inTime": now, "outTime": now}
        )
        if order is not None:
            await self._publish_fills(order)
