"""The order-rate cap: a sliding minute of submissions, refused beyond ``max_orders_per_minute``,
in the strategy of every world (a backtest here; paper in tests/live/test_safety.py)."""

from __future__ import annotations

import msgspec
import pandas as pd
import pytest

from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from strategies.order_rate import MINUTE_NS, OrderRateCap

SECOND = 1_000_000_000


def test_the_cap_admits_its_rate_and_refuses_beyond_it_until_the_minute_slides():
    cap = OrderRateCap(3)
    assert [cap.admit(t * SECOND) for t in (0, 10, 20)] == [None, None, None]
    refused = cap.admit(30 * SECOND)
    assert refused is not None and "max_orders_per_minute 3" in refused
    assert cap.admit(MINUTE_NS - 1) is not None  # the one at 0 s is still inside the minute
    assert cap.admit(MINUTE_NS) is None  # ... and now out of it; refusals were not counted
    assert cap.admit(MINUTE_NS + 1) is not None  # 10 s, 20 s and 60 s are in the window


def test_the_risk_engine_gets_the_same_rate():
    assert OrderRateCap(25).risk_engine_rate() == "25/00:01:00"
    assert pd.Timedelta("00:01:00").value == MINUTE_NS


def test_a_cap_below_one_is_refused_by_the_config():
    run = load_run_config(mode_file_path("btc_basis"))
    with pytest.raises(ValueError, match="max_orders_per_minute must be >= 1"):
        msgspec.structs.replace(run.strategy, max_orders_per_minute=0).__post_init__()


def max_per_minute(orders: pd.DataFrame) -> int:
    """The busiest sliding minute of ``orders`` (by their ``ts_init``), counted independently."""
    stamps = sorted(orders["ts_init"])
    return max(sum(1 for s in stamps if t - MINUTE_NS < s <= t) for t in stamps)


@pytest.mark.integration
def test_a_run_with_a_low_rate_cap_refuses_and_reports_its_orders(catalog_dir, tmp_path):
    run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-04")
    run.strategy = msgspec.structs.replace(run.strategy, max_orders_per_minute=2)
    result = run_backtest(run, catalog_dir, tmp_path / "out")
    orders = pd.read_csv(tmp_path / "out" / "orders.csv")
    denied = orders[orders["status"] == "DENIED"]
    assert len(denied) > 0
    assert max_per_minute(orders[orders["status"] != "DENIED"]) == 2  # what went out kept the cap
    rate_refusals = [r for r in result.summary["rejections"] if "max_orders_per_minute 2" in r]
    assert len(rate_refusals) == len(denied)
