"""A run's APY beside what simpler USDT products paid over the same window.

Two benchmarks, both read from the built catalog (never from raw files):

- **Ethena sUSDe**, the best-known staked-ETH-plus-short-perp product: DefiLlama's daily APY over
  the calendar days of the window (both ends included). ``apy_mean`` is the plain mean of the
  daily figures (the number usually quoted); ``apy_compounded`` is what holding sUSDe earned if each
  day paid its APY's daily share, ``(Π (1 + apy_d) ** (1/365)) ** (365 / days) − 1``. Days the
  benchmark lacks are counted in ``missing_days``, never filled.
- **Aave v3 USDT lending**, the do-nothing alternative: growth of the reserve's liquidity index
  between the window's ends, annualised over the elapsed time. The index at a time is the latest
  daily snapshot at or before it, accrued linearly at that snapshot's liquidity rate (Aave's own
  rule, and what the pure-lending mode earns), so nothing looks ahead.

A part whose data is missing is ``None`` with a ``note`` saying why; the run still completes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.defi.aave_index import ReserveIndex
from adapters.defi.data import AaveReserveSnapshot
from data_catalog.benchmarks import SUSDE_GLOB, read_susde_benchmark

AAVE_USDT_INSTRUMENT = "AUSDT-AAVE.ETHEREUM"
SUSDE_SOURCE = "Ethena sUSDe, DefiLlama daily APY"
DAYS_PER_YEAR = 365
STALE_SNAPSHOT = pd.Timedelta(days=2)
"""A window end further than this past the last Aave snapshot is extrapolated at a fixed rate: noted."""


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _days(start: pd.Timestamp, end: pd.Timestamp) -> float:
    return (end - start) / pd.Timedelta(days=1)


def susde_comparison(catalog_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """sUSDe's mean and compounded APY over the calendar days [start.date, end.date]."""
    first_day, last_day = start.normalize(), end.normalize()
    expected = int(_days(first_day, last_day)) + 1
    out: dict[str, Any] = {
        "apy_mean": None,
        "apy_compounded": None,
        "days": 0,
        "missing_days": expected,
        "source": SUSDE_SOURCE,
    }
    series = read_susde_benchmark(catalog_dir)
    if series is None:
        out["note"] = f"the catalog has no sUSDe benchmark (rebuild it with a {SUSDE_GLOB} file)"
        return out
    window = series[(series.index >= first_day) & (series.index <= last_day)]
    out["days"], out["missing_days"] = len(window), expected - len(window)
    if window.empty:
        out["note"] = (
            f"the sUSDe benchmark ({series.index[0]:%Y-%m-%d} .. {series.index[-1]:%Y-%m-%d}) has no day "
            f"in {first_day:%Y-%m-%d} .. {last_day:%Y-%m-%d}"
        )
        return out
    growth = math.prod((1 + a) ** (1 / DAYS_PER_YEAR) for a in window)
    out["apy_mean"] = float(window.mean())
    out["apy_compounded"] = growth ** (DAYS_PER_YEAR / len(window)) - 1
    if out["missing_days"]:
        out["note"] = (
            f"{out['missing_days']} of the window's {expected} days have no sUSDe figure (benchmark covers "
            f"{series.index[0]:%Y-%m-%d} .. {series.index[-1]:%Y-%m-%d}); figures use the {len(window)} "
            "covered days"
        )
    return out


def _liquidity_index(snapshots: list[AaveReserveSnapshot], at: pd.Timestamp) -> tuple[float, float] | None:
    """(index at ``at``, seconds since the snapshot used), accrued by the lending mode's own
    :class:`~adapters.defi.aave.ReserveIndex` from the latest snapshot at or before ``at``."""
    latest = None
    for snap in snapshots:  # sorted by time
        if snap.ts_event > at.value:
            break
        latest = snap
    if latest is None:
        return None
    index = ReserveIndex(AAVE_USDT_INSTRUMENT)
    index.update(
        latest.ts_event,
        latest.liquidity_index,
        latest.variable_borrow_index,
        latest.liquidity_rate,
        latest.variable_borrow_rate,
    )
    return index.liquidity_index(at.value), (at.value - latest.ts_event) / 1e9


def _usdt_snapshots(catalog_dir: Path) -> list[AaveReserveSnapshot]:
    """The USDT reserve's daily snapshots, sorted by time: the whole series (≈600 rows), so a note
    can say where the data starts."""
    found = ParquetDataCatalog(str(catalog_dir)).query(
        AaveReserveSnapshot, identifiers=[AAVE_USDT_INSTRUMENT]
    )
    return sorted(
        (
            s
            for s in (getattr(item, "data", item) for item in found)
            if str(s.instrument_id) == AAVE_USDT_INSTRUMENT
        ),
        key=lambda s: s.ts_event,
    )


def aave_usdt_comparison(catalog_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """APY of supplying USDT to Aave v3 from ``start`` to ``end`` (liquidity-index growth)."""
    out: dict[str, Any] = {
        "apy": None,
        "source": f"Aave v3 Ethereum USDT liquidity index ({AAVE_USDT_INSTRUMENT})",
    }
    snapshots = _usdt_snapshots(catalog_dir)
    at_start, at_end = _liquidity_index(snapshots, start), _liquidity_index(snapshots, end)
    if at_start is None or at_end is None:
        first = pd.Timestamp(snapshots[0].ts_event, tz="UTC").isoformat() if snapshots else None
        out["note"] = (
            f"no {AAVE_USDT_INSTRUMENT} reserve snapshot at or before {start.isoformat()} in the catalog"
            + (f" (first one: {first})" if first else " (no USDT reserve data at all)")
        )
        return out
    ratio = at_end[0] / at_start[0]
    out["apy"] = ratio ** (DAYS_PER_YEAR / _days(start, end)) - 1
    out["index_ratio"] = ratio
    if at_end[1] > STALE_SNAPSHOT.total_seconds():
        out["note"] = (
            f"the last USDT reserve snapshot is {at_end[1] / 86_400:.1f} days before the window's end: "
            "the index was accrued at its fixed rate since"
        )
    return out


def _excess(apy: float | None, benchmark: float | None) -> float | None:
    return None if apy is None or benchmark is None else apy - benchmark


def benchmark_comparison(
    catalog_dir: Path,
    start: pd.Timestamp,
    end: pd.Timestamp,
    apy: float | None,
    max_drawdown: float | None,
) -> dict[str, Any]:
    """The run's APY and max drawdown beside sUSDe and Aave v3 USDT lending over [start, end]."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError(f"benchmark window end {end.isoformat()} must be after start {start.isoformat()}")
    susde = susde_comparison(catalog_dir, start, end)
    aave = aave_usdt_comparison(catalog_dir, start, end)
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat(), "days": _days(start, end)},
        "strategy": {"apy": apy, "max_drawdown": max_drawdown},
        "susde": susde,
        "aave_usdt_lending": aave,
        "excess_apy_vs_susde": _excess(apy, susde["apy_mean"]),
        "excess_apy_vs_aave_usdt": _excess(apy, aave["apy"]),
    }


def _susde_growth(catalog_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Growth of 1 USDT in sUSDe at each calendar day's close (its APY's daily share compounded over
    the window's covered days, as ``apy_compounded``), from 1 at the first day's start."""
    series = read_susde_benchmark(catalog_dir)
    first_day = start.normalize()
    if series is None:
        return pd.Series(dtype=float)
    window = series[(series.index >= first_day) & (series.index <= end.normalize())]
    growth = ((1 + window) ** (1 / DAYS_PER_YEAR)).cumprod()
    growth.index = growth.index + pd.Timedelta(days=1)
    return pd.concat([pd.Series([1.0], index=[first_day]), growth])


def _aave_usdt_growth(catalog_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Growth of 1 USDT supplied to Aave v3 at ``start``, each midnight in the window and ``end``:
    the liquidity index's ratio to its value at ``start`` (empty without a snapshot at ``start``)."""
    snapshots = _usdt_snapshots(catalog_dir)
    at_start = _liquidity_index(snapshots, start)
    if at_start is None:
        return pd.Series(dtype=float)
    days = pd.date_range(start.normalize() + pd.Timedelta(days=1), end, freq="1D", inclusive="left")
    stamps = [start, *days, end]
    return pd.Series([_liquidity_index(snapshots, t)[0] / at_start[0] for t in stamps], index=stamps)


def benchmark_curves(catalog_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The growth of 1 USDT in each benchmark over the window (``susde``, ``aave_usdt_lending``),
    the curves behind :func:`benchmark_comparison`'s APYs: the report draws the run against them.
    A benchmark without data is an empty (all-NaN) column."""
    start, end = _utc(start), _utc(end)
    curves = pd.DataFrame(
        {
            "susde": _susde_growth(catalog_dir, start, end),
            "aave_usdt_lending": _aave_usdt_growth(catalog_dir, start, end),
        },
        dtype=float,
    )
    curves.index.name = "timestamp"
    return curves.sort_index()


def _percent(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def tearsheet_lines(benchmarks: dict[str, Any] | None) -> dict[str, str]:
    """``stats_general`` lines of the tearsheet for a :func:`benchmark_comparison` (none without one)."""
    if not benchmarks:
        return {}
    susde, aave = benchmarks["susde"], benchmarks["aave_usdt_lending"]
    days = f"{susde['days']} days" + (f", {susde['missing_days']} missing" if susde["missing_days"] else "")
    return {
        f"sUSDe APY (same window, mean of {days})": _percent(susde["apy_mean"]),
        "sUSDe APY (same window, compounded)": _percent(susde["apy_compounded"]),
        "Aave v3 USDT lending APY (same window)": _percent(aave["apy"]),
        "Excess APY vs sUSDe": _percent(benchmarks["excess_apy_vs_susde"], signed=True),
        "Excess APY vs Aave v3 USDT lending": _percent(benchmarks["excess_apy_vs_aave_usdt"], signed=True),
    }
