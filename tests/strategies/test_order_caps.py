"""Notional caps: what the strategy refuses to send, and that the defaults never bind at the modes'
default capital (every backtest elsewhere in the suite runs with them)."""

from __future__ import annotations

import msgspec
import pytest
from nautilus_trader.model.enums import OrderSide

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import venue_instruments
from adapters.defi.web3.limits import SendLimits
from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from strategies.order_caps import OrderCaps, usd_notional


def _instrument(venue: str, symbol: str):
    return next(i for iid, (_, i) in venue_instruments(load_cex_venue(venue)).items() if str(iid) == symbol)


PERP = _instrument("BINANCE", "BTCUSDT-PERP.BINANCE")
INVERSE = _instrument("BINANCE", "BTCUSD-PERP.BINANCE")
OKX_SWAP = _instrument("OKX", "BTC-USDT-SWAP.OKX")


def test_notional_counts_contracts_multipliers_and_inverse_face_value():
    assert usd_notional(PERP, 2.0, 50_000.0) == pytest.approx(100_000.0)
    assert usd_notional(OKX_SWAP, 200.0, 50_000.0) == pytest.approx(100_000.0)  # 0.01 BTC contracts
    assert usd_notional(INVERSE, 1_000.0, 50_000.0) == pytest.approx(100_000.0)  # 100 USD contracts


def test_an_order_beyond_the_order_cap_is_refused():
    caps = OrderCaps(max_order_usd=100_000.0, max_position_usd=1e9)
    assert caps.breach(PERP, OrderSide.SELL, 2.0, 0.0, 50_000.0) is None
    reason = caps.breach(PERP, OrderSide.SELL, 2.1, 0.0, 50_000.0)
    assert (
        reason is not None and "105,000 USD notional" in reason and "max_order_notional_usd 100,000" in reason
    )


def test_the_position_cap_stops_growth_but_never_a_reduction():
    caps = OrderCaps(max_order_usd=1e9, max_position_usd=150_000.0)
    assert caps.breach(PERP, OrderSide.SELL, 1.1, -2.0, 50_000.0) is not None  # -3.1 BTC: 155k short
    assert caps.breach(PERP, OrderSide.SELL, 0.9, -2.0, 50_000.0) is None
    assert caps.breach(PERP, OrderSide.BUY, 1.0, -5.0, 50_000.0) is None  # reduces an oversized short


def test_a_run_with_a_low_cap_refuses_and_reports_its_orders(catalog_dir, tmp_path):
    run = load_run_config(mode_file_path("btc_basis"), start="2024-06-01", end="2024-06-08")
    run.strategy = msgspec.structs.replace(run.strategy, max_order_notional_usd=10_000.0)
    result = run_backtest(run, catalog_dir, tmp_path / "out")
    assert result.summary["rejection_count"] > 0
    assert all("max_order_notional_usd 10,000" in r for r in result.summary["rejections"])
    fills = (tmp_path / "out" / "fills.csv").read_text()
    assert "-PERP.BINANCE" not in fills  # no Binance order was small enough to go through


def test_impossible_caps_are_refused_by_the_config():
    run = load_run_config(mode_file_path("btc_basis"))
    with pytest.raises(ValueError, match="max_order_notional_usd and max_position_notional_usd must be > 0"):
        msgspec.structs.replace(run.strategy, max_position_notional_usd=0.0).__post_init__()


def test_on_chain_limits_come_from_the_mode_yaml_and_must_be_positive():
    run = load_run_config(mode_file_path("pure_lending_usdt"))
    assert run.strategy.send_limits == SendLimits()  # the mode YAML leaves the defaults
    leveraged = load_run_config(mode_file_path("eth_leveraged")).strategy.send_limits
    assert leveraged == SendLimits(max_tx_value_usd=2_500_000.0)  # raised on purpose in its YAML
    raised = msgspec.structs.replace(run.strategy, max_tx_value_usd=1e6, max_daily_gas_eth=2.0)
    assert raised.send_limits == SendLimits(max_tx_value_usd=1e6, max_daily_gas_eth=2.0)
    with pytest.raises(ValueError, match="max_tx_value_usd and max_daily_gas_eth must be > 0"):
        msgspec.structs.replace(run.strategy, max_daily_gas_eth=0.0).__post_init__()
