"""Nautilus' OKX data client with its bars stamped at their close, as every other source stamps them.

Nautilus 1.231's OKX client stamps a candle at its *open* (``ts`` of OKX's candle messages and
REST rows), streamed or requested: the hour closing at 06:00 arrives stamped 05:00, where the
catalog, Binance and Bybit stamp it 06:00 (seen against the fake OKX: ``tests/live/test_fake_okx.py``).
The strategies group bars by the hour they close in, so unshifted an OKX leg would join the
previous hour's decision with the next hour's prices. This client moves every bar it hands the
node one bar interval later; everything else is the adapter's.
"""

from __future__ import annotations

import asyncio

from nautilus_trader.adapters.okx import OKXDataClientConfig, OKXLiveDataClientFactory
from nautilus_trader.adapters.okx.data import OKXDataClient
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.core.data import Data
from nautilus_trader.model.data import Bar


def close_stamped(bar: Bar) -> Bar:
    """``bar`` stamped at its close (received no earlier than that)."""
    close_ns = bar.ts_event + int(bar.bar_type.spec.timedelta.total_seconds() * 1e9)
    return Bar(
        bar.bar_type,
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        close_ns,
        max(bar.ts_init, close_ns),
    )


class OKXCloseStampedDataClient(OKXDataClient):
    """OKX's data client handing the node bars stamped at their close."""

    def _handle_data(self, data: Data) -> None:
        super()._handle_data(close_stamped(data) if isinstance(data, Bar) else data)

    def _handle_bars(self, bar_type, bars, correlation_id, start, end, params) -> None:
        super()._handle_bars(bar_type, [close_stamped(b) for b in bars], correlation_id, start, end, params)


class OKXCloseStampedDataClientFactory(OKXLiveDataClientFactory):
    """Builds :class:`OKXCloseStampedDataClient` on the adapter's own HTTP client and provider."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: OKXDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> OKXCloseStampedDataClient:
        built = OKXLiveDataClientFactory.create(loop, name, config, msgbus, cache, clock)
        return OKXCloseStampedDataClient(
            loop=loop,
            client=built._http_client,
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=built._instrument_provider,
            config=config,
            name=name,
        )
