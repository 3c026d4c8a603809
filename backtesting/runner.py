"""Run a mode end to end: validate, build, run, account, write the results folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backtesting.config import RunConfig
from backtesting.engine import Backtest, build_backtest
from portfolio.results import summarize, write_results

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    summary: dict[str, Any]
    out_dir: Path
    seconds: float


def _extra(bt: Backtest, seconds: float) -> dict[str, Any]:
    """Run facts beside the performance numbers: actions, funding per venue, rejections, speed."""
    strategy = bt.strategy
    funding: dict[str, float] = {}
    for event in bt.accounting.funding:
        funding[event.venue] = funding.get(event.venue, 0.0) + event.payment
    return {
        "capital": bt.run.file.capital,
        "actions": dict(strategy.actions),
        "funding_by_venue": funding,
        "funding_prints_settled": len(bt.accounting.funding),
        "liquidations": len(bt.accounting.liquidations),
        "rejections": strategy.rejections[:50],
        "rejection_count": len(strategy.rejections),
        "aborted_plans": strategy.plans.failures[:50],
        "gas_eth": bt.wallet.gas_eth_total,
        "wall_seconds": seconds,
        "data_points": bt.data_points,
    }


def run_backtest(
    run: RunConfig, catalog_dir: Path, out_dir: Path, progress: Progress = lambda _: None
) -> RunResult:
    """Run ``run`` on the catalog and write its results folder to ``out_dir``."""
    started = time.perf_counter()
    bt = build_backtest(run, catalog_dir)
    progress(
        f"{run.mode}: {bt.data_points:,} data points, {run.start:%Y-%m-%d} → {run.end:%Y-%m-%d}, running…"
    )
    bt.accounting.progress = progress
    # No `start`: gas samples from before it must reach the wallet. `end` + 1 ns lets the last
    # hourly NAV sample (end + 1 ns) fire after the events stamped at `end`.
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    seconds = time.perf_counter() - started
    nav = bt.accounting.nav_frame()
    if len(nav) < 2:
        raise RuntimeError(f"{run.mode}: the run produced {len(nav)} NAV samples; the window is too short")
    report = bt.manifest.window_report(bt.series_keys, run.start.value, run.end.value)
    summary = summarize(
        mode=run.mode,
        share_class=run.file.share_class,
        nav=nav,
        proxies=report.proxies,
        data_warnings=report.warnings,
        extra=_extra(bt, seconds),
    )
    venues = [*bt.cex_modules, run.strategy.wallet_venue]
    write_results(
        out_dir,
        summary=summary,
        nav=nav,
        accounting=bt.accounting,
        engine=bt.engine,
        venues=venues,
        resolved_config=run.as_dict(),
    )
    bt.engine.dispose()
    return RunResult(summary, out_dir, seconds)
