"""ccxt clients for the live services, keyed from the environment only.

The keys are read from the same variables the Nautilus adapters read (:data:`live.environments.CREDENTIALS`)
straight into the ccxt client, never into a config, a log line or an error message: a missing
key is reported by its variable's name. Binance's wallet endpoints (transfers, withdrawals,
deposits) belong to its spot API and use the spot venue's keys; its futures income (funding)
uses the futures venue's.
"""

from __future__ import annotations

import os
import re

import ccxt.async_support as ccxt_async

from live.environments import LiveEnv, missing_variables, required_variables

CCXT_IDS = {"BINANCE": "binance", "BYBIT": "bybit", "OKX": "okx"}
_CCXT_KEY_FIELDS = ("apiKey", "secret", "password")
"""ccxt's names for the key, the secret and OKX's passphrase, in the order CREDENTIALS lists them."""


class MissingCredentials(RuntimeError):
    """The environment lacks keys a live service needs (the message names the variables)."""


def wallet_venue(exchange: str) -> str:
    """The Nautilus venue whose keys move money on ``exchange`` (Binance: its spot account)."""
    return "BINANCE_SPOT" if exchange == "BINANCE" else exchange


def build_exchange(
    exchange: str, env: LiveEnv, *, keys_of: str | None = None, base_url: str | None = None
) -> ccxt_async.Exchange:
    """An async ccxt client for ``exchange`` in ``env``, keyed with ``keys_of``'s variables
    (default: the wallet venue's), its REST hosts replaced by ``base_url`` when given."""
    if env is LiveEnv.SANDBOX:
        raise ValueError(
            "sandbox runs transfers and funding on the project's venue simulations: no ccxt service"
        )
    venue = keys_of or wallet_venue(exchange)
    missing = missing_variables([venue], env)
    if missing:
        raise MissingCredentials(
            f"{exchange} transfers in {env.value} need the environment variables {', '.join(missing)}"
        )
    keys = dict(
        zip(_CCXT_KEY_FIELDS, (os.environ[name] for name in required_variables(venue, env)), strict=False)
    )
    client = getattr(ccxt_async, CCXT_IDS[exchange])({**keys, "enableRateLimit": True})
    if exchange == "BYBIT":
        # the account mode is the config's (unified): ccxt would otherwise ask the venue first
        client.options["enableUnifiedAccount"] = True
        client.options["enableUnifiedMargin"] = False
    if env is LiveEnv.DEMO and exchange != "OKX":
        client.enable_demo_trading(True)
    elif env is not LiveEnv.MAINNET:
        client.set_sandbox_mode(True)  # OKX demo: the same host with its simulated-trading header
    if base_url is not None:
        client.urls["api"] = _rehost(client.urls["api"], base_url.rstrip("/"))
    return client


def _rehost(urls, base_url: str):
    """``urls`` (ccxt's nested mapping of REST URLs) with every scheme and host replaced."""
    if isinstance(urls, dict):
        return {key: _rehost(value, base_url) for key, value in urls.items()}
    return re.sub(r"^https?://[^/]+", base_url, urls) if isinstance(urls, str) else urls
