"""The run's ``tearsheet.html``: Nautilus' tearsheet, with values shown as what they are.

Nautilus 1.231 prints every statistic as ``f"{value:.4f}"`` (a count as "5.0000", a return as
"0.0512"), puts the yearly bars on a numeric axis ("2,023.5") and writes "NaN%" into the monthly
heatmap's cells outside the window. So the statistics are handed over as formatted text, and the
figure (from Nautilus' own builder) is corrected before it is written: years as categories,
empty cells outside the window.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from nautilus_trader.analysis import TearsheetConfig
from nautilus_trader.analysis.tearsheet import _create_tearsheet_figure

from portfolio.benchmarks import tearsheet_lines
from portfolio.metrics import daily_returns, hourly_returns


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.2%}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f}"


def money(value: float) -> str:
    return f"{value:,.2f}"


def tearsheet_stats(summary: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(returns, PnL, general) statistics as display text: fractions as percentages, counts as
    integers, amounts with two decimals."""
    returns = {
        "Total return": _percent(summary["total_return"]),
        "APY": _percent(summary["apy"]),
        "Annual volatility (365)": _percent(summary["annual_volatility"]).lstrip("+"),
        "Sharpe ratio (365)": _ratio(summary["sharpe"]),
        "Sortino ratio (365)": _ratio(summary["sortino"]),
        "Max drawdown (hourly NAV)": _percent(summary["max_drawdown"]),
    }
    pnls = {summary["share_class"]: {f"PnL {k}": money(v) for k, v in summary["attribution"].items() if v}}
    general = {
        "Initial NAV": money(summary["initial_nav"]),
        "Final NAV": money(summary["final_nav"]),
        "Net investor flows": money(summary["net_flows"]),
        "Reconciliation error": f"{summary['reconciliation_error']:.1e}",
        "Proxied series": str(len(summary["proxies"])),
        **({"Stress scenario": summary["scenario"]["name"]} if summary.get("scenario") else {}),
        **tearsheet_lines(summary.get("benchmarks")),
    }
    return returns, pnls, general


def _fix_periods(fig: go.Figure) -> None:
    """Years as category labels on the yearly bars; months without data left blank."""
    for trace in fig.data:
        if isinstance(trace, go.Bar):
            trace.x = [str(int(year)) for year in trace.x]
            fig.layout["xaxis" + trace.xaxis.removeprefix("x")].type = "category"
        elif isinstance(trace, go.Heatmap):
            trace.text = [[_cell(v) for v in row] for row in trace.z]
            trace.texttemplate = "%{text}"


def _cell(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.1f}%"


def tearsheet_title(summary: dict[str, Any]) -> str:
    """Mode, class and window; a stressed run says so first, so it is never read as history."""
    title = f"{summary['mode']} ({summary['share_class']}) {summary['start'][:10]} → {summary['end'][:10]}"
    scenario = summary.get("scenario")
    return f"STRESSED: {scenario['name']} — {title}" if scenario else title


def tearsheet_figure(summary: dict[str, Any], nav: pd.DataFrame) -> go.Figure:
    returns, pnls, general = tearsheet_stats(summary)
    charts = [c for c in TearsheetConfig().charts if c.name != "run_info"]  # no run metadata here
    fig = _create_tearsheet_figure(
        stats_returns=returns,
        stats_general=general,
        stats_pnls=pnls,
        returns=daily_returns(hourly_returns(nav["nav"], nav["flow"])),
        title=tearsheet_title(summary),
        config=TearsheetConfig(charts=charts),
    )
    _fix_periods(fig)
    return fig


def write_tearsheet(path: Path, summary: dict[str, Any], nav: pd.DataFrame) -> None:
    tearsheet_figure(summary, nav).write_html(str(path))
