"""Nautilus' Binance futures data client, answering funding-rate history requests.

Nautilus 1.231's Binance data client implements no ``request_funding_rates`` (the base class raises
``NotImplementedError`` inside the request's task, so the request is never answered). The ML
modes' predictor (``signals/predictor.py``) warms its features up on the funding prints before its
first bar and waits for that answer: on Binance it would wait for ever and never make a call.
This client reads the prints from Binance's public funding history, ``GET /fapi|dapi/v1/fundingRate``
(``symbol``, ``startTime``, ``endTime``, ``limit`` ≤ 1000, oldest first), one page after another,
and answers with one ``FundingRateUpdate`` per print stamped at its funding time, as the catalog
stores them. Everything else is the adapter's.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import msgspec
from nautilus_trader.adapters.binance import BinanceDataClientConfig
from nautilus_trader.adapters.binance.common.symbol import BinanceSymbol
from nautilus_trader.adapters.binance.futures.data import BinanceFuturesDataClient
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.core.nautilus_pyo3 import HttpMethod
from nautilus_trader.data.messages import RequestFundingRates
from nautilus_trader.model.data import FundingRateUpdate

PAGE = 1000
"""The most prints Binance returns per request."""
MS = 1_000_000


class FundingPrint(msgspec.Struct, frozen=True):
    """One row of Binance's funding history."""

    symbol: str
    fundingTime: int
    fundingRate: str


class BinanceFundingHistoryDataClient(BinanceFuturesDataClient):
    """Binance's futures data client with the funding history served from ``fundingRate``."""

    async def _request_funding_rates(self, request: RequestFundingRates) -> None:
        path = f"{self._futures_http_market.base_endpoint}fundingRate"
        symbol = BinanceSymbol(request.instrument_id.symbol.value)
        start_ms = int(request.start.timestamp() * 1000) if request.start is not None else 0
        end_ms = int(request.end.timestamp() * 1000) if request.end is not None else None
        decoder = msgspec.json.Decoder(list[FundingPrint])
        prints: list[FundingPrint] = []
        while True:
            payload = {"symbol": str(symbol), "startTime": str(start_ms), "limit": str(PAGE)}
            if end_ms is not None:
                payload["endTime"] = str(end_ms)
            page = decoder.decode(await self._http_client.send_request(HttpMethod.GET, path, payload))
            prints += page
            if len(page) < PAGE or (request.limit and len(prints) >= request.limit):
                break
            start_ms = page[-1].fundingTime + 1
        if request.limit:
            prints = prints[: request.limit]
        now = self._clock.timestamp_ns()
        updates = [
            FundingRateUpdate(
                instrument_id=request.instrument_id,
                rate=Decimal(p.fundingRate),
                ts_event=p.fundingTime * MS,
                ts_init=now,
            )
            for p in prints
        ]
        self._handle_funding_rates(
            request.instrument_id, updates, request.id, request.start, request.end, request.params
        )


def with_funding_history(
    built: BinanceFuturesDataClient,
    loop: asyncio.AbstractEventLoop,
    name: str,
    config: BinanceDataClientConfig,
    msgbus: MessageBus,
    cache: Cache,
    clock: LiveClock,
) -> BinanceFundingHistoryDataClient:
    """:class:`BinanceFundingHistoryDataClient` on the HTTP client, instrument provider and stream
    URLs of the adapter's own (never connected) futures client ``built``."""
    return BinanceFundingHistoryDataClient(
        loop=loop,
        client=built._http_client,
        msgbus=msgbus,
        cache=cache,
        clock=clock,
        instrument_provider=built._instrument_provider,
        base_url_ws=built._ws_client._base_url,
        config=config,
        account_type=config.account_type,
        name=name,
        base_url_ws_public=built._ws_public_client._base_url,
    )
