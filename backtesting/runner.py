"""Run a mode end to end: validate, build, run, account, write the results folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.model.identifiers import Venue

from adapters.cex.instruments import cex_instrument_id, exchange_of
from adapters.events import AaveLiquidated, FlashLoanFee
from backtesting.config import RunConfig
from backtesting.engine import Backtest, RunData, RunPlan, build_backtest
from portfolio.benchmarks import benchmark_comparison, benchmark_curves
from portfolio.results import summarize, write_results
from scenarios.config import Scenario
from signals.evaluation import load_evaluation

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    summary: dict[str, Any]
    out_dir: Path
    seconds: float


def _margin_tier_warnings(bt: Backtest, nav: pd.DataFrame) -> list[str]:
    """Only first-tier margin rates are modelled: say so when a venue's perp notional outgrew the tier."""
    warnings = []
    for venue, module in bt.cex_modules.items():
        column = f"perp_notional_{venue.lower()}"
        traded = {str(i.id) for i in bt.engine.cache.instruments(venue=Venue(venue))}
        caps = [
            s.margin.tier_notional_cap
            for s in module.venue_config.instruments
            if s.margin is not None and str(cex_instrument_id(venue, s.base, s.kind, s.quote)) in traded
        ]
        if column not in nav or not caps:
            continue
        peak, cap = float(nav[column].max()), min(caps)
        if peak > cap:
            warnings.append(
                f"{venue}: perp notional reached {peak:,.0f} USDT, above the first margin tier ({cap:,.0f}); "
                "maintenance margin is understated above it (only first-tier rates are modelled)",
            )
    return warnings


def _idle_reason(bt: Backtest) -> str | None:
    """Why a run never traded (no order filled), or None when it did: a capital too small for the
    mode is otherwise indistinguishable from a flat strategy (APY 0.00 %)."""
    if any(order.filled_qty.as_double() > 0 for order in bt.engine.cache.orders()):
        return None
    run, dust = bt.run, bt.run.strategy.dust_threshold_usd
    minimums: dict[str, float] = {}
    for instrument in bt.engine.cache.instruments():
        venue = exchange_of(instrument.id)
        if venue in bt.cex_modules and instrument.min_notional is not None:
            minimums[venue] = max(minimums.get(venue, 0.0), instrument.min_notional.as_double())
    sizes = ", ".join(f"{venue} {amount:g}" for venue, amount in sorted(minimums.items()))
    orders = f", and each order must reach the venue's minimum size, min notional {sizes}" if sizes else ""
    return (
        f"nothing was deployed: {run.file.capital:g} {run.share_class} is below what this mode can put to "
        f"work (the book stays idle while worth no more than dust_threshold_usd {dust:g} USD{orders})"
    )


def _extra(bt: Backtest, seconds: float) -> dict[str, Any]:
    """Run facts beside the performance numbers: actions, funding per venue, rejections, speed."""
    strategy = bt.strategy
    funding: dict[str, float] = {}
    for event in bt.accounting.funding:
        funding[event.venue] = funding.get(event.venue, 0.0) + event.payment_usdt
    aave_liquidations = [e for e in bt.accounting.wallet_events if isinstance(e, AaveLiquidated)]
    return {
        "capital": bt.run.file.capital,
        "account_modes": {venue: m.venue_config.account_mode for venue, m in bt.cex_modules.items()},
        "not_deployed": _idle_reason(bt),
        "actions": dict(strategy.actions),
        "funding_by_venue": funding,
        "funding_prints_settled": len(bt.accounting.funding),
        "liquidations": len(bt.accounting.liquidations) + len(aave_liquidations),
        "cex_liquidations": len(bt.accounting.liquidations),
        "aave_liquidations": len(aave_liquidations),
        "flash_loans": sum(isinstance(e, FlashLoanFee) for e in bt.accounting.wallet_events),
        "unpriced_tokens": sorted(bt.accounting.book.unpriced_seen),
        "rejections": strategy.rejections[:50],
        "rejection_count": len(strategy.rejections),
        "aborted_plans": strategy.plans.failures[:50],
        "gas_eth": bt.wallet.gas_eth_total,
        "wall_seconds": seconds,
        "data_points": bt.data_points,
    }


def _model_figures(bt: Backtest, catalog_dir: Path) -> dict[str, Any]:
    """The signal model's out-of-sample evaluation beside the trading results of a mode trading it."""
    predictions = bt.strategy.data_needs().predictions
    if not predictions:
        return {}
    return {"model": {str(i): load_evaluation(catalog_dir, str(i)) for i in predictions}}


def _protocol_figures(nav: pd.DataFrame) -> dict[str, Any]:
    """On-chain risk and estimates worth reading beside the attribution."""
    figures: dict[str, Any] = {
        "estimated": {"restaking_rewards": float(nav["restaking_rewards_estimated"].sum())}
    }
    if "aave_health_factor" in nav:
        hf = nav["aave_health_factor"].dropna()
        figures["min_health_factor"] = float(hf.min()) if len(hf) else None
        figures["max_ltv"] = float(nav["aave_ltv"].max())
    return figures


def scenario_record(scenario: Scenario, stressed: list[int]) -> dict[str, Any]:
    """The scenario as ``summary.json`` records it: each transformation with the points it changed."""
    record = scenario.as_dict()
    record["transformations"] = [
        {**t, "changed_points": n} for t, n in zip(record["transformations"], stressed, strict=True)
    ]
    return record


def simulate(
    run: RunConfig,
    catalog_dir: Path,
    progress: Progress = lambda _: None,
    reader: Callable[[RunPlan], RunData] | None = None,
) -> tuple[Backtest, float]:
    """Build and run ``run``'s engine (``reader`` as in :func:`build_backtest`); the finished
    backtest and its wall time in seconds. The one path every backtest takes, a single run's and
    a sweep worker's."""
    started = time.perf_counter()
    bt = build_backtest(run, catalog_dir, reader=reader)
    progress(
        f"{run.mode}: {bt.data_points:,} data points, {run.start:%Y-%m-%d} → {run.end:%Y-%m-%d}, running…"
    )
    bt.accounting.progress = progress
    # No `start`: gas samples from before it must reach the wallet. `end` + 1 ns lets the last
    # hour's mark (end + 1 ns) close the last NAV sample after the events stamped at `end`.
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    return bt, time.perf_counter() - started


def run_backtest(
    run: RunConfig, catalog_dir: Path, out_dir: Path, progress: Progress = lambda _: None
) -> RunResult:
    """Run ``run`` on the catalog and write its results folder to ``out_dir``."""
    bt, seconds = simulate(run, catalog_dir, progress)
    return finish_run(bt, catalog_dir, out_dir, seconds)


def summarize_backtest(bt: Backtest, catalog_dir: Path, seconds: float) -> dict[str, Any]:
    """The ``summary.json`` figures of a finished run, without the benchmark comparison (which
    only the results folder needs)."""
    run = bt.run
    nav = bt.accounting.nav_frame()
    if len(nav) < 2:
        raise RuntimeError(f"{run.mode}: the run produced {len(nav)} NAV samples; the window is too short")
    report = bt.manifest.window_report(bt.report_keys, run.start.value, run.end.value)
    summary = summarize(
        mode=run.mode,
        share_class=run.share_class,
        window=(run.start, run.end),
        nav=nav,
        proxies=report.proxies,
        data_warnings=report.warnings,
        extra={
            **_extra(bt, seconds),
            **_protocol_figures(nav),
            "model_warnings": _margin_tier_warnings(bt, nav),
            **bt.strategy.report(nav),
            **_model_figures(bt, catalog_dir),
        },
    )
    if run.scenario is not None:
        summary["scenario"] = scenario_record(run.scenario, bt.stressed)
    return summary


def finish_run(bt: Backtest, catalog_dir: Path, out_dir: Path, seconds: float) -> RunResult:
    """Summarise a finished run (backtest or paper) and write its results folder."""
    run = bt.run
    summary = summarize_backtest(bt, catalog_dir, seconds)
    nav = bt.accounting.nav_frame()
    curves = None
    if run.share_class == "USDT":  # USDT products to compare against: sUSDe and Aave USDT lending
        summary["benchmarks"] = benchmark_comparison(
            catalog_dir, run.start, run.end, summary["apy"], summary["max_drawdown"]
        )
        curves = benchmark_curves(catalog_dir, run.start, run.end)
    venues = sorted({instrument.id.venue.value for instrument in bt.engine.cache.instruments()})
    write_results(
        out_dir,
        summary=summary,
        nav=nav,
        accounting=bt.accounting,
        engine=bt.engine,
        venues=venues,
        resolved_config=run.as_dict(),
        actions=bt.strategy.action_log,
        benchmarks=curves,
    )
    bt.engine.dispose()
    return RunResult(summary, out_dir, seconds)
