"""``flatten_on_stop``: a stopped strategy closes every CEX leg — each perp's position, and the
spot coins each venue holds (read from the venue's balances, not from the fills' positions)."""

from __future__ import annotations

import msgspec
import pandas as pd
import pytest

from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import build_backtest

pytestmark = pytest.mark.integration


def _cex_positions(bt) -> dict[str, float]:
    wallet = bt.strategy.wallet_venue
    return {
        str(p.instrument_id): p.signed_qty
        for p in bt.engine.cache.positions_open()
        if p.instrument_id.venue != wallet
    }


def test_a_stopped_basis_strategy_closes_its_perps_and_sells_its_spot_coins(catalog_dir):
    run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-20")
    run.strategy = msgspec.structs.replace(run.strategy, flatten_on_stop=True)
    bt = build_backtest(run, catalog_dir)
    stop_at = pd.Timestamp("2024-06-10", tz="UTC")
    bt.engine.run(end=stop_at, streaming=True)
    held = _cex_positions(bt)
    assert len(held) == 6 and held["BTCUSDT.BINANCE_SPOT"] > 0 and held["BTCUSDT-PERP.BINANCE"] < 0
    equity = {venue: module.wallets().equity for venue, module in bt.cex_modules.items()}
    bt.strategy.stop()
    bt.engine.run(start=stop_at, end=stop_at + pd.Timedelta(hours=2), streaming=True)  # the venues fill
    try:
        assert bt.strategy.rejections == []
        for venue, module in bt.cex_modules.items():
            wallets = module.wallets()
            assert wallets.perps == (), venue
            # Binance took the buys' fees in BTC: what is left is less than one size increment,
            # which no order can sell (as on the exchange)
            for spot in wallets.spots:
                step = bt.engine.cache.instrument(spot.instrument_id).size_increment.as_double()
                assert spot.instrument_id.venue.value == "BINANCE_SPOT" and spot.qty < step
            # all cash now: the hedged book's value, less two hours of moves and the closing fees
            assert wallets.spot_cash + wallets.futures_wallet == pytest.approx(equity[venue], rel=0.005)
    finally:
        bt.engine.end()
        bt.engine.dispose()
