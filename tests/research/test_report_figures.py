"""Chart rules on made-up series: a long run's attribution is drawn at every n-th day's close but
always ends on the window's totals; margin ratios leave out hours without a perp."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio.attribution import CATEGORIES
from research.report.run_figures import MAX_BARS, attribution_figure, margin_figure
from research.report.run_folder import RunFolder

SUMMARY = {
    "mode": "btc_basis",
    "share_class": "USDT",
    "start": "2024-05-12T00:00:00+00:00",
    "end": "2025-09-18T00:00:00+00:00",
    "initial_nav": 100.0,
    "final_nav": 101.0,
    "attribution": {},
}


def _run(days: int, nav: pd.DataFrame | None = None) -> RunFolder:
    index = pd.date_range("2024-05-12", periods=days, freq="1D", tz="UTC")
    rng = np.random.default_rng(7)
    attribution = pd.DataFrame(0.0, index=index, columns=list(CATEGORIES))
    attribution["funding"] = rng.uniform(0, 20, days)
    attribution["trading_fees"] = -rng.uniform(0, 3, days)
    attribution["price_pnl"] = rng.normal(0, 5, days)
    hours = pd.date_range("2024-05-12", periods=4, freq="1h", tz="UTC")
    nav = nav if nav is not None else pd.DataFrame({"nav": 1.0, "flow": 0.0}, index=hours)
    return RunFolder(Path("run"), SUMMARY, {}, nav, attribution, None)


@pytest.mark.parametrize("days", [5, MAX_BARS, MAX_BARS + 1, 495])
def test_attribution_bars_are_at_most_the_limit_and_end_on_the_totals(days):
    run = _run(days)
    fig = attribution_figure(run)
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert set(bars) == {"funding", "trading_fees", "price_pnl"}  # categories never used are left out
    for name, bar in bars.items():
        assert len(bar.y) <= MAX_BARS and (days > MAX_BARS or len(bar.y) == days)
        assert bar.y[-1] == pytest.approx(run.attribution[name].sum())
        assert bar.x[-1] == np.datetime64(run.attribution.index[-1].tz_localize(None))
        steps = np.diff(bar.x.astype("datetime64[D]").astype(int))
        assert len(set(steps)) == 1  # evenly spaced
    (total,) = [t for t in fig.data if t.name == "total P&L"]
    assert total.y[-1] == pytest.approx(run.attribution.to_numpy().sum())


def test_margin_ratios_skip_hours_without_a_perp_and_a_wiped_margin():
    hours = pd.date_range("2024-05-12", periods=5, freq="1h", tz="UTC")
    nav = pd.DataFrame(
        {
            "nav": 1.0,
            "flow": 0.0,
            "margin_ratio_binance": [0.0, 0.05, math.inf, 0.07, 0.0],
            "margin_ratio_okx": 0.0,  # never held a perp
        },
        index=hours,
    )
    fig = margin_figure([_run(3, nav)])
    (binance,) = fig.data
    assert binance.name == "BINANCE"
    assert [None if math.isnan(v) else v for v in binance.y] == [None, 0.05, None, 0.07, None]
