"""The project's live environments, each adapter's own notion of them, and the keys each needs.

``run_live.py --env`` names one environment for every venue; each Nautilus adapter has its own
enum (Binance LIVE/TESTNET/DEMO, Bybit MAINNET/TESTNET/DEMO, OKX LIVE/DEMO). Keys are never
passed to the clients: the adapters read them from their environment variables, which
:data:`CREDENTIALS` lists as the adapters' code does (Nautilus 1.231: Binance
``adapters/binance/common/credentials.py``; Bybit and OKX read them in Rust, as their config
docstrings say), so the node's configuration holds no secret that a log line could print.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Any

from nautilus_trader.adapters.binance.common.enums import BinanceEnvironment
from nautilus_trader.core.nautilus_pyo3 import BybitEnvironment, OKXEnvironment


class LiveEnv(Enum):
    """Where the live clients connect."""

    SANDBOX = "sandbox"
    """Mainnet public market data, orders to the project's simulated venues: no keys."""
    TESTNET = "testnet"
    DEMO = "demo"
    MAINNET = "mainnet"
    """Real money: ``run_live.py`` asks for ``--confirm-mainnet``."""

    @property
    def trades_on_venues(self) -> bool:
        """Whether orders go to the venues' own execution clients (and so keys are needed)."""
        return self is not LiveEnv.SANDBOX


ADAPTER_ENVS: dict[str, dict[LiveEnv, str]] = {
    # exchange -> environment -> the member of the adapter's environment enum
    "BINANCE": {
        LiveEnv.SANDBOX: "LIVE",
        LiveEnv.TESTNET: "TESTNET",
        LiveEnv.DEMO: "DEMO",
        LiveEnv.MAINNET: "LIVE",
    },
    "BYBIT": {
        LiveEnv.SANDBOX: "MAINNET",
        LiveEnv.TESTNET: "TESTNET",
        LiveEnv.DEMO: "DEMO",
        LiveEnv.MAINNET: "MAINNET",
    },
    # OKX has no testnet: its demo trading is its test venue
    "OKX": {LiveEnv.SANDBOX: "LIVE", LiveEnv.TESTNET: "DEMO", LiveEnv.DEMO: "DEMO", LiveEnv.MAINNET: "LIVE"},
}
_ENUMS: dict[str, Any] = {"BINANCE": BinanceEnvironment, "BYBIT": BybitEnvironment, "OKX": OKXEnvironment}


def adapter_environment(exchange: str, env: LiveEnv) -> tuple[str, Any]:
    """``(name, member)`` of the adapter's environment enum that ``env`` means on ``exchange``."""
    name = ADAPTER_ENVS[exchange][env]
    return name, getattr(_ENUMS[exchange], name)


def _key_pair(prefix: str) -> tuple[str, ...]:
    return (f"{prefix}_API_KEY", f"{prefix}_API_SECRET")


CREDENTIALS: dict[str, dict[LiveEnv, tuple[str, ...]]] = {
    # Nautilus venue -> environment -> the variables its execution client reads
    "BINANCE_SPOT": {
        LiveEnv.TESTNET: _key_pair("BINANCE_TESTNET"),
        LiveEnv.DEMO: _key_pair("BINANCE_DEMO"),
        LiveEnv.MAINNET: _key_pair("BINANCE"),
    },
    "BINANCE": {  # USDT-M and COIN-M futures
        LiveEnv.TESTNET: _key_pair("BINANCE_FUTURES_TESTNET"),
        LiveEnv.DEMO: _key_pair("BINANCE_DEMO"),
        LiveEnv.MAINNET: _key_pair("BINANCE"),
    },
    "BYBIT": {
        LiveEnv.TESTNET: _key_pair("BYBIT_TESTNET"),
        LiveEnv.DEMO: _key_pair("BYBIT_DEMO"),
        LiveEnv.MAINNET: _key_pair("BYBIT"),
    },
    "OKX": {  # one key set for live and demo: OKX marks demo requests with a header; Nautilus
        # 1.231's OKX data client signs in too, so a sandbox reading OKX needs them (read-only keys do)
        env: ("OKX_API_KEY", "OKX_API_SECRET", "OKX_API_PASSPHRASE")
        for env in LiveEnv
    },
}
"""The environment variables each venue's clients read their keys from, per environment (sandbox
trades on the project's simulations: no keys, but for OKX's market data)."""


def required_variables(venue: str, env: LiveEnv) -> tuple[str, ...]:
    """The variables ``venue``'s clients need in ``env`` (none for sandbox)."""
    return CREDENTIALS[venue].get(env, ())


def missing_variables(venues: list[str], env: LiveEnv) -> list[str]:
    """The variables the venues need in ``env`` that are unset or empty, venue by venue
    (only their names: a value is never read into anything that could print it)."""
    needed = dict.fromkeys(name for venue in venues for name in required_variables(venue, env))
    return [name for name in needed if not os.environ.get(name)]
