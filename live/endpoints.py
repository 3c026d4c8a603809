"""Base URL overrides for the live venue clients: the optional ``live:`` section of a venue YAML.

Absent, every client uses its adapter's own endpoints for the chosen environment. An override
replaces one endpoint whatever the environment: it is how the tests point the real Nautilus
clients at fake venues on 127.0.0.1 (and how a user would go through a relay). The section is
keyed by Nautilus venue, since Binance spot and futures are two venues with different hosts::

    live:
      BINANCE_SPOT: {http: "http://127.0.0.1:8001", ws: "ws://127.0.0.1:8001/ws"}
      BINANCE: {http: "http://127.0.0.1:8002", ws: "ws://127.0.0.1:8002/ws",
                ws_api: "ws://127.0.0.1:8002/ws-fapi/v1", ws_stream: "ws://127.0.0.1:8002/ws"}

Which endpoint each adapter lets us set is the adapter's choice (Nautilus 1.231), see
:data:`SETTABLE`; the rest is derived by the adapter from the environment.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from adapters.cex.config import load_cex_venue
from adapters.config import VENUE_CONFIG_DIR, ConfigError


class Endpoints(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One venue's endpoint overrides; every field defaults to None: the adapter's own URL."""

    http: str | None = None
    """REST base URL (all three adapters; data and execution clients)."""
    ws: str | None = None
    """Market data streams (data client); OKX derives its business stream (bars) from it; Bybit's
    are ``<ws>/spot``, ``<ws>/linear`` as on the venue (``wss://stream.bybit.com/v5/public``)."""
    ws_api: str | None = None
    """Binance: the WebSocket API the execution client trades through (required for COIN-M on
    testnet and demo, where Nautilus 1.231 knows no such endpoint)."""
    ws_stream: str | None = None
    """Binance futures: the user data stream (order and account events)."""
    ws_private: str | None = None
    """Bybit and OKX: the private stream (order and account events; OKX derives its business
    stream for the execution client from it)."""
    ws_trade: str | None = None
    """Bybit: the WebSocket trade API (not used on demo, which trades over HTTP)."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            url = getattr(self, name)
            if url is None:
                continue
            scheme = urlsplit(url).scheme
            expected = ("http", "https") if name == "http" else ("ws", "wss")
            if scheme not in expected or not urlsplit(url).netloc:
                raise ValueError(f"`{name}` must be an {' or '.join(expected)} URL, got {url!r}")

    def set_fields(self) -> set[str]:
        return {name for name in self.__struct_fields__ if getattr(self, name) is not None}


SETTABLE: dict[str, frozenset[str]] = {
    "BINANCE_SPOT": frozenset({"http", "ws", "ws_api"}),
    "BINANCE": frozenset({"http", "ws", "ws_api", "ws_stream"}),
    # Bybit's data client takes only an HTTP URL in 1.231 (and passes it to its public streams):
    # `ws` is the project's, applied by live/bybit_data.py
    "BYBIT": frozenset({"http", "ws", "ws_private", "ws_trade"}),
    "OKX": frozenset({"http", "ws", "ws_private"}),
}
"""The endpoints each Nautilus venue's adapter lets a config set."""

VENUES_OF_EXCHANGE = {"BINANCE": ("BINANCE_SPOT", "BINANCE"), "BYBIT": ("BYBIT",), "OKX": ("OKX",)}


def load_endpoints(exchange: str, config_dir: Path = VENUE_CONFIG_DIR) -> dict[str, Endpoints]:
    """The overrides of ``<config_dir>/<exchange>.yaml``'s ``live:`` section, by Nautilus venue
    (empty: the adapters' own endpoints)."""
    path = config_dir / f"{exchange.lower()}.yaml"
    section = load_cex_venue(exchange, config_dir).live or {}
    allowed = VENUES_OF_EXCHANGE[exchange]
    out = {}
    for venue, raw in section.items():
        if venue not in allowed:
            raise ConfigError(
                f"{path}: `live.{venue}`: not a venue of {exchange} (expected: {', '.join(allowed)})"
            )
        try:
            endpoints = msgspec.convert(raw, Endpoints)
        except (msgspec.ValidationError, ValueError) as e:
            raise ConfigError(f"{path}: `live.{venue}`: {e}") from None
        unsettable = endpoints.set_fields() - SETTABLE[venue]
        if unsettable:
            raise ConfigError(
                f"{path}: `live.{venue}`: Nautilus' {exchange} adapter cannot set "
                f"{', '.join(sorted(unsettable))} (settable: {', '.join(sorted(SETTABLE[venue]))})"
            )
        out[venue] = endpoints
    return out
