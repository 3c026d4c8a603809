"""End-to-end catalog builds from synthetic raw data dirs, broken files, and the real data set.

The synthetic dirs use the real file names and column layouts of ``../shared/data`` (see
:mod:`data_catalog.raw_files`) for a small universe: 4 days of hourly bars from 2024-03-01 for
Binance/Bybit BTC spot and perp, Bybit ETH spot, the Uniswap WETH/USDT, EIGEN/WETH and ETHFI/WETH
pools and the gas price, BTC funding on all three venues, the weETH/wstETH exchange-rate oracles and
peg (DEX market rate) files, daily Aave reserve snapshots of USDT, WETH and weETH, the EtherFi
reward files and the Aave risk parameters. Every other series the venue configs declare (among them
the wstETH Aave reserve) is absent, so it is either proxied or left empty. Prices and rates come
from closed-form formulas below, so each test computes the values it expects without reading them
back from the code under test.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.defi.data import AaveReserveSnapshot, GasPrice, RewardDistribution
from adapters.hours import HOUR_NS as H
from data_catalog import builder, paths
from data_catalog.builder import BuildResult, build_catalog
from data_catalog.manifest import CatalogManifest, WindowOutsideDataError
from data_catalog.paths import DataNotFoundError, resolve_data_dir
from data_catalog.series import BuildError

PROJECT = Path(__file__).resolve().parents[2]
D = 24 * H
S = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()) * 10**9
"""Raw open of the first synthetic bar (2024-03-01T00:00:00Z) in ns."""
HOURS = 96
PRINTS = HOURS // 8
DAYS = HOURS // 24
FILE_DATES = "2024-03-01_2024-03-05"

BASE_PRICE = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
VENUE_OFFSET = {"binance": 0.0, "bybit": 2.5, "okx": 5.0, "uniswapv3": 1.5}
MARKET_OFFSET = {"spot": 0.0, "perp": 20.0}
BASE_RATE = {"binance": 0.0001, "bybit": 0.00012, "okx": 0.00011}

TOKEN_POOLS = {"EIGENWETH": "EIGENETH-UNIV3.ETHEREUM", "ETHFIWETH": "ETHFIETH-UNIV3.ETHEREUM"}
"""Uniswap token/WETH pool files and the wallet-venue pool they price (ETH per token)."""
TOKEN_POOL_CLOSE0 = {"EIGENWETH": 15_000, "ETHFIWETH": 18_000}
"""Close of the pool's first bar in 1e-7 ETH."""
LSTS = {
    "weETH": ("WEETH-ETHERFI.ETHEREUM", "WEETHETH-CURVE.ETHEREUM"),
    "wstETH": ("WSTETH-LIDO.ETHEREUM", "WSTETHETH-UNIV3.ETHEREUM"),
}
"""LST asset → (mint instrument priced by the oracle file, DEX pool priced by the peg file)."""
LST_RATE0 = {"weETH": 10_400_000_000, "wstETH": 11_700_000_000}
"""ETH per LST at hour 0, in 1e-10 ETH (the rate instruments' price step)."""
AAVE_LEVEL = {"USDT": 1, "WETH": 2, "weETH": 3}
"""Aave reserves with a rates file (wstETH is left out on purpose), and their level in the formulas."""
AAVE_TOKENS = {"USDT": "AUSDT", "WETH": "AWETH", "weETH": "AWEETH", "wstETH": "AWSTETH"}

BINANCE_SPOT_HOLE = range(30, 35)
"""Raw opens (hour index) missing from the Binance BTC spot file: filled from Bybit spot."""
BINANCE_PERP_BAD = {50: ("close", "nan"), 51: ("open", "-1"), 52: ("low", "0"), 53: ("high", "n/a")}
"""Binance BTC perp rows with a NaN / negative / zero / text price: dropped, filled from Bybit."""
BYBIT_SPOT_DUPLICATES = (10, 20)
POOL_HOLE = (5, 6)
GAS_HOLE = range(70, 73)
NEGATIVE_FUNDING_PRINT = 3
OKX_CONFLICTS = {2: (0.0001, 0.00014), 5: (0.00019, 0.0001), 9: (0.0001, 0.00031)}
"""OKX BTC funding prints given twice with different rates (file order), like the real OKX file."""
OKX_KEPT = {2: 0.00014, 5: 0.00019, 9: 0.0001}
"""Closest to the Binance/Bybit median 0.00011 + 1e-5·k: 0.00013 (k=2), 0.00016 (k=5), 0.0002 (k=9)."""
ETH_CONFLICT_HOUR = 12
ETH_CONFLICT_CLOSE = 3123.75
"""Bybit ETH spot hour 12 appears twice, the second time with this close (1.25 above the first, still
inside high/low). No other venue has ETH spot history here, so there is no reference: the last row
must win."""
ORACLE_HOLE = range(40, 43)
"""Hours missing from the weETH oracle file: a rate series has no proxy, so they stay missing."""
PEG_BAD = {7: "nan", 8: "0"}
"""weETH peg rows whose market rate is NaN / zero: dropped, and the hours stay missing."""
AAVE_DUPLICATE_DAY = 2
"""The WETH reserve snapshot of this day is written twice (identical rows)."""


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def space_iso(ns: int) -> str:
    """The ``2024-05-12 01:00:00+00:00`` stamps of the oracle and peg files."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def close_hour(i: int) -> int:
    """``ts_event`` (bar close) of the raw bar opened at hour ``i``."""
    return S + (i + 1) * H


# --- synthetic raw files ----------------------------------------------------------------------


def bar_values(venue: str, symbol: str, market: str, i: int) -> tuple[float, float, float, float, float]:
    """(open, high, low, close, volume) of hour ``i``; a distinct price level per venue and market."""
    close = BASE_PRICE[symbol] + VENUE_OFFSET[venue] + MARKET_OFFSET[market] + 10.0 * i
    return close - 4.5, close + 7.5, close - 7.5, close, 10.0 + 0.5 * i


def expected_bar(venue: str, symbol: str, market: str, i: int) -> tuple[Decimal, ...]:
    """:func:`bar_values` as exact decimals, to compare with ``Bar`` prices (``as_double`` rounds)."""
    return tuple(Decimal(repr(x)) for x in bar_values(venue, symbol, market, i))


def token_pool_values(pair: str, i: int) -> tuple[float, float, float, float, float]:
    """(open, high, low, close, volume) of hour ``i`` of a token/WETH pool, prices in 1e-7 ETH steps."""
    close = TOKEN_POOL_CLOSE0[pair] + 3 * i
    return (close - 1) / 1e7, (close + 4) / 1e7, (close - 4) / 1e7, close / 1e7, 250.0 + 0.25 * i


def oracle_rate(asset: str, i: int) -> float:
    """Protocol (oracle) ETH per LST sampled at hour ``i``: 10 decimals, rising 4.321e-7 an hour."""
    return (LST_RATE0[asset] + 4_321 * i) / 1e10


def market_rate(asset: str, i: int) -> float:
    """DEX market ETH per LST at hour ``i``: a little under the protocol rate, wobbling."""
    return (LST_RATE0[asset] - 6_000 + 4_321 * i - 250 * (i % 4)) / 1e10


def aave_values(reserve: str, d: int) -> dict[str, float]:
    """The value columns of reserve ``reserve``'s snapshot on day ``d`` (targetDate ``S + d·24h``)."""
    k = AAVE_LEVEL[reserve]
    return {
        "liquidityIndex": (1_100_000_000 + 10_000_000 * k + 31_337 * d) / 1e9,
        "currentLiquidityRate": (1_000 * k + 17 * d) / 1e5,
        "variableBorrowIndex": (1_150_000_000 + 10_000_000 * k + 45_678 * d) / 1e9,
        "currentVariableBorrowRate": (1_500 * k + 23 * d) / 1e5,
        "totalAToken": 500_000.25 * k + 1_234.5 * d,
        "totalVariableDebt": 380_000.75 * k - 987.25 * d,
    }


def funding_rate(venue: str, k: int) -> float:
    """Rate of funding print ``k`` (at ``S + 8h·k``)."""
    return round(BASE_RATE[venue] + 0.00001 * k, 8)


def gas_values(i: int) -> tuple[float, float, float]:
    """(gas_price_gwei, base_fee_gwei, priority_fee_p50_gwei) sampled at hour ``i``."""
    return 10.0 + 0.25 * i, 9.5 + 0.25 * i, 0.5


EIGEN_ROWS = [
    # staking_period_start, staking_period_end, eigen_earned, eth_restaked, eth_not_restaked, eigen_per_eeth_weekly
    ("2024-02-18", "2024-02-24", 351_234, 1_520_000, 480_500, 0.176),
    ("2024-02-25", "2024-03-02", 362_801, 1_534_250, 471_750, 0.181),
]
"""Weekly EIGEN distributions; the published column agrees with earned / all eETH (to 3 dp)."""
TOPUP_ROWS = [
    # top_up_date, staking_period_start, staking_period_end, ethfi_amount, ethfi_per_eeth_distributed
    ("2024-03-04", "2024-02-18", "2024-02-24", 42_017, 0.021),
]
SEASON_COLUMNS = [
    "start_date",
    "end_date",
    "payout_date",
    "event",
    "reward_token",
    "reward_per_eeth",
    "extra_yield_pct",
    "source_url",
    "notes",
]
SEASON_ROWS = [
    (
        "2024-01-15",
        "2024-02-14",
        "2024-03-02",
        "Season 0 (Pre-launch)",
        "ETHFI",
        "0.75",
        "0.02%",
        "https://example.invalid/season-0",
        "synthetic, exact amount",
    ),
]
BROKEN_EIGEN_ROW = ("2023-12-28", "2024-02-17", 2_100_000, 1_400_000, 520_000, 1.5)
"""A first EIGEN row spanning 52 days whose published figure is per RESTAKED eETH (like the real file)."""
BROKEN_SEASON_ROWS = [
    # repeats the top-up of TOPUP_ROWS: skipped, noted
    (
        "2024-02-18",
        "2024-02-24",
        "2024-03-04",
        "ETHFI Top-up (Feb)",
        "ETHFI",
        "0.021",
        "",
        "https://example.invalid/topup",
        "same as the top-up file",
    ),
    # a published range: the midpoint, flagged estimated
    (
        "2023-11-01",
        "2023-12-31",
        "2024-03-01",
        "Season 1 (Launch Airdrop)",
        "ETHFI",
        "~5–15",
        "~0.2–0.6%",
        "https://example.invalid/season-1",
        "estimate, range",
    ),
    # no day to pay it on: skipped, noted
    (
        "2024-03-01",
        "2024-05-31",
        "Jun 2024",
        "Season 2",
        "ETHFI",
        "~1–3",
        "",
        "https://example.invalid/season-2",
        "payout month only",
    ),
]

PARAM_RESERVES = ("WETH", "wstETH", "WBTC", "USDT", "weETH")
"""Reserve columns of the synthetic parameters CSV (WBTC is not configured and must be ignored)."""
PARAM_ROWS: dict[str, tuple[str, ...]] = {
    "Frozen": ("FALSE",) * 5,
    "Paused": ("FALSE",) * 5,
    "Collateral Enabled": ("TRUE",) * 5,
    "LTV": ("81%", "77%", "70%", "74%", "76.50%"),
    "Liquidation Threshold": ("84.25%", "80.50%", "75%", "77%", "79%"),
    "Liquidation Bonus": ("4.75%", "6.25%", "6%", "4.25%", "7.50%"),
    "Reserve Factor": ("12%", "25%", "20%", "11%", "40%"),
    "Borrowing Enabled": ("TRUE", "TRUE", "TRUE", "TRUE", "FALSE"),
    "Optimal Utilization": ("90%", "80%", "80%", "90%", "35%"),
    "Variable Borrow Rate": ("2.10%", "0.30%", "0.50%", "9.80%", "1.10%"),
    "Isolated": ("FALSE",) * 5,
    "Debt Ceiling": ("N/A",) * 5,
    "Supply Cap": ("0.0041B", "0.0011B", "0.0000B", "7.2500B", "0.0017B"),
    "Borrow Cap": ("0.0037B", "0.0002B", "N/A", "6.9000B", "0.0000B"),
    "Borrowable in Isolation": ("FALSE", "FALSE", "FALSE", "TRUE", "FALSE"),
    "Flashloan Enabled": ("TRUE", "TRUE", "TRUE", "TRUE", "FALSE"),
}
"""The transposed Aave reserve-parameters CSV: one row per parameter, one column per reserve."""
EMODE = {"ltv_limits": 0.92, "liquidation_thresholds": 0.94, "liquidation_bonus": 0.015}
RISK_PARAMETERS = {
    "emode": {
        key: dict.fromkeys(("weETH_WETH", "wstETH_WETH", "ETH_WETH"), value) for key, value in EMODE.items()
    },
    # the real JSON's "standard" block is wrong; the reserve CSV must win over it
    "standard": {
        key: dict.fromkeys(("weETH_WETH", "wstETH_WETH", "ETH_WETH"), value)
        for key, value in {
            "ltv_limits": 0.7,
            "liquidation_thresholds": 0.75,
            "liquidation_bonus": 0.08,
        }.items()
    },
    "reserve_factors": {"weETH": 0.1, "wstETH": 0.1, "WETH": 0.1, "USDT": 0.1},
}


@dataclass(frozen=True)
class RawFile:
    """One raw file: what it holds and where the real data set keeps such a file."""

    kind: str  # spot perp funding dex gas | peg oracle aave | eigen topups seasons | params risk
    venue: str = ""
    symbol: str = ""
    """CEX symbol, DEX pair (``WETHUSDT``), LST asset (``weETH``) or Aave reserve (``WETH``)."""

    @property
    def relpath(self) -> str:
        if self.kind == "spot":  # Binance ships without the market in the name, Bybit with it
            market = "" if self.venue == "binance" else "spot_"
            return f"cex/spot/{self.venue}_{self.symbol}_{market}1h_{FILE_DATES}.csv"
        if self.kind == "perp":
            return f"cex/perp/{self.venue}_{self.symbol}_perp_1h_{FILE_DATES}.csv"
        if self.kind == "funding":
            return f"cex/funding/{self.venue}_{self.symbol}_funding_rates_{FILE_DATES}.csv"
        if self.kind == "dex":
            return f"dex/uniswapv3_{self.symbol}_1h_{FILE_DATES}.csv"
        if self.kind == "peg":
            return f"staking/market/{self.symbol}_peg_analysis_{FILE_DATES}.csv"
        if self.kind == "oracle":
            return f"aave/oracle/{self.symbol}_ETH_oracle_{FILE_DATES}.csv"
        if self.kind == "aave":
            return f"aave/rates/aave_v3_aave-v3-ethereum_{self.symbol}_rates_{FILE_DATES}.csv"
        if self.kind == "eigen":
            return "staking/rewards/eigen_distributions_raw.csv"
        if self.kind == "topups":
            return "staking/rewards/ethfi_topups_raw.csv"
        if self.kind == "seasons":
            return "staking/rewards/seasonal_drops.csv"
        if self.kind == "params":
            return "aave/params/aave_current_v3_prams_etherum_mainnet.csv"
        if self.kind == "risk":
            return "aave/params/aave_v3_risk_parameters.json"
        return f"gas/ethereum_gas_prices_{FILE_DATES}.csv"

    def frame(self) -> pd.DataFrame:
        """The file's clean contents, in the column layout of the real files."""
        if self.kind in ("spot", "perp"):
            market = self.kind
            rows = [bar_values(self.venue, self.symbol, market, i) for i in range(HOURS)]
            frame = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
            frame.insert(0, "timestamp", [iso(S + i * H) for i in range(HOURS)])
            frame["source"] = self.venue
            frame["symbol"] = self.symbol
            return frame
        if self.kind == "dex":
            return self._pool_frame()
        if self.kind == "funding":
            return pd.DataFrame(
                {
                    "funding_timestamp": [iso(S + 8 * k * H) for k in range(PRINTS)],
                    "funding_rate": [funding_rate(self.venue, k) for k in range(PRINTS)],
                    "symbol": self.symbol,
                    "source": self.venue,
                }
            )
        if self.kind == "peg":
            return self._peg_frame()
        if self.kind == "oracle":
            return pd.DataFrame(
                {
                    "timestamp": [space_iso(S + i * H) for i in range(HOURS)],
                    "oracle_price_eth": [oracle_rate(self.symbol, i) for i in range(HOURS)],
                    "asset": self.symbol,
                    "source": "aave_oracle_derived",
                    "quote_currency": "ETH",
                }
            )
        if self.kind == "aave":
            return self._aave_frame()
        if self.kind == "eigen":
            return pd.DataFrame(
                EIGEN_ROWS,
                columns=[
                    "staking_period_start",
                    "staking_period_end",
                    "eigen_earned",
                    "eth_restaked",
                    "eth_not_restaked",
                    "eigen_per_eeth_weekly",
                ],
            )
        if self.kind == "topups":
            return pd.DataFrame(
                TOPUP_ROWS,
                columns=[
                    "top_up_date",
                    "staking_period_start",
                    "staking_period_end",
                    "ethfi_amount",
                    "ethfi_per_eeth_distributed",
                ],
            )
        if self.kind == "seasons":
            return pd.DataFrame(SEASON_ROWS, columns=SEASON_COLUMNS)
        if self.kind == "params":
            return pd.DataFrame(
                [(label, *values) for label, values in PARAM_ROWS.items()], columns=["", *PARAM_RESERVES]
            )
        if self.kind == "risk":
            raise ValueError("the risk parameters file is JSON, written by RawFile.write")
        rows = [gas_values(i) for i in range(HOURS)]
        frame = pd.DataFrame(rows, columns=["gas_price_gwei", "base_fee_gwei", "priority_fee_p50_gwei"])
        frame.insert(0, "timestamp", [iso(S + i * H) for i in range(HOURS)])
        frame["chain"] = "ethereum"
        return frame

    def _pool_frame(self) -> pd.DataFrame:
        if self.symbol == "WETHUSDT":
            rows = [bar_values("uniswapv3", "ETHUSDT", "spot", i) for i in range(HOURS)]
            base, quote, address = "WETH", "USDT", "0x" + "11" * 20
        else:
            rows = [token_pool_values(self.symbol, i) for i in range(HOURS)]
            base, quote = self.symbol.removesuffix("WETH"), "WETH"
            address = "0x" + ("22" if base == "EIGEN" else "33") * 20
        frame = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
        frame.insert(0, "timestamp", [(S + i * H) // 10**9 for i in range(HOURS)])  # unix seconds
        frame.insert(1, "date_utc", [iso(S + i * H)[:-1] + "+00:00Z" for i in range(HOURS)])
        frame["pool_address"] = address
        frame["dex"] = "Uniswap v3"
        frame["fee_tier"] = "0.3%"
        frame["base_token"] = base
        frame["quote_token"] = quote
        frame["source"] = "geckoterminal_pro"
        return frame

    def _peg_frame(self) -> pd.DataFrame:
        stamps = [S + i * H for i in range(HOURS)]
        protocol = [oracle_rate(self.symbol, i) for i in range(HOURS)]
        market = [market_rate(self.symbol, i) for i in range(HOURS)]
        day = [space_iso(t)[:10] for t in stamps]
        dex = "curve" if self.symbol == "weETH" else "uniswap"
        return pd.DataFrame(
            {
                "timestamp": [space_iso(t) for t in stamps],
                "protocol_rate": protocol,
                "asset": self.symbol,
                "source": "aave_oracle_derived",
                "quote_currency": "ETH",
                "date_oracle": day,
                "date_market": day,
                "market_rate": market,
                "dex": dex,
                "market_rate_median_24h": market,
                "peg_premium_percent": [
                    round((m / p - 1) * 100, 6) for m, p in zip(market, protocol, strict=True)
                ],
                "base_asset": "ETH",
                "processed_date": "2024-03-06T00:00:00",
                "direct_gas_cost_usd": 20.0,
                "dex_gas_cost_usd": 20.0,
                "dex_execution_cost_bps": 20.0,
                "dex_execution_cost_usd": 20.0,
                "total_direct_cost_usd": 20.0,
                "total_dex_cost_usd": 40.0,
                "cost_difference_usd": 20.0,
                "optimal_route_by_cost": "direct_staking",
                "net_dex_benefit_usd": -15.0,
                "optimal_route_with_costs": "direct_staking",
                "peg_status": "at_peg",
            }
        )

    def _aave_frame(self) -> pd.DataFrame:
        rows = []
        for d in range(DAYS):
            t = S + d * D
            values = aave_values(self.symbol, d)
            rows.append(
                {
                    "targetDate": iso(t),
                    "timestamp": t // 10**9,
                    "blockNumber": 19_340_000 + 7_150 * d,
                    "reserve": "0x" + f"{AAVE_LEVEL[self.symbol]:02d}" * 20,
                    "symbol": self.symbol,
                    "liquidityIndex": values["liquidityIndex"],
                    "currentLiquidityRate": values["currentLiquidityRate"],
                    "variableBorrowIndex": values["variableBorrowIndex"],
                    "currentVariableBorrowRate": values["currentVariableBorrowRate"],
                    "currentStableBorrowRate": 0.07,
                    "totalAToken": values["totalAToken"],
                    "totalStableDebt": 0.0,
                    "totalVariableDebt": values["totalVariableDebt"],
                    "price": 3_000.0 + d,
                    "date": iso(t)[:10],
                }
            )
        return pd.DataFrame(rows)

    def write(self, data_dir: Path, edit: Edit | None = None) -> Path:
        """Write the file (through ``edit``) under ``data_dir`` in the real file's format."""
        path = data_dir / self.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.kind == "risk":
            path.write_text(json.dumps(RISK_PARAMETERS, indent=1))
            return path
        frame = (edit or (lambda f: f))(self.frame())
        text = frame.to_csv(index=False)
        if self.kind == "oracle":  # a '#' comment header precedes the CSV, like the real oracle files
            text = oracle_header(self.symbol, len(frame)) + text
        # the real parameters CSV starts with a byte-order mark
        path.write_text(text, encoding="utf-8-sig" if self.kind == "params" else "utf-8")
        return path


def oracle_header(asset: str, records: int) -> str:
    return (
        "# Source: aave_oracle_derived\n"
        f"# Asset_pair: {asset}_ETH\n"
        "# Quote_currency: ETH\n"
        "# Methodology: asset_usd / eth_usd\n"
        "# Processed: 2024-03-06T00:00:00.000000\n"
        f"# Records: {records}\n"
    )


BINANCE_BTC_SPOT = RawFile("spot", "binance", "BTCUSDT")
BINANCE_BTC_PERP = RawFile("perp", "binance", "BTCUSDT")
BINANCE_BTC_FUNDING = RawFile("funding", "binance", "BTCUSDT")
BYBIT_BTC_SPOT = RawFile("spot", "bybit", "BTCUSDT")
BYBIT_BTC_PERP = RawFile("perp", "bybit", "BTCUSDT")
BYBIT_BTC_FUNDING = RawFile("funding", "bybit", "BTCUSDT")
BYBIT_ETH_SPOT = RawFile("spot", "bybit", "ETHUSDT")
OKX_BTC_FUNDING = RawFile("funding", "okx", "BTCUSDT")
POOL = RawFile("dex", symbol="WETHUSDT")
EIGEN_POOL = RawFile("dex", symbol="EIGENWETH")
ETHFI_POOL = RawFile("dex", symbol="ETHFIWETH")
GAS = RawFile("gas")
WEETH_ORACLE = RawFile("oracle", symbol="weETH")
WSTETH_ORACLE = RawFile("oracle", symbol="wstETH")
WEETH_PEG = RawFile("peg", symbol="weETH")
WSTETH_PEG = RawFile("peg", symbol="wstETH")
AAVE_USDT = RawFile("aave", symbol="USDT")
AAVE_WETH = RawFile("aave", symbol="WETH")
AAVE_WEETH = RawFile("aave", symbol="weETH")
EIGEN_REWARDS = RawFile("eigen")
ETHFI_TOPUPS = RawFile("topups")
SEASONAL_DROPS = RawFile("seasons")
AAVE_PARAMS = RawFile("params")
AAVE_RISK = RawFile("risk")
UNIVERSE = (
    BINANCE_BTC_SPOT,
    BINANCE_BTC_PERP,
    BINANCE_BTC_FUNDING,
    BYBIT_BTC_SPOT,
    BYBIT_BTC_PERP,
    BYBIT_BTC_FUNDING,
    BYBIT_ETH_SPOT,
    OKX_BTC_FUNDING,
    POOL,
    EIGEN_POOL,
    ETHFI_POOL,
    GAS,
    WEETH_ORACLE,
    WSTETH_ORACLE,
    WEETH_PEG,
    WSTETH_PEG,
    AAVE_USDT,
    AAVE_WETH,
    AAVE_WEETH,
    EIGEN_REWARDS,
    ETHFI_TOPUPS,
    SEASONAL_DROPS,
    AAVE_PARAMS,
    AAVE_RISK,
)

Edit = Callable[[pd.DataFrame], pd.DataFrame]
"""Turns a clean raw file into a defective one (for the DEFECTS scenario)."""


def write_raw(data_dir: Path, edits: dict[RawFile, Edit] | None = None) -> Path:
    """Write the synthetic universe under ``data_dir``, each file passed through its edit (if any)."""
    edits = edits or {}
    for raw in UNIVERSE:
        raw.write(data_dir, edits.get(raw))
    return data_dir


def _drop_hours(hours: range | tuple[int, ...]) -> Edit:
    return lambda f: f.drop(index=list(hours)).reset_index(drop=True)


def _bad_perp_prices(f: pd.DataFrame) -> pd.DataFrame:
    f = f.astype({c: object for c in ("open", "high", "low", "close")})
    for i, (column, text) in BINANCE_PERP_BAD.items():
        f.loc[i, column] = text
    return f


def _duplicate_rows(f: pd.DataFrame) -> pd.DataFrame:
    order = []
    for i in range(len(f)):
        order += [i, i] if i in BYBIT_SPOT_DUPLICATES else [i]
    return f.iloc[order].reset_index(drop=True)


def _shuffle_rows(f: pd.DataFrame) -> pd.DataFrame:
    order = [*range(40), 41, 40, *range(42, 60), *range(61, HOURS), 60]
    return f.iloc[order].reset_index(drop=True)


def _garbage_timestamp_row(f: pd.DataFrame) -> pd.DataFrame:
    row = pd.DataFrame([{"funding_timestamp": "not-a-time", "funding_rate": 0.5}])
    return pd.concat([f.iloc[:4], row, f.iloc[4:]], ignore_index=True)


def _negative_funding(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[NEGATIVE_FUNDING_PRINT, "funding_rate"] = -0.00005
    return f


def _okx_conflicts(f: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for k in range(PRINTS):
        rates = OKX_CONFLICTS.get(k, (f.loc[k, "funding_rate"],))
        parts += [f.iloc[[k]].assign(funding_rate=rate) for rate in rates]
    return pd.concat(parts, ignore_index=True)


def _eth_conflict(f: pd.DataFrame) -> pd.DataFrame:
    second = f.iloc[[ETH_CONFLICT_HOUR]].assign(close=ETH_CONFLICT_CLOSE)
    return pd.concat([f.iloc[: ETH_CONFLICT_HOUR + 1], second, f.iloc[ETH_CONFLICT_HOUR + 1 :]])


def _bad_market_rates(f: pd.DataFrame) -> pd.DataFrame:
    f = f.astype({"market_rate": object})
    for i, text in PEG_BAD.items():
        f.loc[i, "market_rate"] = text
    return f


def _duplicate_day(f: pd.DataFrame) -> pd.DataFrame:
    return f.iloc[
        [*range(AAVE_DUPLICATE_DAY + 1), AAVE_DUPLICATE_DAY, *range(AAVE_DUPLICATE_DAY + 1, len(f))]
    ]


def _eigen_first_row_52_days(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([pd.DataFrame([BROKEN_EIGEN_ROW], columns=f.columns), f], ignore_index=True)


def _season_interpretations(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([f, pd.DataFrame(BROKEN_SEASON_ROWS, columns=f.columns)], ignore_index=True)


DEFECTS: dict[RawFile, Edit] = {
    BINANCE_BTC_SPOT: _drop_hours(BINANCE_SPOT_HOLE),
    BINANCE_BTC_PERP: _bad_perp_prices,
    BINANCE_BTC_FUNDING: _negative_funding,
    BYBIT_BTC_SPOT: _duplicate_rows,
    BYBIT_BTC_PERP: _shuffle_rows,
    BYBIT_BTC_FUNDING: _garbage_timestamp_row,
    BYBIT_ETH_SPOT: _eth_conflict,
    OKX_BTC_FUNDING: _okx_conflicts,
    POOL: _drop_hours(POOL_HOLE),
    GAS: _drop_hours(GAS_HOLE),
    WEETH_ORACLE: _drop_hours(ORACLE_HOLE),
    WEETH_PEG: _bad_market_rates,
    AAVE_WETH: _duplicate_day,
    EIGEN_REWARDS: _eigen_first_row_52_days,
    SEASONAL_DROPS: _season_interpretations,
}


# --- catalog access ---------------------------------------------------------------------------


def bars(catalog_dir: Path, instrument_id: str) -> list[Bar]:
    return ParquetDataCatalog(str(catalog_dir)).bars(bar_types=[f"{instrument_id}-1-HOUR-LAST-EXTERNAL"])


def funding(catalog_dir: Path, instrument_id: str) -> list[FundingRateUpdate]:
    """One identifier per query: multi-identifier FundingRateUpdate queries are buggy in 1.231."""
    return ParquetDataCatalog(str(catalog_dir)).query(FundingRateUpdate, identifiers=[instrument_id])


def rates(catalog_dir: Path, instrument_id: str) -> dict[int, Decimal]:
    """Funding rate per settlement stamp (read back, Nautilus 1.231 hands ``rate`` over as a str)."""
    return {u.ts_event: Decimal(str(u.rate)) for u in funding(catalog_dir, instrument_id)}


def gas(catalog_dir: Path) -> list[GasPrice]:
    return [c.data for c in ParquetDataCatalog(str(catalog_dir)).query(GasPrice)]


def closes(catalog_dir: Path, instrument_id: str) -> dict[int, Decimal]:
    return {b.ts_event: b.close.as_decimal() for b in bars(catalog_dir, instrument_id)}


def ohlcv(bar: Bar) -> tuple[Decimal, ...]:
    return tuple(x.as_decimal() for x in (bar.open, bar.high, bar.low, bar.close, bar.volume))


def manifest(catalog_dir: Path) -> dict:
    return json.loads((catalog_dir / "manifest.json").read_text())


def defects_of(catalog_dir: Path, key: str) -> dict[str, dict]:
    return {d["kind"]: d for d in manifest(catalog_dir)["series"][key]["defects"]}


@dataclass(frozen=True)
class Built:
    data_dir: Path
    catalog_dir: Path
    result: BuildResult


def _build(root: Path, edits: dict[RawFile, Edit] | None) -> Built:
    data_dir = write_raw(root / "data", edits)
    catalog_dir = root / "catalog"
    return Built(data_dir, catalog_dir, build_catalog(data_dir, catalog_dir))


# --- clean build ------------------------------------------------------------------------------

EXPECTED_INSTRUMENTS = {
    "BTCUSDT.BINANCE_SPOT",
    "ETHUSDT.BINANCE_SPOT",
    "BTCUSDT-PERP.BINANCE",
    "ETHUSDT-PERP.BINANCE",
    "BTCUSDT-SPOT.BYBIT",
    "ETHUSDT-SPOT.BYBIT",
    "BTCUSDT-LINEAR.BYBIT",
    "ETHUSDT-LINEAR.BYBIT",
    "BTC-USDT.OKX",
    "ETH-USDT.OKX",
    "BTC-USDT-SWAP.OKX",
    "ETH-USDT-SWAP.OKX",
    "BTCUSD-PERP.BINANCE",
    "ETHUSDT-UNIV3.ETHEREUM",
    "EIGENETH-UNIV3.ETHEREUM",
    "ETHFIETH-UNIV3.ETHEREUM",
    "WEETHETH-CURVE.ETHEREUM",
    "WSTETHETH-UNIV3.ETHEREUM",
    "WEETH-ETHERFI.ETHEREUM",
    "WEETH-ETHERFIQ.ETHEREUM",
    "WSTETH-LIDO.ETHEREUM",
    "WSTETH-LIDOQ.ETHEREUM",
    "AUSDT-AAVE.ETHEREUM",
    "VDUSDT-AAVE.ETHEREUM",
    "AWETH-AAVE.ETHEREUM",
    "VDWETH-AAVE.ETHEREUM",
    "AWEETH-AAVE.ETHEREUM",
    "AWSTETH-AAVE.ETHEREUM",
}
"""13 CEX instruments (12 USDT ones and Binance's coin-margined BTCUSD-PERP), and the wallet venue's 15: 5 pools, mint + withdrawal queue of 2 LSTs, and the
aToken (plus debt token where borrowable) of 4 Aave reserves."""

EXPECTED_SERIES = {
    *(i for i in EXPECTED_INSTRUMENTS if not i.endswith(("Q.ETHEREUM", "-AAVE.ETHEREUM"))),
    *(
        f"{i}/funding"
        for i in EXPECTED_INSTRUMENTS
        if i.endswith(("-PERP.BINANCE", "_PERP.BINANCE", "-LINEAR.BYBIT", "-SWAP.OKX"))
    ),
    *(f"{token}-AAVE.ETHEREUM/reserve" for token in AAVE_TOKENS.values()),
    "GAS",
}
"""The 32 catalog series: bars of 13 CEX instruments and 3 Uniswap pools, 7 funding series, flat rate
bars of 2 peg pools and 2 LST mints, 4 Aave reserves, gas."""
NON_SERIES = {"REWARDS", "AAVE_PARAMS", "BENCHMARK_SUSDE"}
"""Manifest records of inputs that are not series on a grid: reward payouts, Aave parameters, sUSDe."""


def test_clean_build_writes_instruments(clean: Built) -> None:
    """Every instrument of the venue configs lands in the catalog, even those without history."""
    ids = {str(i.id) for i in ParquetDataCatalog(str(clean.catalog_dir)).instruments()}

    assert ids == EXPECTED_INSTRUMENTS
    assert clean.result.rebuilt
    assert len(EXPECTED_SERIES) == 32
    assert clean.result.series == 32  # 13 CEX bar series + 7 funding + 5 pools + 2 LST rates + 4 Aave + gas
    assert set(manifest(clean.catalog_dir)["series"]) == EXPECTED_SERIES | NON_SERIES


@pytest.mark.parametrize(
    ("instrument_id", "venue", "symbol", "market"),
    [
        ("BTCUSDT.BINANCE_SPOT", "binance", "BTCUSDT", "spot"),
        ("BTCUSDT-PERP.BINANCE", "binance", "BTCUSDT", "perp"),
        ("BTCUSDT-SPOT.BYBIT", "bybit", "BTCUSDT", "spot"),
        ("BTCUSDT-LINEAR.BYBIT", "bybit", "BTCUSDT", "perp"),
        ("ETHUSDT-SPOT.BYBIT", "bybit", "ETHUSDT", "spot"),
        ("ETHUSDT-UNIV3.ETHEREUM", "uniswapv3", "ETHUSDT", "spot"),
    ],
)
def test_clean_bars_stamped_at_close_with_raw_prices(
    clean: Built, instrument_id: str, venue: str, symbol: str, market: str
) -> None:
    """Each raw hourly row becomes one bar at its CLOSE (open + 1 h) carrying the row's OHLCV."""
    got = bars(clean.catalog_dir, instrument_id)

    assert [b.ts_event for b in got] == [close_hour(i) for i in range(HOURS)]
    assert all(b.ts_init == b.ts_event for b in got)
    assert [ohlcv(b) for b in got] == [expected_bar(venue, symbol, market, i) for i in range(HOURS)]


def test_clean_raw_row_maps_to_exact_bar(clean: Built) -> None:
    """The row written to the Binance spot CSV at 17:00 is, as text, the bar closing at 18:00."""
    raw = pd.read_csv(clean.data_dir / BINANCE_BTC_SPOT.relpath, dtype=str)
    row = raw[raw["timestamp"] == "2024-03-01T17:00:00Z"].iloc[0]
    bar = next(b for b in bars(clean.catalog_dir, "BTCUSDT.BINANCE_SPOT") if b.ts_event == S + 18 * H)

    assert bar.open.as_decimal() == Decimal(row["open"])
    assert bar.high.as_decimal() == Decimal(row["high"])
    assert bar.low.as_decimal() == Decimal(row["low"])
    assert bar.close.as_decimal() == Decimal(row["close"])
    assert bar.volume.as_decimal() == Decimal(row["volume"])
    assert str(bar.bar_type) == "BTCUSDT.BINANCE_SPOT-1-HOUR-LAST-EXTERNAL"


@pytest.mark.parametrize(
    ("instrument_id", "venue"),
    [("BTCUSDT-PERP.BINANCE", "binance"), ("BTCUSDT-LINEAR.BYBIT", "bybit"), ("BTC-USDT-SWAP.OKX", "okx")],
)
def test_clean_funding_prints(clean: Built, instrument_id: str, venue: str) -> None:
    """Funding prints keep their settlement stamp (no shift) and their exact rate."""
    got = funding(clean.catalog_dir, instrument_id)

    assert rates(clean.catalog_dir, instrument_id) == {
        S + 8 * k * H: Decimal(repr(funding_rate(venue, k))) for k in range(PRINTS)
    }
    assert [u.ts_event for u in got] == [S + 8 * k * H for k in range(PRINTS)]
    assert {str(u.instrument_id) for u in got} == {instrument_id}
    assert {u.interval for u in got} == {480}


def test_clean_gas_prices(clean: Built) -> None:
    """Gas samples keep their sampling stamp and all three gwei values."""
    got = gas(clean.catalog_dir)

    assert [g.ts_event for g in got] == [S + i * H for i in range(HOURS)]
    assert [(g.gwei, g.base_fee_gwei, g.priority_fee_gwei) for g in got] == [
        gas_values(i) for i in range(HOURS)
    ]


def test_clean_build_reports_only_missing_series(clean: Built) -> None:
    """Without defects in the files, the only records are the series that have no own file, the
    oracle series' interpolation caveat and where the Aave parameters come from."""
    kinds = {
        key: [d["kind"] for d in s["defects"]] for key, s in manifest(clean.catalog_dir)["series"].items()
    }
    no_own_file = {
        "ETHUSDT.BINANCE_SPOT",
        "ETHUSDT-PERP.BINANCE",
        "ETHUSDT-PERP.BINANCE/funding",
        "ETHUSDT-LINEAR.BYBIT",
        "ETHUSDT-LINEAR.BYBIT/funding",
        "BTC-USDT.OKX",
        "ETH-USDT.OKX",
        "BTC-USDT-SWAP.OKX",
        "ETH-USDT-SWAP.OKX",
        "ETH-USDT-SWAP.OKX/funding",
        "BTCUSD-PERP.BINANCE",  # coin-margined: no history anywhere, all from the linear perp
        "BTCUSD-PERP.BINANCE/funding",
    }

    interpolated = {"WEETH-ETHERFI.ETHEREUM", "WSTETH-LIDO.ETHEREUM"}  # the oracle files' caveat
    no_own_file.add("AWSTETH-AAVE.ETHEREUM/reserve")  # its rates file is left out of the universe
    always_noted = {"AAVE_PARAMS", "BENCHMARK_SUSDE"}  # parameter source; no benchmark file here

    assert {k for k, v in kinds.items() if v} == no_own_file | interpolated | always_noted
    assert all(kinds[k] == ["no_data"] for k in no_own_file)
    assert all(kinds[k] == ["caveat"] for k in interpolated)
    assert kinds["AAVE_PARAMS"] == ["decision"]  # which file each parameter comes from, always stated
    assert kinds["REWARDS"] == []  # the clean reward files need no interpretation
    assert kinds["BENCHMARK_SUSDE"] == ["no_data"]  # the synthetic universe has no benchmark file
    for key in interpolated:
        caveat = defects_of(clean.catalog_dir, key)["caveat"]
        assert "interpolated from daily oracle readings" in caveat["decision"]
        assert (caveat["count"], caveat["timestamps"]) == (0, [])
    assert (
        clean.result.proxied_hours == 96 * 5
    )  # ETH spot Binance + OKX spot BTC/ETH + OKX BTC perp + BTCUSD-PERP


# --- defects ----------------------------------------------------------------------------------


def test_binance_spot_hole_filled_from_bybit(broken: Built) -> None:
    """The 5 hours missing from Binance spot carry Bybit's prices, recorded as proxied rows."""
    got = closes(broken.catalog_dir, "BTCUSDT.BINANCE_SPOT")
    cov = manifest(broken.catalog_dir)["series"]["BTCUSDT.BINANCE_SPOT"]

    assert sorted(got) == [close_hour(i) for i in range(HOURS)]
    for i in range(HOURS):
        venue = "bybit" if i in BINANCE_SPOT_HOLE else "binance"
        assert got[close_hour(i)] == expected_bar(venue, "BTCUSDT", "spot", i)[3], i
    assert cov["proxied"] == {
        "BTCUSDT-SPOT.BYBIT": {"count": 5, "ranges": [[iso(close_hour(30)), iso(close_hour(34))]]}
    }
    assert (cov["rows"], cov["own_rows"], cov["unfilled"]) == (96, 91, [])
    hole = defects_of(broken.catalog_dir, "BTCUSDT.BINANCE_SPOT")["hole"]
    assert hole["count"] == 5
    assert hole["decision"] == "5 filled from proxies ['BTCUSDT-SPOT.BYBIT'], 0 left unfilled"
    assert (hole["first"], hole["last"]) == (iso(close_hour(30)), iso(close_hour(34)))


def test_series_without_own_file_fully_proxied(broken: Built) -> None:
    """OKX BTC spot has no file: Binance spot fills it, Bybit (second proxy) fills Binance's hole."""
    got = closes(broken.catalog_dir, "BTC-USDT.OKX")
    cov = manifest(broken.catalog_dir)["series"]["BTC-USDT.OKX"]

    for i in range(HOURS):
        venue = "bybit" if i in BINANCE_SPOT_HOLE else "binance"
        assert got[close_hour(i)] == expected_bar(venue, "BTCUSDT", "spot", i)[3], i
    assert cov["files"] == []
    assert (cov["rows"], cov["own_rows"]) == (96, 0)
    assert cov["proxied"] == {
        "BTCUSDT.BINANCE_SPOT": {
            "count": 91,
            "ranges": [[iso(close_hour(0)), iso(close_hour(29))], [iso(close_hour(35)), iso(close_hour(95))]],
        },
        "BTCUSDT-SPOT.BYBIT": {"count": 5, "ranges": [[iso(close_hour(30)), iso(close_hour(34))]]},
    }
    no_data = defects_of(broken.catalog_dir, "BTC-USDT.OKX")["no_data"]
    assert "no own history" in no_data["decision"]
    assert "BTCUSDT.BINANCE_SPOT" in no_data["decision"]


def test_series_without_any_data_left_empty_and_reported(broken: Built) -> None:
    """No file and no proxy with data: no bars are invented, and the manifest says so."""
    cov = manifest(broken.catalog_dir)["series"]["ETHUSDT-PERP.BINANCE"]

    assert bars(broken.catalog_dir, "ETHUSDT-PERP.BINANCE") == []
    assert (cov["rows"], cov["first"], cov["last"], cov["proxied"]) == (0, None, None, {})
    decision = defects_of(broken.catalog_dir, "ETHUSDT-PERP.BINANCE")["no_data"]["decision"]
    assert decision == "no own data and no proxy data: series left empty"


def test_okx_conflicting_funding_resolved_against_median(broken: Built) -> None:
    """Each doubled OKX print keeps the rate nearest the Binance/Bybit median, wherever it sits."""
    got = rates(broken.catalog_dir, "BTC-USDT-SWAP.OKX")

    assert sorted(got) == [S + 8 * k * H for k in range(PRINTS)]
    for k in range(PRINTS):
        expected = OKX_KEPT.get(k, funding_rate("okx", k))
        assert got[S + 8 * k * H] == Decimal(repr(expected)), k
    d = defects_of(broken.catalog_dir, "BTC-USDT-SWAP.OKX/funding")["conflicting_duplicate"]
    assert d["count"] == 3
    assert d["timestamps"] == [S + 8 * k * H for k in sorted(OKX_CONFLICTS)]
    assert "(3 timestamps)" in d["decision"]


def test_bar_conflict_without_reference_keeps_last_row(broken: Built) -> None:
    """Bybit ETH spot has no other ETH spot venue to compare with: the later row of the pair wins."""
    got = closes(broken.catalog_dir, "ETHUSDT-SPOT.BYBIT")

    assert len(got) == HOURS
    assert got[close_hour(ETH_CONFLICT_HOUR)] == Decimal(repr(ETH_CONFLICT_CLOSE))
    d = defects_of(broken.catalog_dir, "ETHUSDT-SPOT.BYBIT")["conflicting_duplicate"]
    assert d["count"] == 1
    assert "last row (1)" in d["decision"]


def test_bar_conflict_reported_at_raw_file_stamp(broken: Built) -> None:
    """Like every other bar defect, a bar conflict names the stamp written in the raw file."""
    d = defects_of(broken.catalog_dir, "ETHUSDT-SPOT.BYBIT")["conflicting_duplicate"]

    assert d["timestamps"] == [S + ETH_CONFLICT_HOUR * H]
    assert d["first"] == "2024-03-01T12:00:00Z"


def test_identical_duplicates_collapsed(broken: Built) -> None:
    """Bybit's doubled rows become one bar each, and the raw stamps of the copies are reported."""
    got = closes(broken.catalog_dir, "BTCUSDT-SPOT.BYBIT")

    assert got == {close_hour(i): expected_bar("bybit", "BTCUSDT", "spot", i)[3] for i in range(HOURS)}
    d = defects_of(broken.catalog_dir, "BTCUSDT-SPOT.BYBIT")["duplicate"]
    assert (d["count"], d["decision"]) == (2, "identical rows: kept one")
    assert d["timestamps"] == [S + i * H for i in BYBIT_SPOT_DUPLICATES]


def test_bad_prices_dropped_then_proxied(broken: Built) -> None:
    """NaN, negative, zero and text prices are dropped and those hours filled from Bybit's perp."""
    got = bars(broken.catalog_dir, "BTCUSDT-PERP.BINANCE")
    cov = manifest(broken.catalog_dir)["series"]["BTCUSDT-PERP.BINANCE"]

    assert [b.ts_event for b in got] == [close_hour(i) for i in range(HOURS)]
    for i, bar in enumerate(got):
        venue = "bybit" if i in BINANCE_PERP_BAD else "binance"
        assert ohlcv(bar) == expected_bar(venue, "BTCUSDT", "perp", i), i
    found = defects_of(broken.catalog_dir, "BTCUSDT-PERP.BINANCE")
    assert found["bad_value"]["count"] == 4
    assert found["bad_value"]["timestamps"] == [S + i * H for i in sorted(BINANCE_PERP_BAD)]
    assert found["hole"]["count"] == 4
    assert cov["proxied"] == {
        "BTCUSDT-LINEAR.BYBIT": {"count": 4, "ranges": [[iso(close_hour(50)), iso(close_hour(53))]]}
    }


def test_out_of_order_rows_sorted(broken: Built) -> None:
    """Bybit perp rows written out of order end up in time order with their own prices."""
    got = bars(broken.catalog_dir, "BTCUSDT-LINEAR.BYBIT")

    assert [b.ts_event for b in got] == [close_hour(i) for i in range(HOURS)]
    assert [ohlcv(b) for b in got] == [expected_bar("bybit", "BTCUSDT", "perp", i) for i in range(HOURS)]
    d = defects_of(broken.catalog_dir, "BTCUSDT-LINEAR.BYBIT")["out_of_order"]
    # file order ... 41, 40, 42 ... 95, 60: the rows for hours 40 and 60 step back
    assert (d["count"], d["timestamps"]) == (2, [S + 40 * H, S + 60 * H])


def test_negative_funding_kept_and_garbage_stamp_dropped(broken: Built) -> None:
    """A negative Binance print is real data and kept; Bybit's unparseable row is dropped, counted."""
    binance = rates(broken.catalog_dir, "BTCUSDT-PERP.BINANCE")
    bybit = rates(broken.catalog_dir, "BTCUSDT-LINEAR.BYBIT")

    assert binance[S + 8 * NEGATIVE_FUNDING_PRINT * H] == Decimal("-0.00005")
    assert len(binance) == PRINTS
    assert defects_of(broken.catalog_dir, "BTCUSDT-PERP.BINANCE/funding") == {}
    assert bybit == {S + 8 * k * H: Decimal(repr(funding_rate("bybit", k))) for k in range(PRINTS)}
    d = defects_of(broken.catalog_dir, "BTCUSDT-LINEAR.BYBIT/funding")["unparseable_timestamp"]
    assert (d["count"], d["examples"]) == (1, ["not-a-time"])


def test_pool_unix_seconds_and_holes_from_cex(broken: Built) -> None:
    """The pool file's unix-second stamps parse; its missing hours come from Bybit ETH spot."""
    got = closes(broken.catalog_dir, "ETHUSDT-UNIV3.ETHEREUM")
    cov = manifest(broken.catalog_dir)["series"]["ETHUSDT-UNIV3.ETHEREUM"]

    assert sorted(got) == [close_hour(i) for i in range(HOURS)]
    for i in range(HOURS):
        venue = "bybit" if i in POOL_HOLE else "uniswapv3"
        assert got[close_hour(i)] == expected_bar(venue, "ETHUSDT", "spot", i)[3], i
    assert cov["proxied"] == {
        "ETHUSDT-SPOT.BYBIT": {"count": 2, "ranges": [[iso(close_hour(5)), iso(close_hour(6))]]}
    }


def test_gas_holes_left_unfilled_and_reported(broken: Built) -> None:
    """Gas has no proxy: the 3 missing samples stay missing, listed as unfilled."""
    got = gas(broken.catalog_dir)
    cov = manifest(broken.catalog_dir)["series"]["GAS"]

    assert [g.ts_event for g in got] == [S + i * H for i in range(HOURS) if i not in GAS_HOLE]
    assert cov["unfilled"] == [[iso(S + 70 * H), iso(S + 72 * H)]]
    assert (cov["rows"], cov["own_rows"], cov["proxied"]) == (93, 93, {})
    hole = defects_of(broken.catalog_dir, "GAS")["hole"]
    assert hole["count"] == 3
    assert hole["decision"].startswith("left unfilled")


EXPECTED_DEFECTS: dict[str, list[tuple[str, int, str]]] = {
    "BTCUSDT.BINANCE_SPOT": [("hole", 5, "5 filled from proxies ['BTCUSDT-SPOT.BYBIT'], 0 left unfilled")],
    "ETHUSDT.BINANCE_SPOT": [("no_data", 0, "no own history: every row comes from proxies")],
    "BTCUSDT-PERP.BINANCE": [
        ("bad_value", 4, "dropped rows with NaN or non-positive open, high, low, close"),
        ("hole", 4, "4 filled from proxies ['BTCUSDT-LINEAR.BYBIT'], 0 left unfilled"),
    ],
    "BTCUSDT-PERP.BINANCE/funding": [],
    "ETHUSDT-PERP.BINANCE": [("no_data", 0, "no own data and no proxy data")],
    "ETHUSDT-PERP.BINANCE/funding": [("no_data", 0, "no own data and no proxy data")],
    "BTCUSDT-SPOT.BYBIT": [("duplicate", 2, "identical rows: kept one")],
    "ETHUSDT-SPOT.BYBIT": [("conflicting_duplicate", 1, "else the last row (1)")],
    "BTCUSDT-LINEAR.BYBIT": [("out_of_order", 2, "sorted by timestamp")],
    "BTCUSDT-LINEAR.BYBIT/funding": [("unparseable_timestamp", 1, "dropped the rows")],
    "ETHUSDT-LINEAR.BYBIT": [("no_data", 0, "no own data and no proxy data")],
    "ETHUSDT-LINEAR.BYBIT/funding": [("no_data", 0, "no own data and no proxy data")],
    "BTC-USDT.OKX": [("no_data", 0, "no own history: every row comes from proxies")],
    "ETH-USDT.OKX": [("no_data", 0, "no own history: every row comes from proxies")],
    "BTC-USDT-SWAP.OKX": [("no_data", 0, "no own history: every row comes from proxies")],
    "BTC-USDT-SWAP.OKX/funding": [
        ("conflicting_duplicate", 3, "kept the value closest to the other venues' median (3 timestamps)")
    ],
    "ETH-USDT-SWAP.OKX": [("no_data", 0, "no own data and no proxy data")],
    "ETH-USDT-SWAP.OKX/funding": [("no_data", 0, "no own data and no proxy data")],
    "BTCUSD-PERP.BINANCE": [("no_data", 0, "no own history: every row comes from proxies")],
    "BTCUSD-PERP.BINANCE/funding": [("no_data", 0, "no own history: every row comes from proxies")],
    "ETHUSDT-UNIV3.ETHEREUM": [("hole", 2, "2 filled from proxies ['ETHUSDT-SPOT.BYBIT']")],
    "EIGENETH-UNIV3.ETHEREUM": [],
    "ETHFIETH-UNIV3.ETHEREUM": [],
    "WEETHETH-CURVE.ETHEREUM": [
        ("bad_value", 2, "dropped rows with NaN or non-positive rate"),
        ("hole", 2, "0 filled from proxies [], 2 left unfilled"),
    ],
    "WSTETHETH-UNIV3.ETHEREUM": [],
    "WEETH-ETHERFI.ETHEREUM": [
        ("caveat", 0, "interpolated from daily oracle readings"),
        ("hole", 3, "0 filled from proxies [], 3 left unfilled"),
    ],
    "WSTETH-LIDO.ETHEREUM": [("caveat", 0, "interpolated from daily oracle readings")],
    "AUSDT-AAVE.ETHEREUM/reserve": [],
    "AWETH-AAVE.ETHEREUM/reserve": [("duplicate", 1, "identical rows: kept one")],
    "AWEETH-AAVE.ETHEREUM/reserve": [],
    "AWSTETH-AAVE.ETHEREUM/reserve": [("no_data", 0, "no own data and no proxy data")],
    "GAS": [("hole", 3, "left unfilled")],
    "REWARDS": [
        (
            "interpretation",
            1,
            "the period covers 52 days, not a week; the published figure matches "
            "eigen_earned/eth_restaked=1.5000 (per restaked eETH only) → used 1.093750 EIGEN per eETH",
        ),
        ("interpretation", 1, "'ETHFI Top-up (Feb)' repeats the ethfi_topups_raw.csv row"),
        ("interpretation", 1, "payout_date='Jun 2024' is not a YYYY-MM-DD date → skipped"),
        ("estimated", 1, "ranges valued at their midpoint: ['season_1']"),
    ],
    "AAVE_PARAMS": [("decision", 1, "standard-mode parameters from the reserve CSV")],
    "BENCHMARK_SUSDE": [("no_data", 1, "no benchmarks/ethena_susde_apr_benchmark_*.csv file")],
}


def test_validation_report_lists_every_defect_with_decision(broken: Built) -> None:
    """The Markdown and JSON reports list exactly the defects planted, each with its decision."""
    md = (broken.catalog_dir / "validation_report.md").read_text()
    report = json.loads((broken.catalog_dir / "validation_report.json").read_text())
    # one section per series, headed "### KEY (kind)"
    sections = {chunk.split(" ", 1)[0]: chunk for chunk in md.split("\n### ")[1:]}

    assert {s["key"] for s in report} == set(EXPECTED_DEFECTS)
    assert set(sections) == set(EXPECTED_DEFECTS)
    for entry in report:
        expected = EXPECTED_DEFECTS[entry["key"]]
        assert [(d["kind"], d["count"]) for d in entry["defects"]] == [(k, n) for k, n, _ in expected]
        for d, (_, _, decision) in zip(entry["defects"], expected, strict=True):
            assert decision in d["decision"], (entry["key"], d)
        section = sections[entry["key"]]
        rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
        if not expected:
            assert "- no defects" in section
        for kind, count, decision in expected:
            assert any(r.startswith(f"| {kind} | {count} | ") and decision in r for r in rows), (
                entry["key"],
                kind,
            )
    assert "**proxy** BTCUSDT-SPOT.BYBIT: 5 rows" in sections["BTCUSDT.BINANCE_SPOT"]
    assert "unfilled gaps: 1 ranges" in sections["GAS"]
    assert "**none** (no own history)" in sections["BTC-USDT.OKX"]


# --- manifest: windows ------------------------------------------------------------------------


def test_check_window_inside_data_passes(broken: Built) -> None:
    """A window within the bars' close stamps (end up to one step past the last) is accepted."""
    m = CatalogManifest(broken.catalog_dir)

    m.check_window(["BTCUSDT.BINANCE_SPOT", "BTC-USDT.OKX", "GAS"], close_hour(0), close_hour(94))
    m.check_window(["BTCUSDT.BINANCE_SPOT"], close_hour(0), close_hour(95) + H)


def test_check_window_outside_data_names_the_series(broken: Built) -> None:
    """A window past the data, or a series with no data at all, is refused naming that series only."""
    m = CatalogManifest(broken.catalog_dir)

    with pytest.raises(WindowOutsideDataError) as late:
        m.check_window(["BTCUSDT.BINANCE_SPOT"], close_hour(0), close_hour(200))
    assert "BTCUSDT.BINANCE_SPOT: data covers 2024-03-01T01:00:00Z .. 2024-03-05T00:00:00Z" in str(late.value)

    with pytest.raises(WindowOutsideDataError) as early:
        m.check_window(["GAS"], S - 24 * H, S + 10 * H)
    assert "GAS: data covers 2024-03-01T00:00:00Z .. 2024-03-04T23:00:00Z" in str(early.value)

    with pytest.raises(WindowOutsideDataError) as empty:
        m.check_window(["BTCUSDT.BINANCE_SPOT", "ETHUSDT-PERP.BINANCE"], close_hour(0), close_hour(10))
    assert "ETHUSDT-PERP.BINANCE: no data at all" in str(empty.value)
    assert "BTCUSDT.BINANCE_SPOT:" not in str(empty.value)

    with pytest.raises(KeyError, match=r"NOPE\.BINANCE"):
        m.check_window(["NOPE.BINANCE"], close_hour(0), close_hour(10))


def test_window_report_counts_proxied_rows_in_window(broken: Built) -> None:
    """Only the proxied hours inside the window are counted, with their share of the window."""
    m = CatalogManifest(broken.catalog_dir)

    report = m.window_report(["BTCUSDT.BINANCE_SPOT"], close_hour(25), close_hour(40))  # 16 bars
    assert report.proxies == {
        "BTCUSDT.BINANCE_SPOT": {
            "rows_in_window": 16,
            "from_proxy": {"BTCUSDT-SPOT.BYBIT": 5},
            "share": 0.3125,
        }
    }
    part = m.window_report(["BTCUSDT.BINANCE_SPOT"], close_hour(32), close_hour(40))
    assert part.proxies["BTCUSDT.BINANCE_SPOT"]["from_proxy"] == {"BTCUSDT-SPOT.BYBIT": 3}
    outside = m.window_report(["BTCUSDT.BINANCE_SPOT"], close_hour(40), close_hour(90))
    assert outside.proxies == {}
    assert outside.warnings == []


def test_window_report_counts_defect_rows_in_window(broken: Built) -> None:
    """Defect rows and unfilled holes are counted inside the window and not outside it."""
    m = CatalogManifest(broken.catalog_dir)

    dup = m.window_report(["BTCUSDT-SPOT.BYBIT"], close_hour(5), close_hour(15))  # raw hour 10 only
    assert dup.warnings == [
        "BTCUSDT-SPOT.BYBIT: 1 duplicate rows in the window's raw data: identical rows: kept one"
    ]
    assert m.window_report(["BTCUSDT-SPOT.BYBIT"], close_hour(25), close_hour(90)).warnings == []

    bad = m.window_report(["BTCUSDT-PERP.BINANCE"], close_hour(48), close_hour(60))  # raw 50..53
    assert any(w.startswith("BTCUSDT-PERP.BINANCE: 4 bad_value rows") for w in bad.warnings)
    assert bad.proxies["BTCUSDT-PERP.BINANCE"]["from_proxy"] == {"BTCUSDT-LINEAR.BYBIT": 4}

    okx = m.window_report(["BTC-USDT-SWAP.OKX/funding"], S + 8 * H, S + 48 * H)  # prints 2 and 5
    assert any(w.startswith("BTC-USDT-SWAP.OKX/funding: 2 conflicting_duplicate rows") for w in okx.warnings)

    assert m.window_report(["GAS"], S + 60 * H, S + 80 * H).warnings == [
        "GAS: 3 gas rows missing in the window (no proxy had them)"
    ]
    assert m.window_report(["GAS"], S + 71 * H, S + 90 * H).warnings == [
        "GAS: 2 gas rows missing in the window (no proxy had them)"
    ]
    assert m.window_report(["GAS"], S, S + 69 * H).warnings == []


@pytest.mark.parametrize(
    ("key", "start", "end", "warning"),
    [
        # the bar opened at raw 20:00 closes at 21:00, after the window's end: only raw 10:00 is in
        pytest.param(
            "BTCUSDT-SPOT.BYBIT",
            close_hour(0),
            close_hour(19),
            "BTCUSDT-SPOT.BYBIT: 1 duplicate rows",
            id="bar-defect-after-window-end",
        ),
        # print 2 settles at 16:00, before the window's 17:00 start: only print 5 (03-02 16:00) is in
        pytest.param(
            "BTC-USDT-SWAP.OKX/funding",
            S + 17 * H,
            S + 40 * H,
            "BTC-USDT-SWAP.OKX/funding: 1 conflicting_duplicate rows",
            id="funding-defect-before-window-start",
        ),
    ],
)
def test_window_report_defect_edges(broken: Built, key: str, start: int, end: int, warning: str) -> None:
    """A defect row just outside the window (by ts_event) is not counted in it."""
    report = CatalogManifest(broken.catalog_dir).window_report([key], start, end)

    assert any(w.startswith(warning) for w in report.warnings), report.warnings


def test_manifest_of_missing_catalog_says_how_to_build(tmp_path: Path) -> None:
    """Reading a directory that was never built points at the build command."""
    with pytest.raises(FileNotFoundError, match="python -m data_catalog build"):
        CatalogManifest(tmp_path)


# --- broken files -----------------------------------------------------------------------------


def _without_close(path: Path) -> None:
    pd.read_csv(path).drop(columns=["close"]).to_csv(path, index=False)


def _binary_garbage(path: Path) -> None:
    path.write_bytes(bytes(np.random.default_rng(7).integers(128, 256, 4096, dtype=np.uint8)))


def _ragged_rows(path: Path) -> None:
    with path.open("a") as f:
        f.write("2024-03-05T00:00:00Z,1,2,3,4,5,6,7,8,9,10,11,12\n")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    ("raw", "breakage", "message"),
    [
        pytest.param(
            BYBIT_BTC_SPOT, _without_close, r"missing required column\(s\) \['close'\]", id="no-close"
        ),
        pytest.param(BINANCE_BTC_FUNDING, _binary_garbage, "cannot read CSV", id="binary-garbage"),
        pytest.param(GAS, _ragged_rows, "cannot read CSV", id="ragged-rows"),
        pytest.param(
            BINANCE_BTC_PERP,
            _empty,
            "cannot read CSV",
            id="empty-file",
        ),
        pytest.param(AAVE_WETH, _binary_garbage, "cannot read CSV", id="aave-binary-garbage"),
        pytest.param(WEETH_ORACLE, _empty, "cannot read CSV", id="oracle-empty-file"),
        pytest.param(
            EIGEN_POOL, _without_close, r"missing required column\(s\) \['close'\]", id="token-pool-no-close"
        ),
    ],
)
def test_broken_file_fails_build_and_keeps_old_catalog(
    clean_copy: Built, raw: RawFile, breakage: Callable[[Path], None], message: str
) -> None:
    """A file that cannot be used stops the build with its name; the previous catalog survives."""
    before = (clean_copy.catalog_dir / "manifest.json").read_text()
    breakage(clean_copy.data_dir / raw.relpath)

    with pytest.raises(BuildError, match=message) as error:
        build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert str(clean_copy.data_dir / raw.relpath) in str(error.value)
    assert (clean_copy.catalog_dir / "manifest.json").read_text() == before
    assert len(bars(clean_copy.catalog_dir, "BTCUSDT.BINANCE_SPOT")) == HOURS
    assert len(funding(clean_copy.catalog_dir, "BTCUSDT-PERP.BINANCE")) == PRINTS
    assert sorted(p.name for p in clean_copy.catalog_dir.parent.iterdir()) == ["catalog", "data"]


def test_missing_column_error_names_file_and_column(clean_copy: Built) -> None:
    """The message is enough to fix the file: its path, the column and the columns it does have."""
    path = clean_copy.data_dir / OKX_BTC_FUNDING.relpath
    pd.read_csv(path).rename(columns={"funding_rate": "fundingRate"}).to_csv(path, index=False)

    with pytest.raises(BuildError) as error:
        build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    text = str(error.value)
    assert text.startswith(f"{path}: missing required column(s) ['funding_rate']")
    assert "fundingRate" in text


def test_failure_while_writing_removes_partial_build(
    clean_copy: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash half-way through writing leaves the old catalog in place and no ``.building`` dir."""
    before = (clean_copy.catalog_dir / "manifest.json").read_text()
    real_write = builder._write
    calls: list[str] = []

    def write_then_fail(catalog: ParquetDataCatalog, key: str, *args: object) -> None:
        calls.append(key)
        if len(calls) == 5:
            assert (clean_copy.catalog_dir.parent / "catalog.building").is_dir()  # really half-way
            raise OSError("disk full")
        real_write(catalog, key, *args)

    monkeypatch.setattr(builder, "_write", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        build_catalog(clean_copy.data_dir, clean_copy.catalog_dir, force=True)

    assert len(calls) == 5
    assert (clean_copy.catalog_dir / "manifest.json").read_text() == before
    assert len(bars(clean_copy.catalog_dir, "BTCUSDT.BINANCE_SPOT")) == HOURS
    assert sorted(p.name for p in clean_copy.catalog_dir.parent.iterdir()) == ["catalog", "data"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_building_removes_partial_build(
    clean_copy: Built, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """``python -m data_catalog build --force`` stopped by Ctrl-C or SIGTERM half-way through
    writing leaves the old catalog in place and no ``.building`` dir."""
    from data_catalog.__main__ import main

    before = (clean_copy.catalog_dir / "manifest.json").read_text()
    real_write = builder._write
    calls: list[str] = []

    def write_then_signal(catalog: ParquetDataCatalog, key: str, *args: object) -> None:
        calls.append(key)
        if len(calls) == 5:
            assert (clean_copy.catalog_dir.parent / "catalog.building").is_dir()  # really half-way
            os.kill(os.getpid(), signum)
        real_write(catalog, key, *args)

    monkeypatch.setattr(builder, "_write", write_then_signal)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises((KeyboardInterrupt, SystemExit)) as stopped:
            main(
                [
                    "build",
                    "--data-dir",
                    str(clean_copy.data_dir),
                    "--catalog",
                    str(clean_copy.catalog_dir),
                    "--force",
                ]
            )
    finally:
        signal.signal(signal.SIGTERM, previous)

    if signum == signal.SIGTERM:
        assert stopped.type is SystemExit and stopped.value.code == 128 + signal.SIGTERM
    assert len(calls) == 5
    assert (clean_copy.catalog_dir / "manifest.json").read_text() == before
    assert sorted(p.name for p in clean_copy.catalog_dir.parent.iterdir()) == ["catalog", "data"]


@pytest.mark.parametrize("volume", ["nan", "", "-3", "abc"])
def test_bad_volume_is_a_reported_defect_not_a_crash(tmp_path: Path, volume: str) -> None:
    """A bad volume is set to zero and reported (the prices of the row stay usable)."""

    def bad_volume(f: pd.DataFrame) -> pd.DataFrame:
        f = f.astype({"volume": object})
        f.loc[7, "volume"] = volume
        return f

    data_dir = write_raw(tmp_path / "data", {BYBIT_BTC_SPOT: bad_volume})
    build_catalog(data_dir, tmp_path / "catalog")
    bad = defects_of(tmp_path / "catalog", "BTCUSDT-SPOT.BYBIT")["bad_volume"]
    assert bad["timestamps"] == [S + 7 * H]
    assert bad["decision"].startswith("set NaN/negative volume to 0")


# --- idempotency ------------------------------------------------------------------------------


def test_unchanged_inputs_skip_the_build(clean_copy: Built) -> None:
    """Same raw files and configs: nothing is rebuilt, every catalog file stays as it was."""
    before = _files_state(clean_copy.catalog_dir)
    (clean_copy.data_dir / "aave").mkdir(exist_ok=True)
    (clean_copy.data_dir / "aave" / "unrelated.csv").write_text("a,b\n1,2\n")  # not a catalog input
    messages: list[str] = []

    result = build_catalog(clean_copy.data_dir, clean_copy.catalog_dir, progress=messages.append)

    assert not result.rebuilt
    assert _files_state(clean_copy.catalog_dir) == before
    assert messages == [f"catalog {clean_copy.catalog_dir} is up to date (same raw files and configs)"]


def test_a_second_build_waits_for_the_first_and_then_finds_the_catalog_built(clean_copy: Built) -> None:
    """Two runs that find the catalog stale build it one at a time: the second waits for the
    lock on the catalog's folder, then reads the manifest the first left (here: the catalog as
    built, up to date)."""
    messages: list[str] = []
    held = os.open(clean_copy.catalog_dir.parent, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # a build in progress elsewhere
        second = threading.Thread(
            target=build_catalog,
            args=(clean_copy.data_dir, clean_copy.catalog_dir),
            kwargs={"progress": messages.append},
        )
        second.start()
        second.join(timeout=3.0)
        assert second.is_alive(), "the second build did not wait for the lock"
        assert messages == [
            f"another process is building the catalog {clean_copy.catalog_dir}: waiting for it"
        ]
    finally:
        os.close(held)
    second.join(timeout=60.0)
    assert not second.is_alive()
    assert messages[1:] == [f"catalog {clean_copy.catalog_dir} is up to date (same raw files and configs)"]


def _files_state(root: Path) -> dict[str, tuple[int, bytes]]:
    """(mtime in ns, content) of every file under ``root``: a rewrite changes at least the mtime."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in root.rglob("*")
        if p.is_file()
    }


def test_changed_raw_file_triggers_rebuild(clean_copy: Built) -> None:
    """Editing one price in one file rebuilds, and the new price is in the catalog."""
    path = clean_copy.data_dir / BINANCE_BTC_SPOT.relpath
    frame = pd.read_csv(path)
    frame.loc[7, "close"] = 60_073.25  # 3.25 above the synthetic close, inside the bar's high/low
    frame.to_csv(path, index=False)

    result = build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert result.rebuilt
    assert closes(clean_copy.catalog_dir, "BTCUSDT.BINANCE_SPOT")[close_hour(7)] == Decimal("60073.25")
    assert sorted(p.name for p in clean_copy.catalog_dir.parent.iterdir()) == ["catalog", "data"]


def test_changed_venue_config_triggers_rebuild(
    clean_copy: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venue configs (proxies, instruments) are build inputs too: editing one rebuilds."""
    configs = tmp_path / "venues"
    shutil.copytree(PROJECT / "configs" / "venues", configs)
    monkeypatch.setattr(builder, "VENUE_CONFIG_DIR", configs)

    assert not build_catalog(clean_copy.data_dir, clean_copy.catalog_dir).rebuilt  # same bytes
    with (configs / "okx.yaml").open("a") as f:
        f.write("# edited\n")
    assert build_catalog(clean_copy.data_dir, clean_copy.catalog_dir).rebuilt


def test_force_rebuilds_unchanged_inputs(clean_copy: Built) -> None:
    """``force=True`` rebuilds even though nothing changed, producing the same data."""
    before = manifest(clean_copy.catalog_dir)

    result = build_catalog(clean_copy.data_dir, clean_copy.catalog_dir, force=True)

    after = manifest(clean_copy.catalog_dir)
    assert result.rebuilt
    assert after["built_at"] != before["built_at"]
    assert after["fingerprint"] == before["fingerprint"]
    assert after["series"] == before["series"]
    assert len(bars(clean_copy.catalog_dir, "BTCUSDT.BINANCE_SPOT")) == HOURS


# --- paths ------------------------------------------------------------------------------------


def _history(root: Path) -> Path:
    """A minimal directory that counts as raw history (a CSV under ``cex/``)."""
    (root / "cex" / "spot").mkdir(parents=True)
    (root / "cex" / "spot" / "x.csv").write_text("timestamp\n")
    return root


@pytest.fixture
def no_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $BASIS_DATA_DIR, an empty cwd, and ../shared/data pointing into tmp (absent)."""
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "project")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path


def test_resolve_explicit_dir_wins(no_defaults: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit path beats the env var and ./data; without history it is an error."""
    explicit = _history(no_defaults / "explicit")
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(_history(no_defaults / "env")))
    _history(no_defaults / "cwd" / "data")

    assert resolve_data_dir(explicit) == explicit.resolve()
    with pytest.raises(DataNotFoundError, match="no raw history under"):
        resolve_data_dir(no_defaults / "nothing")


def test_resolve_env_beats_cwd_data(no_defaults: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$BASIS_DATA_DIR beats ./data; an env var pointing at no history is an error, not skipped."""
    env = _history(no_defaults / "env")
    _history(no_defaults / "cwd" / "data")
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(env))

    assert resolve_data_dir() == env.resolve()
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(no_defaults / "empty"))
    with pytest.raises(DataNotFoundError, match=r"\$BASIS_DATA_DIR="):
        resolve_data_dir()


def test_resolve_cwd_data_beats_shared(no_defaults: Path) -> None:
    """./data (the downloader's output) beats ../shared/data."""
    _history(no_defaults / "shared" / "data")
    local = _history(no_defaults / "cwd" / "data")

    assert resolve_data_dir() == local.resolve()


def test_resolve_falls_back_to_shared_data(no_defaults: Path) -> None:
    """With nothing else, ../shared/data next to the project is used."""
    shared = _history(no_defaults / "shared" / "data")

    assert resolve_data_dir() == shared.resolve()


def test_data_not_found_lists_places_and_how_to_get_data(no_defaults: Path) -> None:
    """The error names every place looked and the command that downloads history."""
    (no_defaults / "cwd" / "data" / "cex").mkdir(parents=True)  # exists, but holds no CSV

    with pytest.raises(DataNotFoundError) as error:
        resolve_data_dir()

    text = str(error.value)
    assert f"./data: {no_defaults / 'cwd' / 'data'}" in text
    assert f"../shared/data: {no_defaults / 'shared' / 'data'}" in text
    assert "python -m data_catalog download" in text
    assert "BASIS_DATA_DIR" in text


# --- CLI --------------------------------------------------------------------------------------


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (paths.DATA_DIR_ENV, paths.CATALOG_DIR_ENV)}
    return subprocess.run(
        [sys.executable, "-m", "data_catalog", *map(str, args)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_build_succeeds_with_progress(clean: Built, tmp_path: Path) -> None:
    """``build`` exits 0, prints a line per series and the summary, and writes the catalog."""
    catalog = tmp_path / "cli-catalog"

    done = _cli("build", "--data-dir", clean.data_dir, "--catalog", catalog)

    assert done.returncode == 0, done.stderr
    assert f"raw history: {clean.data_dir.resolve()}" in done.stdout
    assert "[32/32] wrote GAS" in done.stdout
    assert "built 32 series in" in done.stdout
    assert f"Report: {catalog.resolve() / 'validation_report.md'}" in done.stdout
    assert len(bars(catalog, "BTCUSDT-SPOT.BYBIT")) == HOURS


def test_cli_build_without_history_exits_2(tmp_path: Path) -> None:
    """A data dir without history: exit 2 and a one-line reason on stderr, no traceback."""
    empty = tmp_path / "empty"
    empty.mkdir()

    done = _cli("build", "--data-dir", empty, "--catalog", tmp_path / "catalog")

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: no raw history under {empty}")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "catalog").exists()


def test_cli_build_with_broken_file_exits_2(clean_copy: Built) -> None:
    """A BuildError is reported as a one-line error with exit code 2."""
    _without_close(clean_copy.data_dir / BYBIT_BTC_SPOT.relpath)

    done = _cli("build", "--data-dir", clean_copy.data_dir, "--catalog", clean_copy.catalog_dir)

    assert done.returncode == 2
    assert "missing required column(s) ['close']" in done.stderr
    assert BYBIT_BTC_SPOT.relpath.split("/")[-1] in done.stderr
    assert "Traceback" not in done.stderr


# --- the real data set ------------------------------------------------------------------------


def _real_data_dir() -> Path | None:
    path = Path(os.environ.get(paths.DATA_DIR_ENV, PROJECT.parent / "shared" / "data"))
    return path if (path / "cex").is_dir() else None


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data dir, catalog dir) of the whole real data set built into tmp."""
    data_dir = _real_data_dir()
    if data_dir is None:
        pytest.skip("real history not found: set BASIS_DATA_DIR or put it at ../shared/data")
    catalog_dir = tmp_path_factory.mktemp("real") / "catalog"
    build_catalog(data_dir, catalog_dir)
    return data_dir, catalog_dir


def _one(data_dir: Path, pattern: str) -> pd.DataFrame:
    files = sorted(data_dir.glob(pattern))
    assert len(files) == 1, (pattern, files)
    return pd.read_csv(files[0])


def _stamps(frame: pd.DataFrame, column: str = "timestamp") -> np.ndarray:
    return pd.to_datetime(frame[column], utc=True).dt.as_unit("ns").astype("int64").to_numpy()


def _runs(hours_ns: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) runs of consecutive hours."""
    runs: list[tuple[int, int]] = []
    for t in sorted(hours_ns):
        if runs and t == runs[-1][1] + H:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


@pytest.mark.integration
def test_real_data_build_finds_known_defects(real: tuple[Path, Path]) -> None:
    """The defects MANIFEST.md documents are found and handled."""
    data_dir, catalog_dir = real
    series = manifest(catalog_dir)["series"]

    # Binance BTC spot: 15 holes of 23 h, 345 hours, all filled from Bybit spot
    binance = _stamps(_one(data_dir, "cex/spot/binance_BTCUSDT_*1h_*.csv"))
    grid = np.arange(binance.min(), binance.max() + H, H)
    holes = _runs(np.setdiff1d(grid, binance))
    assert len(holes) == 15
    assert {(b - a) // H + 1 for a, b in holes} == {23}
    cov = series["BTCUSDT.BINANCE_SPOT"]
    assert cov["proxied"]["BTCUSDT-SPOT.BYBIT"]["count"] == 345
    assert cov["proxied"]["BTCUSDT-SPOT.BYBIT"]["ranges"] == [[iso(a + H), iso(b + H)] for a, b in holes]
    assert cov["unfilled"] == []

    # Bybit BTC spot: 15 identical duplicated rows, collapsed
    bybit = _one(data_dir, "cex/spot/bybit_BTCUSDT_*1h_*.csv")
    assert int(bybit.duplicated().sum()) == 15
    dup = {d["kind"]: d for d in series["BTCUSDT-SPOT.BYBIT"]["defects"]}["duplicate"]
    assert dup["count"] == 15
    assert series["BTCUSDT-SPOT.BYBIT"]["rows"] == bybit["timestamp"].nunique()

    # OKX BTC funding: 210 conflicting duplicates, each resolved to the print nearest the median
    okx = _one(data_dir, "cex/funding/okx_BTCUSDT_funding_rates_*.csv").assign(
        ts=lambda f: _stamps(f, "funding_timestamp")
    )
    doubled = okx[okx["ts"].duplicated(keep=False)]
    assert doubled["ts"].nunique() == 210
    reference = pd.concat(
        [
            _one(data_dir, f"cex/funding/{v}_BTCUSDT_funding_rates_*.csv")
            .assign(ts=lambda f: _stamps(f, "funding_timestamp"))
            .set_index("ts")["funding_rate"]
            for v in ("binance", "bybit")
        ],
        axis=1,
    ).median(axis=1)
    kept = {ts: float(rate) for ts, rate in rates(catalog_dir, "BTC-USDT-SWAP.OKX").items()}
    for ts, group in doubled.groupby("ts"):
        best = group.loc[(group["funding_rate"] - reference[ts]).abs().idxmin(), "funding_rate"]
        assert kept[ts] == best, iso(ts)
    conflicts = {d["kind"]: d for d in series["BTC-USDT-SWAP.OKX/funding"]["defects"]}
    assert conflicts["conflicting_duplicate"]["count"] == 210

    # OKX ETH perp: every hour of Sep-2024 and Apr-2025 missing from its file comes from proxies
    okx_eth = _stamps(_one(data_dir, "cex/perp/okx_ETHUSDT_perp_1h_*.csv"))
    okx_closes = set(closes(catalog_dir, "ETH-USDT-SWAP.OKX"))
    m = CatalogManifest(catalog_dir)
    for month_start, month_end in (("2024-09-01", "2024-10-01"), ("2025-04-01", "2025-05-01")):
        lo, hi = pd.Timestamp(month_start, tz="UTC").value, pd.Timestamp(month_end, tz="UTC").value
        opens = np.arange(lo, hi, H)
        missing = np.setdiff1d(opens, okx_eth)
        assert len(missing) > 600, month_start  # (nearly) the whole month is absent from OKX's file
        assert {int(t) + H for t in opens} <= okx_closes
        report = m.window_report(["ETH-USDT-SWAP.OKX"], lo + H, hi)
        assert sum(report.proxies["ETH-USDT-SWAP.OKX"]["from_proxy"].values()) == len(missing)

    # no own history at all: Binance ETH spot, OKX spot BTC/ETH, OKX BTC perp
    for key in ("ETHUSDT.BINANCE_SPOT", "BTC-USDT.OKX", "ETH-USDT.OKX", "BTC-USDT-SWAP.OKX"):
        cov = series[key]
        assert (cov["files"], cov["own_rows"]) == ([], 0), key
        assert sum(p["count"] for p in cov["proxied"].values()) == cov["rows"] > 14_000, key
        assert "no_data" in {d["kind"] for d in cov["defects"]}, key


def _text_rows(data_dir: Path, pattern: str) -> list[dict[str, str]]:
    """The one file matching ``pattern`` as text rows (``#`` comment lines skipped)."""
    (path,) = sorted(data_dir.glob(pattern))
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _percent(text: str) -> float:
    return float(Decimal(text.removesuffix("%")) / 100)


@pytest.mark.integration
def test_real_data_build_has_wallet_series_rewards_and_params(real: tuple[Path, Path]) -> None:
    """All 30 series, the reward payouts and the Aave parameters are built from the real data set."""
    data_dir, catalog_dir = real
    series = manifest(catalog_dir)["series"]
    catalog = ParquetDataCatalog(str(catalog_dir))

    assert set(series) == EXPECTED_SERIES | NON_SERIES
    wallet = sorted(k for k in EXPECTED_SERIES if k.split("/")[0].endswith(".ETHEREUM"))
    assert len(wallet) == 11  # 5 pools, 2 LST mints, 4 Aave reserves
    for key in [*wallet, "GAS"]:
        assert series[key]["files"] and series[key]["own_rows"] > 0, key
    assert {str(i.id) for i in catalog.instruments()} == EXPECTED_INSTRUMENTS

    # a weETH oracle sample: a flat bar at the sample's own stamp, at the rate (to the 1e-10 step)
    row = _text_rows(data_dir, "aave/oracle/weETH_ETH_oracle_*.csv")[1000]
    ts = pd.Timestamp(row["timestamp"]).value
    (bar,) = [b for b in bars(catalog_dir, "WEETH-ETHERFI.ETHEREUM") if b.ts_event == ts]
    assert ohlcv(bar)[:4] == (bar.close.as_decimal(),) * 4 and bar.volume.as_decimal() == 0
    assert abs(bar.close.as_decimal() - Decimal(row["oracle_price_eth"])) <= Decimal("5e-11")
    # a weETH peg sample: the Curve pool is priced by the market rate
    row = _text_rows(data_dir, "staking/market/weETH_peg_analysis_*.csv")[500]
    ts = pd.Timestamp(row["timestamp"]).value
    (bar,) = [b for b in bars(catalog_dir, "WEETHETH-CURVE.ETHEREUM") if b.ts_event == ts]
    assert abs(bar.close.as_decimal() - Decimal(row["market_rate"])) <= Decimal("5e-11")

    # a WETH reserve row: the snapshot at its targetDate with the exact values
    row = next(
        r
        for r in _text_rows(data_dir, "aave/rates/aave_v3_aave-v3-ethereum_WETH_rates_*.csv")
        if r["targetDate"] == "2024-06-01T00:00:00Z"
    )
    got = catalog.query(AaveReserveSnapshot, identifiers=["AWETH-AAVE.ETHEREUM"])
    (snap,) = [c.data for c in got if c.data.ts_event == pd.Timestamp("2024-06-01", tz="UTC").value]
    assert (snap.liquidity_index, snap.variable_borrow_index) == (
        float(row["liquidityIndex"]),
        float(row["variableBorrowIndex"]),
    )
    assert (snap.liquidity_rate, snap.variable_borrow_rate) == (
        float(row["currentLiquidityRate"]),
        float(row["currentVariableBorrowRate"]),
    )
    assert (snap.total_a_token, snap.total_variable_debt) == (
        float(row["totalAToken"]),
        float(row["totalVariableDebt"]),
    )

    # EIGEN per eETH = earned / (restaked + not restaked), paid when the (inclusive) period ends
    payouts = [c.data for c in catalog.query(RewardDistribution)]
    eigen_rows = _text_rows(data_dir, "staking/rewards/eigen_distributions_raw.csv")
    assert {p.ts_event: p.per_eeth for p in payouts if p.token == "EIGEN"} == {
        pd.Timestamp(r["staking_period_end"], tz="UTC").value + D: float(r["eigen_earned"])
        / (float(r["eth_restaked"]) + float(r["eth_not_restaked"]))
        for r in eigen_rows
    }
    topups = _text_rows(data_dir, "staking/rewards/ethfi_topups_raw.csv")
    assert {(p.ts_event, p.per_eeth) for p in payouts if p.program == "ethfi_topup"} == {
        (pd.Timestamp(r["top_up_date"], tz="UTC").value, float(r["ethfi_per_eeth_distributed"]))
        for r in topups
    }
    assert series["REWARDS"]["rows"] == len(payouts)

    # Aave parameters: WETH and weETH from the reserve CSV, the ETH e-mode 93 % / 95 % / 1 %
    params = json.loads((catalog_dir / "aave_params.json").read_text())
    with (data_dir / "aave/params/aave_current_v3_prams_etherum_mainnet.csv").open(encoding="utf-8-sig") as f:
        header, *rows = list(csv.reader(f))
    for reserve in ("WETH", "weETH"):
        raw = {r[0]: r[header.index(reserve)] for r in rows if r}
        got_params = params["reserves"][reserve]
        assert (
            got_params["ltv"],
            got_params["liquidation_threshold"],
            got_params["liquidation_bonus"],
        ) == (
            _percent(raw["LTV"]),
            _percent(raw["Liquidation Threshold"]),
            _percent(raw["Liquidation Bonus"]),
        ), reserve
    emode = params["emode"]
    assert (emode["ltv"], emode["liquidation_threshold"], emode["liquidation_bonus"]) == (0.93, 0.95, 0.01)

    # a run pricing weETH off the oracle is told the hourly values are interpolated
    lo, hi = pd.Timestamp("2024-06-01", tz="UTC").value, pd.Timestamp("2024-06-08", tz="UTC").value
    warnings = CatalogManifest(catalog_dir).window_report(["WEETH-ETHERFI.ETHEREUM"], lo, hi).warnings
    assert any(
        w.startswith("WEETH-ETHERFI.ETHEREUM: ") and "interpolated from daily oracle readings" in w
        for w in warnings
    )
