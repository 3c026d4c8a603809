"""The tearsheet shows values as what they are: years on the yearly axis, blank months outside
the window, counts as integers, fractions as percentages."""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from portfolio.tearsheet import tearsheet_figure, tearsheet_stats

SUMMARY = {
    "mode": "btc_basis",
    "share_class": "USDT",
    "start": "2023-11-15T00:00:00+00:00",
    "end": "2024-02-10T00:00:00+00:00",
    "total_return": 0.1,
    "apy": 0.4937,
    "annual_volatility": 0.0512,
    "sharpe": 1.234,
    "sortino": float("nan"),
    "max_drawdown": -0.0321,
    "attribution": {"funding": 1234.5, "gas": 0.0, "price": -12.25},
    "initial_nav": 100.0,
    "final_nav": 110.0,
    "net_flows": 0.0,
    "reconciliation_error": 7.9e-8,
    "proxies": {"BTC-USDT.OKX": {}, "BTC-USDT-SWAP.OKX": {}, "BTCUSDT.BINANCE_SPOT": {}},
}


def _nav() -> pd.DataFrame:
    """Hourly NAV from 2023-11-15: 100, then 110 from 2023-12-15 (December's only move, +10 %)."""
    index = pd.date_range("2023-11-15", "2024-02-10", freq="1h", tz="UTC")
    nav = pd.Series(100.0, index=index).where(index < pd.Timestamp("2023-12-15", tz="UTC"), 110.0)
    return pd.DataFrame({"nav": nav, "flow": 0.0})


def test_statistics_are_formatted_by_what_they_are():
    returns, pnls, general = tearsheet_stats(SUMMARY)
    assert returns["APY"] == "+49.37%" and returns["Total return"] == "+10.00%"
    assert returns["Annual volatility (365)"] == "5.12%" and returns["Max drawdown (hourly NAV)"] == "-3.21%"
    assert returns["Sharpe ratio (365)"] == "1.23" and returns["Sortino ratio (365)"] == "n/a"
    assert general["Proxied series"] == "3" and general["Final NAV"] == "110.00"
    assert general["Reconciliation error"] == "7.9e-08"
    assert pnls == {"USDT": {"PnL funding": "1,234.50", "PnL price": "-12.25"}}


def test_years_are_categories_and_months_outside_the_window_are_blank():
    fig = tearsheet_figure(SUMMARY, _nav())
    (bars,) = [t for t in fig.data if isinstance(t, go.Bar)]
    assert list(bars.x) == ["2023", "2024"]
    assert fig.layout["xaxis" + bars.xaxis.removeprefix("x")].type == "category"

    (heatmap,) = [t for t in fig.data if isinstance(t, go.Heatmap)]
    cells = {
        (year, month): text
        for year, row in zip(heatmap.y, heatmap.text, strict=True)
        for month, text in zip(heatmap.x, row, strict=True)
    }
    assert set(cells) == {(y, m) for y in ("2023", "2024") for m in ("Jan", "Feb", "Nov", "Dec")}
    assert {k: v for k, v in cells.items() if v == ""} == {
        ("2023", "Jan"): "",
        ("2023", "Feb"): "",
        ("2024", "Nov"): "",
        ("2024", "Dec"): "",
    }
    assert cells[("2023", "Dec")] == "10.0%"
    assert cells[("2023", "Nov")] == cells[("2024", "Jan")] == cells[("2024", "Feb")] == "0.0%"
    assert not any(re.search("nan", str(t), re.I) for t in heatmap.text)
    assert heatmap.texttemplate == "%{text}"
