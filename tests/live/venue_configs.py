"""Venue config folders for live-client tests: the project's venue YAMLs, with ``live:``
endpoint overrides pointing every settable endpoint at 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from adapters.config import VENUE_CONFIG_DIR

LOCAL = {
    "BINANCE_SPOT": {
        "http": "http://127.0.0.1:9101",
        "ws": "ws://127.0.0.1:9101/ws",
        "ws_api": "ws://127.0.0.1:9101/api",
    },
    "BINANCE": {
        "http": "http://127.0.0.1:9102",
        "ws": "ws://127.0.0.1:9102/ws",
        "ws_api": "ws://127.0.0.1:9102/api",
        "ws_stream": "ws://127.0.0.1:9102/stream",
    },
    "BYBIT": {
        "http": "http://127.0.0.1:9103",
        "ws": "ws://127.0.0.1:9103/v5/public",
        "ws_private": "ws://127.0.0.1:9103/private",
        "ws_trade": "ws://127.0.0.1:9103/trade",
    },
    "OKX": {
        "http": "http://127.0.0.1:9104",
        "ws": "ws://127.0.0.1:9104/public",
        "ws_private": "ws://127.0.0.1:9104/private",
    },
}
"""Every endpoint each venue's adapter lets a config set, on loopback."""

EXCHANGE_OF = {"BINANCE_SPOT": "binance", "BINANCE": "binance", "BYBIT": "bybit", "OKX": "okx"}


def venue_config_dir(tmp_path: Path, live: dict[str, dict[str, str]]) -> Path:
    """A copy of ``configs/venues`` whose venue YAMLs carry ``live`` (keyed by Nautilus venue)."""
    out = tmp_path / "venues"
    shutil.copytree(VENUE_CONFIG_DIR, out)
    for exchange in sorted({EXCHANGE_OF[v] for v in live}):
        section = {v: urls for v, urls in live.items() if EXCHANGE_OF[v] == exchange}
        with (out / f"{exchange}.yaml").open("a") as f:
            f.write("\n" + yaml.safe_dump({"live": section}))
    return out
