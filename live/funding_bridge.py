"""Binance funding prints as ``FundingRateUpdate``, the type every other world delivers.

In a backtest (and on Bybit and OKX live) funding reaches the node as ``FundingRateUpdate`` data
processed by the data engine: it is cached (``cache.funding_rate``, which the venue simulations
read) and published on the funding-rate topic. Nautilus 1.231's Binance adapter has no funding
subscription; its mark-price stream (``BinanceFuturesMarkPriceUpdate``, every few seconds)
carries the current rate and the next funding time. This actor turns that stream into the same
data, through the same path (the data engine's ``process`` endpoint).

One update per funding print, not one per mark tick: an update is sent when an instrument's rate
or next funding time differs from the last one sent (the first mark of each instrument always
sends). The rate Binance streams is the predicted rate for the coming funding time, refreshed
through the interval; each change is a new print, as Bybit's and OKX's tickers deliver it.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.adapters.binance.futures.types import BinanceFuturesMarkPriceUpdate
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.data import CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.identifiers import ClientId, InstrumentId

DATA_ENGINE_PROCESS = "DataEngine.process"
"""Where a data client hands data to the data engine (Nautilus' endpoint name)."""


class BinanceFundingBridgeConfig(ActorConfig, frozen=True):
    """The Binance perps whose funding the bridge republishes."""

    instrument_ids: tuple[InstrumentId, ...]
    client_id: ClientId = ClientId("BINANCE")
    """The Binance futures data client (the node names clients after their venue)."""


class BinanceFundingBridge(Actor):
    """Subscribes to the Binance mark-price stream of each perp and sends a ``FundingRateUpdate``
    to the data engine whenever the rate or the next funding time changes."""

    def __init__(self, config: BinanceFundingBridgeConfig) -> None:
        super().__init__(config)
        self._instrument_ids = config.instrument_ids
        self._client_id = config.client_id
        self._last: dict[InstrumentId, tuple[Decimal, int]] = {}

    def on_start(self) -> None:
        for instrument_id in self._instrument_ids:
            self.subscribe_data(
                DataType(BinanceFuturesMarkPriceUpdate, metadata={"instrument_id": instrument_id}),
                client_id=self._client_id,
            )

    def on_data(self, data) -> None:
        mark = data.data if isinstance(data, CustomData) else data
        if not isinstance(mark, BinanceFuturesMarkPriceUpdate):
            return
        key = (mark.funding_rate, mark.next_funding_ns)
        if self._last.get(mark.instrument_id) == key:
            return
        self._last[mark.instrument_id] = key
        update = FundingRateUpdate(
            instrument_id=mark.instrument_id,
            rate=mark.funding_rate,
            ts_event=mark.ts_event,
            ts_init=mark.ts_init,
            next_funding_ns=mark.next_funding_ns,
        )
        self.msgbus.send(endpoint=DATA_ENGINE_PROCESS, msg=update)
