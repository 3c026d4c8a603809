"""The page's section for one run or a comparison of runs: the figures of each run's summary
(as the tearsheet formats them), its attribution totals, and the charts."""

from __future__ import annotations

from typing import Any

from portfolio.attribution import CATEGORIES
from portfolio.tearsheet import money, tearsheet_stats
from research.report import page
from research.report.run_figures import (
    aave_figure,
    attribution_figure,
    attribution_totals_figure,
    benchmark_figure,
    delta_figure,
    margin_figure,
    nav_figure,
    trace_names,
)
from research.report.run_folder import RunFolder


def _optional(value: Any, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _summary_rows(runs: list[RunFolder]) -> list[list[str]]:
    """Performance, NAV, risk and benchmark lines, a column per run."""
    columns = []
    for run in runs:
        returns, _, general = tearsheet_stats(run.summary)
        s = run.summary
        columns.append(
            {
                "Window": f"{s['start'][:16]} → {s['end'][:16]}",
                "Share class": s["share_class"],
                "Scenario": run.scenario or "history",
                **returns,
                **general,
                "P&L (NAV change net of flows)": money(s.get("pnl", s["final_nav"] - s["initial_nav"])),
                "Liquidations": str(s.get("liquidations", "n/a")),
                "Min Aave health factor": _optional(s.get("min_health_factor"), ".3f"),
                "Max Aave LTV": _optional(s.get("max_ltv"), ".2%"),
            }
        )
    labels = list(dict.fromkeys(k for column in columns for k in column))
    return [[label, *(c.get(label, "—") for c in columns)] for label in labels]


def _attribution_rows(runs: list[RunFolder]) -> list[list[str]]:
    """Each category's total over the window (share class), categories no run used left out."""
    used = [c for c in CATEGORIES if any(r.summary["attribution"].get(c) for r in runs)]
    rows = [[c, *(money(r.summary["attribution"].get(c, 0.0)) for r in runs)] for c in used]
    total = [money(sum(r.summary["attribution"].values())) for r in runs]
    return [*rows, ["total attributed", *total]]


def _scenario_banners(runs: list[RunFolder]) -> list[str]:
    banners = []
    for run in runs:
        scenario = run.summary.get("scenario")
        if scenario:
            banners.append(
                page.stressed_banner(
                    f"{run.title}: scenario {scenario['name']!r}, "
                    f"{scenario.get('description', '').strip()} (from {scenario.get('start', '?')}); "
                    "these results are not history"
                )
            )
    return banners


def run_section(runs: list[RunFolder]) -> list[str]:
    """The parts of the page for ``runs`` (one run, or several compared)."""
    names = trace_names(runs)
    title = f"Run {runs[0].path.name}" if len(runs) == 1 else f"Comparison of {len(runs)} runs"
    parts = [page.heading(title), *_scenario_banners(runs)]
    header = ["", *(names if len(runs) > 1 else [runs[0].title])]
    parts.append(page.table(header, _summary_rows(runs), caption="Summary (summary.json)"))
    currencies = ", ".join(sorted({r.currency for r in runs}))
    parts.append(
        page.table(header, _attribution_rows(runs), caption=f"P&L attribution over the window ({currencies})")
    )
    parts.append(page.figure(nav_figure(runs)))
    parts += [page.figure(attribution_figure(run)) for run in runs]
    if len(runs) > 1:
        parts.append(page.figure(attribution_totals_figure(runs)))
    parts.append(page.figure(delta_figure(runs)))
    optional = (
        (margin_figure(runs), "No CEX perp position in this run: no margin ratio to show."),
        (aave_figure(runs), "No Aave borrowing in this run: no health factor or LTV to show."),
        (
            benchmark_figure(runs),
            "No benchmark curves: sUSDe and Aave USDT lending are USDT products, drawn for USDT "
            "runs from their benchmarks.csv.",
        ),
    )
    parts += [page.figure(fig) if fig is not None else page.note(text) for fig, text in optional]
    return parts
