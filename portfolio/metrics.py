"""Return and risk statistics from an hourly NAV series with investor flows.

Returns are time-weighted (each hour's return excludes that hour's deposits and withdrawals), so
a subscription is not mistaken for performance. Sharpe, Sortino, volatility and drawdown use
Nautilus' own statistics on daily returns, annualised over 365 days (crypto trades every day).
"""

from __future__ import annotations

import math

import pandas as pd
from nautilus_trader.analysis import MaxDrawdown, ReturnsVolatility, SharpeRatio, SortinoRatio

DAYS_PER_YEAR = 365


def hourly_returns(nav: pd.Series, flow: pd.Series) -> pd.Series:
    """Time-weighted hourly returns: (NAV_t − flow_t) / NAV_{t−1} − 1."""
    previous = nav.shift(1)
    returns = (nav - flow) / previous - 1
    return returns.iloc[1:].where(previous.iloc[1:] > 0, 0.0)


def daily_returns(hourly: pd.Series) -> pd.Series:
    """Compound hourly returns into calendar-day (UTC) returns."""
    return (1 + hourly).resample("1D").prod() - 1


def _as_nautilus(returns: pd.Series) -> dict[int, float]:
    return {int(ts.value): float(r) for ts, r in returns.items()}


def performance(nav: pd.Series, flow: pd.Series) -> dict[str, float | None]:
    """Total return, APY, annual volatility, Sharpe, Sortino and max drawdown of a NAV series."""
    if len(nav) < 2:
        raise ValueError("need at least two NAV samples to compute returns")
    hourly = hourly_returns(nav, flow)
    total = float((1 + hourly).prod() - 1)
    days = (nav.index[-1] - nav.index[0]).total_seconds() / 86_400
    apy = (1 + total) ** (DAYS_PER_YEAR / days) - 1 if days > 0 and total > -1 else None
    daily = _as_nautilus(daily_returns(hourly))
    equity = (1 + hourly).cumprod()
    return {
        "total_return": total,
        "apy": apy,
        "annual_volatility": _finite(ReturnsVolatility(DAYS_PER_YEAR).calculate_from_returns(daily)),
        "sharpe": _finite(SharpeRatio(DAYS_PER_YEAR).calculate_from_returns(daily)),
        "sortino": _finite(SortinoRatio(DAYS_PER_YEAR).calculate_from_returns(daily)),
        "max_drawdown": float(min(0.0, (equity / equity.cummax() - 1).min())),
        "max_drawdown_daily": _finite(MaxDrawdown().calculate_from_returns(daily)),
        "days": days,
    }


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
