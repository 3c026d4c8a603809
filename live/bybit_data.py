"""Nautilus' Bybit data client with its public streams where the venue config says.

Nautilus 1.231's ``BybitDataClient`` builds one public WebSocket client per product type and gives
it ``config.base_url_http`` as URL (``bybit/data.py``): with an HTTP override (a relay, a local
fake) the market data streams would connect to the REST host, and there is no setting for them.
This factory builds the adapter's own client, then replaces those stream clients with ones on the
environment's public streams, or on ``<base_url_ws>/<product type>`` (the venue's layout:
``wss://stream.bybit.com/v5/public/linear``) when the venue YAML sets ``live.BYBIT.ws``.
Everything else is the adapter's.
"""

from __future__ import annotations

import asyncio

from nautilus_trader.adapters.bybit import BybitDataClientConfig, BybitLiveDataClientFactory
from nautilus_trader.adapters.bybit.config import _resolve_environment
from nautilus_trader.adapters.bybit.data import BybitDataClient
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.core import nautilus_pyo3


class BybitStreamsDataClientConfig(BybitDataClientConfig, frozen=True):
    """``BybitDataClientConfig`` with the base URL of the public streams."""

    base_url_ws: str | None = None
    """``<base_url_ws>/spot``, ``<base_url_ws>/linear``...; None: the environment's public streams."""


def public_stream_url(
    product_type: nautilus_pyo3.BybitProductType, config: BybitStreamsDataClientConfig
) -> str:
    """Where the public stream of ``product_type`` connects."""
    if config.base_url_ws is not None:
        return f"{config.base_url_ws.rstrip('/')}/{product_type.name.lower()}"
    return nautilus_pyo3.get_bybit_ws_url_public(product_type, _resolve_environment(config.environment))


class BybitStreamsDataClientFactory(BybitLiveDataClientFactory):
    """Builds Nautilus' Bybit data client with its public streams at :func:`public_stream_url`."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: BybitStreamsDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> BybitDataClient:
        client = BybitLiveDataClientFactory.create(loop, name, config, msgbus, cache, clock)
        streams = {}
        for product_type in client._ws_clients:  # built on the HTTP URL, never connected yet
            stream = nautilus_pyo3.BybitWebSocketClient.new_public(
                product_type=product_type,
                environment=_resolve_environment(config.environment),
                url=public_stream_url(product_type, config),
                proxy_url=config.proxy_url,
            )
            stream.set_bars_timestamp_on_close(config.bars_timestamp_on_close)
            streams[product_type] = stream
        client._ws_clients = streams
        return client
