"""Time-weighted returns and risk statistics from an hourly NAV with investor flows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio.metrics import daily_returns, hourly_returns, performance


def _series(values: list[float], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="1h", tz="UTC"))


def test_deposits_are_not_returns():
    nav = _series([100.0, 101.0, 201.0, 203.01])
    flow = _series([0.0, 0.0, 100.0, 0.0])
    returns = hourly_returns(nav, flow)
    assert returns.tolist() == pytest.approx([0.01, 0.0, 0.01])
    perf = performance(nav, flow)
    assert perf["total_return"] == pytest.approx(1.01 * 1.0 * 1.01 - 1)


def test_withdrawal_of_everything_ends_the_return_series_cleanly():
    nav = _series([100.0, 102.0, 0.0])
    flow = _series([0.0, 0.0, -102.0])
    assert hourly_returns(nav, flow).tolist() == pytest.approx([0.02, 0.0])


def test_apy_volatility_and_drawdown_against_independent_formulas():
    rng = np.random.default_rng(7)
    hourly = rng.normal(0.00001, 0.0002, 24 * 200)
    nav = _series(list(100.0 * np.cumprod(np.concatenate([[1.0], 1 + hourly]))))
    perf = performance(nav, nav * 0.0)
    total = float(np.prod(1 + hourly) - 1)
    days = (len(hourly)) / 24
    assert perf["total_return"] == pytest.approx(total)
    assert perf["apy"] == pytest.approx((1 + total) ** (365 / days) - 1)
    daily = daily_returns(hourly_returns(nav, nav * 0.0))
    assert perf["annual_volatility"] == pytest.approx(daily.std() * np.sqrt(365), rel=1e-6)
    assert perf["sharpe"] == pytest.approx(daily.mean() / daily.std() * np.sqrt(365), rel=1e-6)
    equity = np.cumprod(1 + hourly)
    assert perf["max_drawdown"] == pytest.approx(
        min(0.0, float(np.min(equity / np.maximum.accumulate(equity) - 1)))
    )


def test_needs_two_samples():
    with pytest.raises(ValueError, match="two NAV samples"):
        performance(_series([100.0]), _series([0.0]))
