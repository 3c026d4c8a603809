"""The charts of a sweep: a metric over each pair of swept parameters, the frontier of return
against drawdown, and the top configurations' NAV curves.

Runs under a stress scenario are kept apart from history: a heatmap per scenario, a frontier
trace per scenario, each titled or named ``STRESSED: <scenario>``.
"""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from research.report.run_figures import growth_figure
from research.report.run_folder import RunFolder, stressed_title
from research.report.sweep_table import MAXIMISED, PARAM_PREFIX, PERCENT, SweepTable

COLORS = plotly.colors.qualitative.Plotly
"""A scenario's runs and its frontier share a colour."""
MAX_PAIRS = 6
"""Heatmaps for at most this many parameter pairs (the first ones in the table's column order)."""


def param_name(column: str) -> str:
    return column.removeprefix(PARAM_PREFIX)


def value_format(metric: str) -> str:
    """The d3 format plotly shows ``metric`` with."""
    return ".2%" if metric in PERCENT else ".3g"


def scenario_label(scenario: str | None) -> str:
    return f"STRESSED: {scenario}" if scenario else "history"


def parameter_pairs(sweep: SweepTable) -> list[tuple[str, str | None]]:
    """Pairs of swept parameters to draw, ``(p, None)`` when only one parameter varies."""
    params = sweep.params
    if len(params) == 1:
        return [(params[0], None)]
    return list(combinations(params, 2))[:MAX_PAIRS]


def heatmap_figure(runs: pd.DataFrame, x: str, y: str | None, metric: str, scenario: str | None) -> go.Figure:
    """Mean ``metric`` per cell of ``x`` × ``y`` (over the runs sharing the cell: other parameters,
    windows); the hover shows how many runs each cell averages."""
    rows = runs.assign(_row="all") if y is None else runs.assign(_row=runs[y])
    grouped = rows.groupby(["_row", x], dropna=False)[metric]
    mean, count = grouped.mean().unstack(x), grouped.count().unstack(x)
    fig = go.Figure(
        go.Heatmap(
            z=mean.to_numpy(),
            x=[str(v) for v in mean.columns],
            y=[str(v) for v in mean.index],
            customdata=count.to_numpy(),
            texttemplate=f"%{{z:{value_format(metric)}}}",
            hovertemplate=f"{param_name(x)} %{{x}}<br>"
            + ("" if y is None else f"{param_name(y)} %{{y}}<br>")
            + f"{metric} %{{z:{value_format(metric)}}}<br>mean of %{{customdata}} runs<extra></extra>",
            colorscale="RdYlGn" if metric in MAXIMISED else "RdYlGn_r",
            colorbar={"title": metric, "tickformat": value_format(metric)},
        )
    )
    fig.update_xaxes(title=param_name(x), type="category")
    fig.update_yaxes(title="" if y is None else param_name(y), type="category")
    over = param_name(x) if y is None else f"{param_name(x)} × {param_name(y)}"
    title = stressed_title(f"{metric} over {over}", [scenario])
    fig.update_layout(title=title, height=420 if y is not None else 260)
    return fig


def heatmap_figures(sweep: SweepTable, metric: str) -> list[go.Figure]:
    """A heatmap per parameter pair and scenario (history first)."""
    figures = []
    for scenario, runs in sweep.by_scenario():
        figures += [heatmap_figure(runs, x, y, metric, scenario) for x, y in parameter_pairs(sweep)]
    return figures


def pareto_front(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs no other run beats on both APY and max drawdown (shallower), by drawdown."""
    ordered = runs.sort_values(["max_drawdown", "apy"], ascending=[False, False])
    best, front = float("-inf"), []
    for index, row in ordered.iterrows():
        if row["apy"] > best:
            best = row["apy"]
            front.append(index)
    return runs.loc[front]


def _hover(runs: pd.DataFrame) -> list[str]:
    params = [c for c in runs.columns if c.startswith(PARAM_PREFIX)]
    keys = [c for c in ("key", "start", "end") if c in runs]
    return ["<br>".join(f"{param_name(c)} {row[c]}" for c in [*keys, *params]) for _, row in runs.iterrows()]


def frontier_figure(sweep: SweepTable) -> go.Figure:
    """Every run's APY against its max drawdown, and each scenario's efficient frontier."""
    fig = go.Figure()
    for number, (scenario, scenario_runs) in enumerate(sweep.by_scenario()):
        runs = scenario_runs.dropna(subset=["apy", "max_drawdown"])
        label, color = scenario_label(scenario), COLORS[number % len(COLORS)]
        fig.add_scatter(
            x=runs["max_drawdown"],
            y=runs["apy"],
            mode="markers",
            name=label,
            legendgroup=label,
            marker={"color": color},
            text=_hover(runs),
            hovertemplate="APY %{y:.2%}, max drawdown %{x:.2%}<br>%{text}<extra></extra>",
        )
        front = pareto_front(runs)
        fig.add_scatter(
            x=front["max_drawdown"],
            y=front["apy"],
            mode="lines",
            name=f"frontier — {label}",
            legendgroup=label,
            line={"color": color},
            hoverinfo="skip",
        )
    fig.update_xaxes(title="max drawdown (hourly NAV; right is shallower)", tickformat=".2%")
    fig.update_yaxes(title="APY", tickformat=".2%")
    title = stressed_title("Return against drawdown", list(sweep.scenarios()))
    fig.update_layout(title=title, height=480)
    return fig


def top_runs_figure(top: list[tuple[str, RunFolder]]) -> go.Figure | None:
    """The kept run folders of the top configurations: their cumulative returns."""
    return growth_figure(top, "Top configurations: cumulative return") if top else None
