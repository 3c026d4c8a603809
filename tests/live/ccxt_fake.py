"""A local stand-in for the Binance, Bybit and OKX wallet and income REST routes ccxt calls.

One aiohttp server on 127.0.0.1 answers, with each venue's own response shapes (as ccxt parses
them), the calls of the live transfer service and funding poller once their ccxt clients'
``urls`` point here: internal transfers and their history, withdrawals and their history, the
deposit address and deposit history, and funding income. It keeps what it was sent, counts
every request by route (what the tests assert "exactly one withdrawal" on), completes a
withdrawal or credits a deposit only after a set number of history polls, can hold a request
without answering (before or after executing it) so a test can kill the client there, and can
execute a request and lose its answer (a 502).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

BINANCE_TRANSFER_TYPES = {"MAIN_UMFUTURE", "UMFUTURE_MAIN", "MAIN_CMFUTURE", "CMFUTURE_MAIN"}


@dataclass
class Hold:
    """Keep the next request to ``route`` unanswered; ``execute`` first or not."""

    route: str
    execute: bool
    reached: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeWallets:
    polls_to_complete: int = 2
    """History polls a withdrawal stays pending (deposits: uncredited) before it completes."""
    hits: Counter = field(default_factory=Counter)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    withdrawals: list[dict[str, Any]] = field(default_factory=list)
    deposits: list[dict[str, Any]] = field(default_factory=list)
    funding: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Exchange → its raw funding income rows (as the venue lists them)."""
    api_keys: list[str] = field(default_factory=list)
    """The key header of every signed request (the test checks the environment's key was used)."""
    hold: Hold | None = None
    lose_answer: str | None = None
    """A route whose next request is executed and then answered with a 502 (the answer is lost)."""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> str:
        return str(next(self._ids))

    def credit_deposit(self, exchange: str, coin: str, amount: float, txid: str, network: str) -> None:
        self.deposits.append(
            {
                "exchange": exchange,
                "coin": coin,
                "amount": amount,
                "txid": txid,
                "network": network,
                "ts": now_ms(),
                "polls": 0,
            }
        )

    def _age(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["polls"] += 1


MARKET_IDS = {
    # exchange: (spot id, USDT perp id, COIN-M perp id) formats
    "BINANCE": ("{b}USDT", "{b}USDT", "{b}USD_PERP"),
    "BYBIT": ("{b}USDT", "{b}USDT", "{b}USD"),
    "OKX": ("{b}-USDT", "{b}-USDT-SWAP", "{b}-USD-SWAP"),
}


def prime_markets(client, exchange: str) -> None:
    """Set BTC and ETH spot, USDT perp and COIN-M perp markets and the coins on a ccxt client, so
    ``load_markets`` (the venues' instrument lists, not what these fakes serve) never runs."""
    spot_fmt, linear_fmt, inverse_fmt = MARKET_IDS[exchange]
    flags = {
        "margin": False,
        "future": False,
        "option": False,
        "active": True,
        "precision": {},
        "limits": {},
        "info": {},
    }
    markets = []
    for base in ("BTC", "ETH"):
        spot = {
            "base": base,
            "quote": "USDT",
            "baseId": base,
            "quoteId": "USDT",
            "id": spot_fmt.format(b=base),
            "symbol": f"{base}/USDT",
            "type": "spot",
            "spot": True,
            "swap": False,
            "contract": False,
        }
        perp = {"type": "swap", "spot": False, "swap": True, "contract": True, "contractSize": 1}
        linear = {
            **spot,
            **perp,
            "id": linear_fmt.format(b=base),
            "symbol": f"{base}/USDT:USDT",
            "settle": "USDT",
            "settleId": "USDT",
            "linear": True,
            "inverse": False,
        }
        inverse = {
            **spot,
            **perp,
            "quote": "USD",
            "quoteId": "USD",
            "id": inverse_fmt.format(b=base),
            "symbol": f"{base}/USD:{base}",
            "settle": base,
            "settleId": base,
            "linear": False,
            "inverse": True,
        }
        markets += [{**flags, **market} for market in (spot, linear, inverse)]
    codes = ("USDT", "USD", "BTC", "ETH")
    client.set_markets(markets, {c: {"id": c, "code": c, "precision": 1e-8, "networks": {}} for c in codes})


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _ok(data: Any) -> web.Response:
    return web.json_response(data)


class FakeCcxtVenues:
    """The aiohttp app around :class:`FakeWallets` (``await start()``, ``base_url``, ``await stop()``)."""

    def __init__(self, wallets: FakeWallets | None = None) -> None:
        self.wallets = wallets or FakeWallets()
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()
        """Set at stop: a held request is let go (its client is gone by then)."""
        self.base_url = ""
        app = web.Application(middlewares=[self._count])
        routes = {
            # Binance (sapi: wallet; fapi/dapi: futures income)
            ("POST", "/sapi/v1/asset/transfer"): self.binance_transfer,
            ("GET", "/sapi/v1/asset/transfer"): self.binance_transfers,
            ("POST", "/sapi/v1/capital/withdraw/apply"): self.binance_withdraw,
            ("GET", "/sapi/v1/capital/withdraw/history"): self.binance_withdrawals,
            ("GET", "/sapi/v1/capital/deposit/address"): self.binance_deposit_address,
            ("GET", "/sapi/v1/capital/deposit/hisrec"): self.binance_deposits,
            ("GET", "/fapi/v1/income"): self.binance_income,
            ("GET", "/dapi/v1/income"): self.binance_income,
            # Bybit v5
            ("POST", "/v5/asset/transfer/inter-transfer"): self.bybit_transfer,
            ("GET", "/v5/asset/transfer/query-inter-transfer-list"): self.bybit_transfers,
            ("POST", "/v5/asset/withdraw/create"): self.bybit_withdraw,
            ("GET", "/v5/asset/withdraw/query-record"): self.bybit_withdrawals,
            ("GET", "/v5/execution/list"): self.bybit_executions,
            # OKX v5
            ("POST", "/api/v5/asset/transfer"): self.okx_transfer,
            ("GET", "/api/v5/asset/transfer-state"): self.okx_transfer_state,
            ("POST", "/api/v5/asset/withdrawal"): self.okx_withdraw,
            ("GET", "/api/v5/asset/withdrawal-history"): self.okx_withdrawals,
            ("GET", "/api/v5/account/bills-archive"): self.okx_bills,
        }
        for (method, path), handler in routes.items():
            app.router.add_route(method, path, handler)
        self.app = app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _count(self, request: web.Request, handler) -> web.StreamResponse:
        route = f"{request.method} {request.path}"
        self.wallets.hits[route] += 1
        for header in ("X-MBX-APIKEY", "X-BAPI-API-KEY", "OK-ACCESS-KEY"):
            if header in request.headers:
                self.wallets.api_keys.append(request.headers[header])
        if self.wallets.lose_answer == route:
            self.wallets.lose_answer = None
            await handler(request)
            return web.Response(status=502, text="Bad Gateway")
        hold = self.wallets.hold
        if hold is not None and hold.route == route:
            self.wallets.hold = None
            if hold.execute:
                await handler(request)
            hold.reached.set()
            await self._released.wait()  # no answer while the test runs: the client is killed waiting
            return web.Response(status=503, text="held")
        return await handler(request)

    @staticmethod
    async def _params(request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update({k: str(v) for k, v in (await request.json()).items()})
            else:
                params.update({k: str(v) for k, v in (await request.post()).items()})
        return params

    def _record_transfer(
        self, exchange: str, coin: str, amount: str, source: str, target: str, **ids
    ) -> dict:
        row = {
            "exchange": exchange,
            "coin": coin,
            "amount": amount,
            "from": source,
            "to": target,
            "ts": now_ms(),
            "id": self.wallets.next_id(),
            **ids,
        }
        self.wallets.transfers.append(row)
        return row

    def _record_withdrawal(
        self, exchange: str, coin: str, amount: str, address: str, network: str, **ids
    ) -> dict:
        row = {
            "exchange": exchange,
            "coin": coin,
            "amount": amount,
            "address": address,
            "network": network,
            "ts": now_ms(),
            "id": self.wallets.next_id(),
            "polls": 0,
            **ids,
        }
        self.wallets.withdrawals.append(row)
        return row

    def _rows(self, kind: str, exchange: str) -> list[dict[str, Any]]:
        rows = [r for r in getattr(self.wallets, kind) if r["exchange"] == exchange]
        if kind in ("withdrawals", "deposits"):
            self.wallets._age(rows)
        return rows

    def _complete(self, row: dict[str, Any]) -> bool:
        return row["polls"] > self.wallets.polls_to_complete

    # -- Binance -----------------------------------------------------------------------------

    async def binance_transfer(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        if p["type"] not in BINANCE_TRANSFER_TYPES:
            return web.json_response({"code": -1100, "msg": f"bad type {p['type']}"}, status=400)
        row = self._record_transfer("BINANCE", p["asset"], p["amount"], *p["type"].split("_"))
        return _ok({"tranId": int(row["id"])})

    async def binance_transfers(self, request: web.Request) -> web.Response:
        wanted = request.query["type"]
        rows = [
            {
                "timestamp": r["ts"],
                "asset": r["coin"],
                "amount": r["amount"],
                "type": f"{r['from']}_{r['to']}",
                "status": "CONFIRMED",
                "tranId": int(r["id"]),
            }
            for r in self._rows("transfers", "BINANCE")
            if f"{r['from']}_{r['to']}" == wanted
        ]
        return _ok({"total": len(rows), "rows": rows})

    async def binance_withdraw(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        row = self._record_withdrawal(
            "BINANCE",
            p["coin"],
            p["amount"],
            p["address"],
            p.get("network", ""),
            client_id=p.get("withdrawOrderId", ""),
        )
        return _ok({"id": row["id"]})

    async def binance_withdrawals(self, request: web.Request) -> web.Response:
        wanted = request.query.get("withdrawOrderId")
        return _ok(
            [
                {
                    "id": r["id"],
                    "amount": r["amount"],
                    "transactionFee": "1.5",
                    "coin": r["coin"],
                    "status": 6 if self._complete(r) else 4,
                    "address": r["address"],
                    "txId": f"0xw{r['id']}" if self._complete(r) else "",
                    "network": r["network"],
                    "applyTime": datetime.fromtimestamp(r["ts"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    "transferType": 0,
                    "withdrawOrderId": r["client_id"],
                }
                for r in self._rows("withdrawals", "BINANCE")
                if wanted is None or r["client_id"] == wanted
            ]
        )

    async def binance_deposit_address(self, request: web.Request) -> web.Response:
        coin = request.query["coin"]
        return _ok({"address": f"0xdeposit{coin.lower()}", "coin": coin, "tag": "", "url": ""})

    async def binance_deposits(self, request: web.Request) -> web.Response:
        return _ok(
            [
                {
                    "id": f"d{i}",
                    "amount": str(r["amount"]),
                    "coin": r["coin"],
                    "network": r["network"],
                    "status": 1 if self._complete(r) else 0,
                    "address": "0xdeposit",
                    "txId": r["txid"],
                    "insertTime": r["ts"],
                    "transferType": 0,
                }
                for i, r in enumerate(self._rows("deposits", "BINANCE"))
            ]
        )

    async def binance_income(self, request: web.Request) -> web.Response:
        since = int(request.query.get("startTime", 0))
        symbol = request.query.get("symbol")
        return _ok(
            [
                r
                for r in self.wallets.funding.get("BINANCE", [])
                if r["time"] >= since and (symbol is None or r["symbol"] == symbol)
            ]
        )

    # -- Bybit -------------------------------------------------------------------------------

    async def bybit_transfer(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        self._record_transfer(
            "BYBIT",
            p["coin"],
            p["amount"],
            p["fromAccountType"],
            p["toAccountType"],
            transfer_id=p["transferId"],
        )
        return _ok(
            {
                "retCode": 0,
                "retMsg": "success",
                "result": {"transferId": p["transferId"], "status": "SUCCESS"},
                "time": now_ms(),
            }
        )

    async def bybit_transfers(self, request: web.Request) -> web.Response:
        wanted = request.query.get("transferId")
        rows = [
            {
                "transferId": r["transfer_id"],
                "coin": r["coin"],
                "amount": r["amount"],
                "fromAccountType": r["from"],
                "toAccountType": r["to"],
                "timestamp": str(r["ts"]),
                "status": "SUCCESS",
            }
            for r in self._rows("transfers", "BYBIT")
            if wanted is None or r["transfer_id"] == wanted
        ]
        return _ok(
            {
                "retCode": 0,
                "retMsg": "success",
                "result": {"list": rows, "nextPageCursor": ""},
                "time": now_ms(),
            }
        )

    async def bybit_withdraw(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        row = self._record_withdrawal(
            "BYBIT",
            p["coin"],
            p["amount"],
            p["address"],
            p.get("chain", ""),
            client_id=p.get("requestId", ""),
        )
        return _ok({"retCode": 0, "retMsg": "success", "result": {"id": row["id"]}, "time": now_ms()})

    async def bybit_withdrawals(self, request: web.Request) -> web.Response:
        rows = [  # Bybit lists no client id of ours: found again by amount and address
            {
                "coin": r["coin"],
                "chain": r["network"],
                "amount": r["amount"],
                "txID": f"0xw{r['id']}",
                "status": "success" if self._complete(r) else "Pending",
                "toAddress": r["address"],
                "tag": "",
                "withdrawFee": "1",
                "createTime": str(r["ts"]),
                "updateTime": str(r["ts"]),
                "withdrawId": r["id"],
                "withdrawType": 0,
            }
            for r in self._rows("withdrawals", "BYBIT")
        ]
        return _ok(
            {
                "retCode": 0,
                "retMsg": "success",
                "result": {"rows": rows, "nextPageCursor": ""},
                "time": now_ms(),
            }
        )

    async def bybit_executions(self, request: web.Request) -> web.Response:
        since = int(request.query.get("startTime", 0))
        symbol = request.query.get("symbol")
        rows = [
            r
            for r in self.wallets.funding.get("BYBIT", [])
            if int(r["execTime"]) >= since and (symbol is None or r["symbol"] == symbol)
        ]
        return _ok(
            {
                "retCode": 0,
                "retMsg": "OK",
                "result": {"list": rows, "nextPageCursor": "", "category": "linear"},
                "time": now_ms(),
            }
        )

    # -- OKX ---------------------------------------------------------------------------------

    async def okx_transfer(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        row = self._record_transfer(
            "OKX", p["ccy"], p["amt"], p["from"], p["to"], client_id=p.get("clientId", "")
        )
        return _ok(
            {
                "code": "0",
                "msg": "",
                "data": [
                    {
                        "transId": row["id"],
                        "ccy": p["ccy"],
                        "clientId": row["client_id"],
                        "from": p["from"],
                        "amt": p["amt"],
                        "to": p["to"],
                    }
                ],
            }
        )

    async def okx_transfer_state(self, request: web.Request) -> web.Response:
        wanted = request.query.get("clientId")
        return _ok(
            {
                "code": "0",
                "msg": "",
                "data": [
                    {
                        "transId": r["id"],
                        "clientId": r["client_id"],
                        "ccy": r["coin"],
                        "amt": r["amount"],
                        "type": "0",
                        "from": r["from"],
                        "to": r["to"],
                        "state": "success",
                        "subAcct": "",
                    }
                    for r in self._rows("transfers", "OKX")
                    if r["client_id"] == wanted
                ],
            }
        )

    async def okx_withdraw(self, request: web.Request) -> web.Response:
        p = await self._params(request)
        row = self._record_withdrawal(
            "OKX", p["ccy"], p["amt"], p["toAddr"], p.get("chain", ""), client_id=p.get("clientId", "")
        )
        return _ok(
            {
                "code": "0",
                "msg": "",
                "data": [
                    {
                        "amt": p["amt"],
                        "wdId": row["id"],
                        "ccy": p["ccy"],
                        "clientId": row["client_id"],
                        "chain": row["network"],
                    }
                ],
            }
        )

    async def okx_withdrawals(self, request: web.Request) -> web.Response:
        wanted = request.query.get("clientId")
        return _ok(
            {
                "code": "0",
                "msg": "",
                "data": [
                    {
                        "ccy": r["coin"],
                        "chain": r["network"],
                        "amt": r["amount"],
                        "ts": str(r["ts"]),
                        "from": "",
                        "to": r["address"],
                        "txId": f"0xw{r['id']}",
                        "fee": "1.2",
                        "state": "2" if self._complete(r) else "1",
                        "wdId": r["id"],
                        "clientId": r["client_id"],
                    }
                    for r in self._rows("withdrawals", "OKX")
                    if wanted is None or r["client_id"] == wanted
                ],
            }
        )

    async def okx_bills(self, request: web.Request) -> web.Response:
        begin = int(request.query.get("begin", 0))
        inst = request.query.get("instId")
        rows = [
            r
            for r in self.wallets.funding.get("OKX", [])
            if int(r["ts"]) >= begin and (inst is None or r["instId"] == inst)
        ]
        return _ok({"code": "0", "msg": "", "data": rows})
