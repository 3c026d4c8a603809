"""The page's section for a sweep: what ran, heatmaps, the frontier, the top configurations
(their NAV curves when their run folders were kept) and the failed runs."""

from __future__ import annotations

import pandas as pd

from research.report import page
from research.report.run_folder import RunFolder, read_run_folder
from research.report.sweep_figures import (
    MAX_PAIRS,
    frontier_figure,
    heatmap_figures,
    param_name,
    scenario_label,
    top_runs_figure,
)
from research.report.sweep_table import PARAM_PREFIX, PERCENT, SweepTable


def _cell(metric: str, value) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    if metric in PERCENT:
        return f"{value:.2%}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _described(sweep: SweepTable) -> str:
    runs = sweep.runs
    facts = [f"{len(runs)} finished runs", f"{len(sweep.failed)} failed"]
    if "mode" in runs:
        facts.append("mode " + ", ".join(sorted(map(str, runs["mode"].dropna().unique()))))
    if {"start", "end"} <= set(runs.columns):
        facts.append(f"{len(runs[['start', 'end']].drop_duplicates())} windows")
    scenarios = sorted({scenario_label(s) for s in sweep.scenarios()})
    facts.append("scenarios: " + ", ".join(scenarios))
    swept = ", ".join(param_name(p) for p in sweep.params) or "none"
    return "; ".join(facts) + f"; swept: {swept}"


def _top_table(top: pd.DataFrame, metrics: list[str]) -> str:
    params = [c for c in top.columns if c.startswith(PARAM_PREFIX)]
    keys = [c for c in ("key", "scenario", "start", "end") if c in top]
    header = [*keys, *(param_name(p) for p in params), *metrics]
    rows = [
        [
            *("history" if k == "scenario" and not row[k] else row[k] for k in keys),
            *(row[p] for p in params),
            *(_cell(m, row[m]) for m in metrics),
        ]
        for _, row in top.iterrows()
    ]
    return page.table(header, rows)


def _kept_runs(sweep: SweepTable, top: pd.DataFrame) -> list[tuple[str, RunFolder]]:
    kept = []
    for rank, (_, row) in enumerate(top.iterrows(), start=1):
        folder = sweep.run_folder(row)
        if folder is not None:
            run = read_run_folder(folder)
            kept.append((f"#{rank} {row.get('run_id', folder.name)} — {run.title}", run))
    return kept


def sweep_section(sweep: SweepTable, metric: str, top_n: int) -> list[str]:
    """The parts of the page for ``sweep``, ranked and mapped by ``metric``."""
    parts = [page.heading(f"Sweep {sweep.path.name}"), page.note(_described(sweep))]
    stressed = sorted({s for s in sweep.scenarios() if s})
    if stressed:
        banner = f"STRESSED runs in this sweep: {', '.join(stressed)} — not history"
        parts.append(page.stressed_banner(banner))
    if metric not in sweep.runs:
        parts.append(page.note(f"The table has no {metric!r} column: no heatmap or ranking by it."))
        metric = "apy"
    if sweep.runs.empty:
        parts.append(page.note("No finished run: nothing to draw."))
    elif not sweep.params:
        parts.append(page.note("No parameter takes more than one value: no heatmap."))
    else:
        if len(sweep.params) > 2:
            swept = len(sweep.params)
            parts.append(page.note(f"{swept} swept parameters: heatmaps of the first {MAX_PAIRS} pairs."))
        parts += [page.figure(f) for f in heatmap_figures(sweep, metric)]
    if not sweep.runs.empty:
        parts.append(page.figure(frontier_figure(sweep)))
        top = sweep.ranked(metric).head(top_n)
        parts += [page.heading(f"Top {len(top)} by {metric}", 3), _top_table(top, sweep.metrics)]
        figure = top_runs_figure(_kept_runs(sweep, top))
        parts.append(
            page.figure(figure)
            if figure is not None
            else page.note("The top configurations' run folders were not kept (sweep without --keep-runs).")
        )
    if not sweep.failed.empty:
        columns = [c for c in ("key", "error") if c in sweep.failed]
        rows = sweep.failed[columns].astype(str).to_numpy().tolist() if columns else []
        parts += [page.heading(f"{len(sweep.failed)} failed runs", 3), page.table(columns, rows)]
    return parts
