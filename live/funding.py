"""Funding prints of every perp a mode trades, as the ``FundingRateUpdate`` a backtest delivers.

In a backtest funding reaches the node as ``FundingRateUpdate`` data processed by the data
engine: it is cached (``cache.funding_rate``, which the venue simulations read) and published on
the funding-rate topic. Live, a venue's client streams it only once subscribed: Bybit's and OKX's
clients implement that subscription. Nautilus 1.231's Binance adapter does not (it raises); its
mark-price stream (``BinanceFuturesMarkPriceUpdate``, every few seconds) carries the current rate
and the next funding time, which the feed turns into the same data, through the same path (the
data engine's ``process`` endpoint): the bridge.

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


BRIDGED_VENUE = "BINANCE"
"""The venue whose funding comes from its mark-price stream (Binance futures; the node names its
data client after the venue)."""


class FundingFeedConfig(ActorConfig, frozen=True):
    """The perps whose funding the node receives."""

    instrument_ids: tuple[InstrumentId, ...]


class FundingFeed(Actor):
    """Subscribes to the funding of each perp: the venue's own funding stream, or for Binance its
    mark-price stream, sending a ``FundingRateUpdate`` to the data engine whenever the rate or the
    next funding time changes."""

    def __init__(self, config: FundingFeedConfig) -> None:
        super().__init__(config)
        self._instrument_ids = config.instrument_ids
        self._last: dict[InstrumentId, tuple[Decimal, int]] = {}

    def on_start(self) -> None:
        for instrument_id in self._instrument_ids:
            if instrument_id.venue.value == BRIDGED_VENUE:
                self.subscribe_data(
                    DataType(BinanceFuturesMarkPriceUpdate, metadata={"instrument_id": instrument_id}),
                    client_id=ClientId(BRIDGED_VENUE),
                )
            else:
                self.subscribe_funding_rates(instrument_id)

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
