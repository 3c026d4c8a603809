"""A local stand-in for the Binance, Bybit and OKX public REST endpoints the downloader uses.

It serves deterministic synthetic history following each API's own paging rules (page caps, which
end of an over-full range survives, response order, exclusive vs inclusive bounds), so the
downloader's pagination runs through real ccxt code and real HTTP against the quirks it must
survive, without touching the network. Tests compute expected values from :func:`bar` and
:func:`funding_rate`, the same functions the server answers from.

Endpoints (paths as ccxt builds them once its base URLs point here):

- Binance: ``/api/v3/klines`` (spot), ``/fapi/v1/klines`` and ``/fapi/v1/fundingRate`` (USDT-M):
  ascending; with ``startTime`` the OLDEST ``limit`` rows from there, else the newest.
- Bybit: ``/v5/market/kline`` and ``/v5/market/funding/history``: the NEWEST ``limit`` rows within
  ``[start, end]``, newest first; funding rejects ``startTime`` without ``endTime``.
- OKX: ``/api/v5/market/candles``, ``/api/v5/market/history-candles`` and
  ``/api/v5/public/funding-rate-history``: the NEWEST ``limit`` rows strictly between ``before``
  and ``after``, newest first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HOUR_MS = 3_600_000
FUNDING_MS = 8 * HOUR_MS
LISTED_MS = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp()) * 1000
"""First bar/print the fake knows; earlier ranges come back empty, like before a listing."""
LATEST_MS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * 1000
"""The fake's "now" (exclusive)."""
OKX_CONTRACT_SIZE = 0.01

_BASE_PRICE = {"BTCUSDT": 40_000.0, "ETHUSDT": 2_000.0}
_VENUE_OFFSET = {"binance": 0.0, "bybit": 0.25, "okx": 0.5}
_PERP_PREMIUM = 3.0


def bar(venue: str, market: str, symbol: str, timestamp: int) -> tuple[float, float, float, float, float]:
    """(open, high, low, close, base volume) of one hourly bar.

    Every venue, market and symbol is offset differently, so a request routed to the wrong endpoint
    shows up as wrong values; all numbers are exact binary fractions, so they survive text round trips.
    """
    hour = timestamp // HOUR_MS
    premium = _PERP_PREMIUM if market == "perp" else 0.0
    open_ = _BASE_PRICE[symbol] + _VENUE_OFFSET[venue] + premium + (hour % 50) * 1.5
    close = open_ + (0.75 if hour % 2 else -0.75)
    return open_, max(open_, close) + 5.0, min(open_, close) - 5.0, close, 10.0 + (hour % 24) * 0.125


def funding_rate(venue: str, symbol: str, timestamp: int) -> float:
    """The rate printed at ``timestamp`` (a multiple of 8 h)."""
    period = timestamp // FUNDING_MS
    symbol_offset = 0.00001 if symbol == "ETHUSDT" else 0.0
    return ((period % 7) - 2) * 0.00005 + _VENUE_OFFSET[venue] * 0.0001 + symbol_offset


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, str]

    @property
    def symbol(self) -> str:
        """Our symbol name (``BTCUSDT``) whatever the venue's id looks like."""
        raw = self.query.get("symbol") or self.query.get("instId", "")
        return raw.removesuffix("-SWAP").replace("-", "")


class Rejected(Exception):
    """Ends a request with an HTTP error status."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _times(step: int, lo: int | None, hi: int | None, limit: int, newest: bool) -> list[int]:
    """Ascending grid times in ``[lo, hi]`` that exist, cut to ``limit`` from the kept end."""
    first = max(LISTED_MS if lo is None else lo, LISTED_MS)
    last = min(LATEST_MS - 1 if hi is None else hi, LATEST_MS - 1)
    grid = range(-(-first // step) * step, last + 1, step)
    return list(grid[-limit:] if newest else grid[:limit])


def _int(query: dict[str, str], key: str) -> int | None:
    return int(query[key]) if key in query else None


def _limit(query: dict[str, str], default: int, cap: int) -> int:
    return min(int(query.get("limit", default)), cap)


def _expect(query: dict[str, str], key: str, allowed: dict[str, str]) -> str:
    """Map a request parameter to our name, rejecting what the real API would reject."""
    value = query.get(key, "")
    if value not in allowed:
        raise Rejected(400, {"error": f"bad {key} {value!r}"})
    return allowed[value]


def _prices(venue: str, market: str, symbol: str, timestamp: int) -> list[str]:
    return [repr(value) for value in bar(venue, market, symbol, timestamp)]


def _binance_klines(market: str, cap: int) -> Callable[[Request], Any]:
    def handle(request: Request) -> Any:
        query, symbol = request.query, request.symbol
        _expect(query, "interval", {"1h": "1h"})
        start = _int(query, "startTime")
        times = _times(HOUR_MS, start, _int(query, "endTime"), _limit(query, 500, cap), newest=start is None)
        return [
            [t, *_prices("binance", market, symbol, t), t + HOUR_MS - 1, "0", 100, "0", "0", "0"]
            for t in times
        ]

    return handle


def _binance_funding(request: Request) -> Any:
    query, symbol = request.query, request.symbol
    start = _int(query, "startTime")
    times = _times(FUNDING_MS, start, _int(query, "endTime"), _limit(query, 100, 1000), newest=start is None)
    return [
        {"symbol": query["symbol"], "fundingTime": t, "fundingRate": repr(funding_rate("binance", symbol, t))}
        for t in times
    ]


def _bybit(result: dict[str, Any]) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": LATEST_MS}


def _bybit_kline(request: Request) -> Any:
    query, symbol = request.query, request.symbol
    market = _expect(query, "category", {"spot": "spot", "linear": "perp"})
    _expect(query, "interval", {"60": "60"})
    times = _times(HOUR_MS, _int(query, "start"), _int(query, "end"), _limit(query, 200, 1000), newest=True)
    rows = [[str(t), *_prices("bybit", market, symbol, t), "0"] for t in reversed(times)]
    return _bybit({"category": query["category"], "symbol": query["symbol"], "list": rows})


def _bybit_funding(request: Request) -> Any:
    query, symbol = request.query, request.symbol
    _expect(query, "category", {"linear": "perp"})
    if "startTime" in query and "endTime" not in query:
        return {"retCode": 10001, "retMsg": "startTime and endTime must be passed together", "result": {}}
    limit = _limit(query, 200, 200)
    times = _times(FUNDING_MS, _int(query, "startTime"), _int(query, "endTime"), limit, newest=True)
    rows = [
        {
            "symbol": query["symbol"],
            "fundingRate": repr(funding_rate("bybit", symbol, t)),
            "fundingRateTimestamp": str(t),
        }
        for t in reversed(times)
    ]
    return _bybit({"category": "linear", "list": rows})


def _okx_bounds(query: dict[str, str]) -> tuple[int | None, int | None]:
    """OKX's ``before``/``after`` are exclusive: newer than ``before``, older than ``after``."""
    before, after = _int(query, "before"), _int(query, "after")
    return (None if before is None else before + 1), (None if after is None else after - 1)


def _okx_candles(cap: int) -> Callable[[Request], Any]:
    def handle(request: Request) -> Any:
        query, symbol = request.query, request.symbol
        market = "perp" if query["instId"].endswith("-SWAP") else "spot"
        _expect(query, "bar", {"1H": "1H"})
        times = _times(HOUR_MS, *_okx_bounds(query), _limit(query, 100, cap), newest=True)
        return {"code": "0", "msg": "", "data": [_okx_candle(market, symbol, t) for t in reversed(times)]}

    return handle


def _okx_candle(market: str, symbol: str, timestamp: int) -> list[str]:
    """Spot rows carry base volume at index 5; swap rows carry contracts there and base volume at 6."""
    open_, high, low, close, volume = bar("okx", market, symbol, timestamp)
    quote_volume = volume * close
    volumes = (volume, quote_volume) if market == "spot" else (volume / OKX_CONTRACT_SIZE, volume)
    return [str(timestamp), *map(repr, (open_, high, low, close, *volumes, quote_volume)), "1"]


def _okx_funding(request: Request) -> Any:
    query, symbol = request.query, request.symbol
    times = _times(FUNDING_MS, *_okx_bounds(query), _limit(query, 100, 100), newest=True)
    rows = [
        {
            "instType": "SWAP",
            "instId": query["instId"],
            "fundingRate": repr(funding_rate("okx", symbol, t)),
            "realizedRate": repr(funding_rate("okx", symbol, t)),
            "fundingTime": str(t),
            "method": "current_period",
        }
        for t in reversed(times)
    ]
    return {"code": "0", "msg": "", "data": rows}


ROUTES: dict[str, tuple[str, Callable[[Request], Any]]] = {
    "/api/v3/klines": ("binance", _binance_klines("spot", 1000)),
    "/fapi/v1/klines": ("binance", _binance_klines("perp", 1500)),
    "/fapi/v1/fundingRate": ("binance", _binance_funding),
    "/v5/market/kline": ("bybit", _bybit_kline),
    "/v5/market/funding/history": ("bybit", _bybit_funding),
    "/api/v5/market/candles": ("okx", _okx_candles(300)),
    "/api/v5/market/history-candles": ("okx", _okx_candles(100)),
    "/api/v5/public/funding-rate-history": ("okx", _okx_funding),
}
"""Path -> (venue, handler)."""
END_BOUNDS = ("endTime", "end", "after")

UNKNOWN_SYMBOL: dict[str, tuple[int, Any]] = {
    "binance": (400, {"code": -1121, "msg": "Invalid symbol."}),
    "bybit": (200, {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}}),
    "okx": (200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}),
}
"""Each venue's own answer for a symbol it does not list (ccxt turns these into BadSymbol/BadRequest)."""


class FakeExchangeServer:
    """The HTTP server, its request log, and switches to make it fail."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._failures: dict[str, _Failure] = {}
        self._delisted: set[str] = set()
        self.ignore_end_bounds = False
        """Drop ``endTime``/``end``/``after`` from requests, like an API that only honours a start."""
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def __enter__(self) -> FakeExchangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def fail(self, symbol: str, *, after: int = 0, times: int | None = None) -> None:
        """Answer HTTP 500 to requests for ``symbol`` once ``after`` of them have succeeded:
        the next ``times`` ones, or all of them if ``times`` is None."""
        self._failures[symbol] = _Failure(after, times)

    def delist(self, symbol: str) -> None:
        """Answer requests for ``symbol`` the way each venue answers an unknown symbol."""
        self._delisted.add(symbol)

    def reset(self) -> None:
        self.requests.clear()
        self._failures.clear()
        self._delisted.clear()
        self.ignore_end_bounds = False

    def requests_for(self, symbol: str) -> list[Request]:
        return [request for request in self.requests if request.symbol == symbol]

    def answer(self, request: Request) -> tuple[int, Any]:
        self.requests.append(request)
        failure = self._failures.get(request.symbol)
        if failure and failure.fires():
            return 500, "Simulated failure"
        if request.path not in ROUTES:
            return 404, {"error": f"no route {request.path}"}
        venue, handle = ROUTES[request.path]
        if self.ignore_end_bounds:
            request = Request(request.path, {k: v for k, v in request.query.items() if k not in END_BOUNDS})
        if request.symbol in self._delisted or request.symbol not in _BASE_PRICE:
            return UNKNOWN_SYMBOL[venue]
        try:
            return 200, handle(request)
        except Rejected as rejection:
            return rejection.status, rejection.body


@dataclass
class _Failure:
    after: int
    times: int | None

    def fires(self) -> bool:
        """Count one request; True if it should fail."""
        if self.after:
            self.after -= 1
            return False
        if self.times is None:
            return True
        self.times -= 1
        return self.times >= 0


class _HTTPServer(HTTPServer):
    def __init__(self, fake: FakeExchangeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)  # port 0: the OS picks a free one
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        status, body = self.server.fake.answer(Request(url.path, dict(parse_qsl(url.query))))
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; the server's request log is ``FakeExchangeServer.requests``."""
