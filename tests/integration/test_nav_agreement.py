"""The strategy decides on the same NAV the accounting reports: one valuation of the book (wallet
tokens, transfers in flight, every venue's equity), checked at every hourly sample of real runs."""

from __future__ import annotations

import pandas as pd
import pytest

from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "mode", ["btc_basis", "usdt_eth_staking_hedged_simple", "eth_leveraged", "ml_btc_directional_btc_margin"]
)
def test_the_strategys_nav_equals_the_accountings_at_every_sample(mode, catalog_dir, built_signals):
    catalog = built_signals[0] if mode.startswith("ml_") else catalog_dir
    run = load_run_config(mode_file_path(mode), start="2024-06-01", end="2024-06-08")
    bt = build_backtest(run, catalog)
    seen: list[tuple[float, float]] = []
    sample = bt.accounting.sample

    def sample_and_compare(ts: int) -> None:
        sample(ts)
        if ts >= run.start.value:  # the opening book is sampled before any price exists
            seen.append((bt.accounting.rows[-1]["nav"], bt.strategy.nav_estimate()))

    bt.accounting.sample = sample_and_compare
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    assert len(seen) == 7 * 24 + 1
    in_flight_hours = sum(row["in_flight_usdt"] != 0 for row in bt.accounting.rows)
    for reported, estimated in seen:
        assert estimated == pytest.approx(reported, rel=1e-9, abs=1e-9)
    if mode == "btc_basis":
        assert in_flight_hours > 0  # deposits were in flight at some samples: they count in both
    bt.engine.dispose()
