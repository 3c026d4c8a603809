"""The charts of one run or a comparison of runs: what the generic tearsheet lacks.

Each builder takes the runs (one or more :class:`RunFolder`) and returns a plotly figure, or
None when no run has the data (a basis run has no Aave position). Every title goes through
:func:`stressed_title`, and every trace of a comparison is named by its run's title, which starts
with ``STRESSED`` for a stressed run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from portfolio.attribution import CATEGORIES
from research.report.run_folder import RunFolder, stressed_title

MAX_BARS = 92
"""At most this many attribution bars: a longer run is drawn at every n-th day's close."""
LIQUIDATION_LINE = {"color": "firebrick", "dash": "dash"}


def axis_times(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC times as naive ``datetime64``: plotly copies and encodes such an array ~100× faster than
    one of ``Timestamp`` objects (a full window's hourly curve in ms instead of a second)."""
    return index.tz_convert("UTC").tz_localize(None).to_numpy()


def _title(runs: list[RunFolder], text: str) -> str:
    return stressed_title(text, [r.scenario for r in runs])


def trace_names(runs: list[RunFolder]) -> list[str]:
    """Each run's title; the folder name is added when two runs share a title."""
    titles = [r.title for r in runs]
    if len(set(titles)) == len(titles):
        return titles
    return [f"{t} [{r.path.name}]" for t, r in zip(titles, runs, strict=True)]


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(title=title, height=height, hovermode="x unified", legend={"orientation": "h"})
    return fig


def nav_figure(runs: list[RunFolder]) -> go.Figure:
    """One run: its NAV in the share class. Several: each one's time-weighted growth of 1."""
    if len(runs) == 1:
        (run,) = runs
        fig = go.Figure()
        fig.add_scatter(x=axis_times(run.nav.index), y=run.nav["nav"], name="NAV", mode="lines")
        fig.update_yaxes(title=f"NAV ({run.currency})")
        return _layout(fig, _title(runs, f"NAV — {run.label}"))
    return growth_figure(list(zip(trace_names(runs), runs, strict=True)), "Cumulative return")


def growth_figure(named: list[tuple[str, RunFolder]], title: str) -> go.Figure:
    """Each named run's time-weighted cumulative return (comparable across share classes)."""
    fig = go.Figure()
    for name, run in named:
        growth = run.growth()
        fig.add_scatter(x=axis_times(growth.index), y=growth - 1, name=name, mode="lines")
    fig.update_yaxes(title="cumulative return (time-weighted)", tickformat=".1%")
    return _layout(fig, _title([run for _, run in named], title))


def _sampled(frame, limit: int = MAX_BARS):
    """Every n-th row, ending on the last one, so at most ``limit`` rows remain."""
    step = max(1, -(-len(frame) // limit))
    return frame.iloc[list(range(len(frame) - 1, -1, -step))[::-1]]


def attribution_figure(run: RunFolder) -> go.Figure:
    """Cumulative P&L by category at each day's close, stacked (gains above zero, costs below),
    and their total."""
    cumulative = run.attribution[list(CATEGORIES)].cumsum()
    shown = _sampled(cumulative)
    fig = go.Figure()
    for category in CATEGORIES:
        if (cumulative[category] != 0).any():
            fig.add_bar(x=axis_times(shown.index), y=shown[category], name=category)
    fig.add_scatter(
        x=axis_times(shown.index),
        y=shown.sum(axis=1),
        name="total P&L",
        mode="lines",
        line={"color": "black"},
    )
    fig.update_layout(barmode="relative", bargap=0.05)
    fig.update_yaxes(title=f"cumulative P&L ({run.currency})")
    return _layout(fig, _title([run], f"Attribution over time — {run.label}"))


def attribution_totals_figure(runs: list[RunFolder]) -> go.Figure:
    """Each run's P&L by category over its window, in % of its initial NAV (comparable across
    share classes and capitals)."""
    used = [c for c in CATEGORIES if any(r.summary["attribution"].get(c) for r in runs)]
    fig = go.Figure()
    for run, name in zip(runs, trace_names(runs), strict=True):
        initial = run.summary["initial_nav"]
        fig.add_bar(x=used, y=[run.summary["attribution"].get(c, 0.0) / initial for c in used], name=name)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="P&L, % of initial NAV", tickformat=".2%")
    return _layout(fig, _title(runs, "Attribution by category over the window"))


def delta_figure(runs: list[RunFolder]) -> go.Figure:
    """Net delta ÷ NAV hourly, against the share class: how far the book is from neutral."""
    fig = go.Figure()
    for run, name in zip(runs, trace_names(runs), strict=True):
        fig.add_scatter(x=axis_times(run.nav.index), y=run.delta_fraction(), name=name, mode="lines")
    fig.update_yaxes(title="net delta / NAV", tickformat=".2%")
    return _layout(fig, _title(runs, "Net delta / NAV (against the share-class currency)"))


def margin_figure(runs: list[RunFolder]) -> go.Figure | None:
    """Margin ratio (maintenance ÷ margin balance) per venue against the liquidation level, 1."""
    fig = go.Figure()
    names = trace_names(runs)
    for run, name in zip(runs, names, strict=True):
        for venue, ratio in run.margin_ratios().items():
            fig.add_scatter(
                x=axis_times(ratio.index),
                y=ratio,
                mode="lines",
                name=venue if len(runs) == 1 else f"{venue} — {name}",
            )
    if not fig.data:
        return None
    fig.add_hline(y=1.0, line=LIQUIDATION_LINE, annotation_text="liquidation (margin ratio 1)")
    fig.update_yaxes(title="maintenance / margin balance (log)", type="log")
    return _layout(fig, _title(runs, "Margin ratio per venue vs liquidation"))


def aave_figure(runs: list[RunFolder]) -> go.Figure | None:
    """Aave health factor (liquidation at 1, the strategy's deleverage trigger dashed) and LTV
    against the LTV at which the position is liquidated."""
    positions = [(run, name, run.aave()) for run, name in zip(runs, trace_names(runs), strict=True)]
    positions = [p for p in positions if p[2] is not None]
    if not positions:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("health factor", "LTV"))
    for run, name, aave in positions:
        label = "" if len(runs) == 1 else f" — {name}"
        fig.add_scatter(
            x=axis_times(aave.index), y=aave["health_factor"], name=f"health factor{label}", row=1, col=1
        )
        fig.add_scatter(x=axis_times(aave.index), y=aave["ltv"], name=f"LTV{label}", row=2, col=1)
        fig.add_scatter(
            x=axis_times(aave.index),
            y=aave["liquidation_ltv"],
            name=f"liquidation LTV (weighted threshold){label}",
            line={"dash": "dot"},
            row=2,
            col=1,
        )
        deleverage = run.strategy_setting("deleverage_health_factor")
        if deleverage:
            fig.add_hline(
                y=deleverage,
                line={"color": "orange", "dash": "dot"},
                annotation_text=f"deleverage trigger {deleverage:g}",
                row=1,
                col=1,
            )
    fig.add_hline(y=1.0, line=LIQUIDATION_LINE, annotation_text="liquidation (HF 1)", row=1, col=1)
    fig.update_yaxes(tickformat=".1%", row=2, col=1)
    fig.update_traces(mode="lines")
    return _layout(fig, _title(runs, "Aave health factor and LTV"), height=600)


def benchmark_figure(runs: list[RunFolder]) -> go.Figure | None:
    """Each USDT run's growth against sUSDe and Aave v3 USDT lending over its own window."""
    compared = [(n, r) for n, r in zip(trace_names(runs), runs, strict=True) if r.benchmarks is not None]
    if not compared:
        return None
    fig = growth_figure(compared, "Against sUSDe and Aave USDT lending, same window")
    windows = {(r.summary["start"], r.summary["end"]): r.benchmarks for _, r in compared}
    for (start, end), curves in windows.items():
        suffix = "" if len(windows) == 1 else f" ({start[:10]} → {end[:10]})"
        for column, label in (("susde", "sUSDe"), ("aave_usdt_lending", "Aave v3 USDT lending")):
            curve = curves[column].dropna() if column in curves else pd.Series(dtype=float)
            if len(curve):
                fig.add_scatter(
                    x=axis_times(curve.index),
                    y=curve - 1,
                    name=label + suffix,
                    mode="lines",
                    line={"dash": "dash"},
                )
    return fig
