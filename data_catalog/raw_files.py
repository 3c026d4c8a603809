"""Shapes and names of the raw history files (the layout of ``../shared/data``).

The loaders read these files and the downloader writes them, so both sides share this one
description. Timestamps are UTC; hourly OHLCV rows are stamped at the bar OPEN.
"""

from __future__ import annotations

from pathlib import Path

BAR_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
"""Columns every 1h OHLCV file must have (others are kept but ignored)."""

FUNDING_COLUMNS = ("funding_timestamp", "funding_rate")
"""Columns every funding file must have; ``funding_rate`` is the fraction longs pay shorts."""

MARKETS = ("spot", "perp", "inverse")


def bar_glob(venue: str, symbol: str, market: str) -> str:
    """Glob (relative to the data dir) matching a venue's 1h OHLCV files for one market.

    Matches both the shipped names (``binance_BTCUSDT_1h_…``, ``bybit_BTCUSDT_spot_1h_…``,
    ``okx_ETHUSDT_perp_1h_…``) and the downloader's (``{venue}_{symbol}_{market}_1h_…``).
    """
    if market == "spot":
        return f"cex/spot/{venue.lower()}_{symbol}_*1h_*.csv"
    if market in ("perp", "inverse"):
        return f"cex/{market}/{venue.lower()}_{symbol}_{market}_1h_*.csv"
    raise ValueError(f"unknown market {market!r}; expected one of {MARKETS}")


def funding_glob(venue: str, symbol: str) -> str:
    """Glob (relative to the data dir) matching a venue's funding-rate files for one perp."""
    return f"cex/funding/{venue.lower()}_{symbol}_funding_rates_*.csv"


def bar_file(venue: str, symbol: str, market: str, start: str, end: str) -> Path:
    """Relative path the downloader writes 1h OHLCV to (dates as YYYY-MM-DD)."""
    return Path("cex") / market / f"{venue.lower()}_{symbol}_{market}_1h_{start}_{end}.csv"


def funding_file(venue: str, symbol: str, start: str, end: str) -> Path:
    """Relative path the downloader writes funding prints to (dates as YYYY-MM-DD)."""
    return Path("cex") / "funding" / f"{venue.lower()}_{symbol}_funding_rates_{start}_{end}.csv"


def dex_pool_glob(pair: str) -> str:
    """Glob matching a Uniswap v3 pool's 1h OHLCV files (``timestamp`` in unix seconds)."""
    return f"dex/uniswapv3_{pair}_1h_*.csv"


GAS_PRICE_GLOB = "gas/ethereum_gas_prices_*.csv"
"""Hourly gas-price samples (``timestamp`` is the sampling time, not a bar open)."""

GAS_COLUMNS = ("timestamp", "gas_price_gwei")


def lst_market_glob(asset: str) -> str:
    """Hourly LST peg files: ``protocol_rate`` and the DEX ``market_rate`` (ETH per LST)."""
    return f"staking/market/{asset}_peg_analysis_*.csv"


def lst_oracle_glob(asset: str) -> str:
    """Hourly LST/ETH exchange-rate oracle (``#`` comment header, ``oracle_price_eth``)."""
    return f"aave/oracle/{asset}_ETH_oracle_*.csv"


def aave_rates_glob(asset: str) -> str:
    """Daily Aave v3 reserve snapshots (indices, APRs, totals)."""
    return f"aave/rates/aave_v3_aave-v3-ethereum_{asset}_rates_*.csv"


AAVE_PARAMS_FILE = "aave/params/aave_current_v3_prams_etherum_mainnet.csv"
AAVE_RISK_FILE = "aave/params/aave_v3_risk_parameters.json"
