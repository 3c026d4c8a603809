"""On-chain expectations computed straight from the raw files with pandas, independent of the project.

Aave v3 indices: ``liquidityIndex`` grows linearly at ``currentLiquidityRate`` from the latest daily
snapshot, ``variableBorrowIndex`` compounds per second at ``currentVariableBorrowRate`` (Aave's
MathUtils, with a 365-day year). LST rates: the hourly exchange-rate oracle files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SECONDS_PER_YEAR = 365 * 24 * 3600


def _one(data_dir: Path, pattern: str) -> Path:
    paths = sorted(data_dir.glob(pattern))
    assert len(paths) == 1, f"expected one file for {pattern}, found {paths}"
    return paths[0]


def aave_snapshots(data_dir: Path, reserve: str) -> pd.DataFrame:
    path = _one(data_dir, f"aave/rates/aave_v3_aave-v3-ethereum_{reserve}_rates_*.csv")
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame["targetDate"], utc=True)
    return frame.drop_duplicates("ts", keep="last").set_index("ts").sort_index()


def _latest(snapshots: pd.DataFrame, at: pd.Timestamp) -> tuple[pd.Series, float]:
    row = snapshots.loc[:at].iloc[-1]
    return row, (at - row.name).total_seconds()


def liquidity_index(snapshots: pd.DataFrame, at: pd.Timestamp) -> float:
    row, seconds = _latest(snapshots, at)
    return row["liquidityIndex"] * (1 + row["currentLiquidityRate"] * seconds / SECONDS_PER_YEAR)


def borrow_index(snapshots: pd.DataFrame, at: pd.Timestamp) -> float:
    row, seconds = _latest(snapshots, at)
    return row["variableBorrowIndex"] * (1 + row["currentVariableBorrowRate"] / SECONDS_PER_YEAR) ** seconds


def lst_oracle(data_dir: Path, asset: str) -> pd.Series:
    """ETH per LST, hourly, indexed by time."""
    path = _one(data_dir, f"aave/oracle/{asset}_ETH_oracle_*.csv")
    frame = pd.read_csv(path, comment="#")
    frame["ts"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.set_index("ts")["oracle_price_eth"].sort_index()
