"""End to end on the fake venues: ``run_live.py``'s node (``live/trading.py``: Nautilus' own Bybit
and OKX clients, Redis, the hour clock, the accounting, the ccxt services) trades btc_basis over a
replayed day against the fake Bybit and OKX (``fakevenues/``), which serve the recorded prices and
fill at them; its orders and fills are those of a backtest of the same day, and the book it reads
from the venues' reports is worth the backtest's NAV.

The mode is btc_basis with its capital already on the venues (``capital_source: venues``, the
live requirement) split between Bybit and OKX, both unified accounts: no transfer is needed. The
test steps the fakes one hour at a time and waits for the strategy to have acted on that hour
and for its plan to be done before the next.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from nautilus_trader.model.enums import OrderStatus

from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from fakevenues.bybit import FakeBybit
from fakevenues.okx import FakeOKX
from live.environments import LiveEnv
from live.redis_state import local_redis
from live.trading import build_live_node
from live.transfers.config import TRANSFERS_CONFIG
from live.venues import plan_live
from tests.live.venue_configs import venue_config_dir

pytestmark = pytest.mark.integration

DAY = pd.Timestamp("2024-06-01", tz="UTC")
HOURS = 12
CAPITAL = 100_000.0
ALLOCATION = {"BYBIT": 0.5, "OKX": 0.5}
KEYS = {
    "BYBIT_TESTNET_API_KEY": "FAKE-E2E-BYBIT-KEY",
    "BYBIT_TESTNET_API_SECRET": "FAKE-E2E-BYBIT-SECRET",
    "OKX_API_KEY": "FAKE-E2E-OKX-KEY",
    "OKX_API_SECRET": "FAKE-E2E-OKX-SECRET",
    "OKX_API_PASSPHRASE": "FAKE-E2E-OKX-PASS",
}


def _mode_file(tmp_path: Path) -> Path:
    raw = yaml.safe_load(mode_file_path("btc_basis").read_text())
    raw["capital"] = CAPITAL
    raw["strategy"].update(capital_source="venues", hedge_allocation=ALLOCATION)
    path = tmp_path / "btc_basis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _transfers_config(tmp_path: Path, urls: dict[str, str]) -> Path:
    """The transfer service's YAML with every exchange's ccxt client on its fake."""
    raw = yaml.safe_load(TRANSFERS_CONFIG.read_text())
    for exchange, url in urls.items():
        raw["exchanges"][exchange]["base_url"] = url
    path = tmp_path / "transfers.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _backtest(mode_file: Path, catalog_dir: Path, out: Path) -> tuple[pd.DataFrame, float]:
    """The same day's backtest: its fills, and its NAV at the last hour."""
    run = load_run_config(mode_file, start=str(DAY), end=str(DAY + pd.Timedelta(hours=HOURS - 1)))
    result = run_backtest(run, catalog_dir, out)
    fills = pd.read_csv(result.out_dir / "fills.csv")
    return fills[["instrument_id", "order_side", "last_qty", "last_px"]], result.summary["final_nav"]


async def _until(what: str, predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.fresh_process  # a live node (see tests/conftest.py)
def test_btc_basis_trades_on_the_fake_venues_as_its_backtest(catalog_dir, tmp_path, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    mode_file = _mode_file(tmp_path)
    expected, backtest_nav = _backtest(mode_file, catalog_dir, tmp_path / "backtest")
    assert len(expected) >= 4  # both legs on both venues at entry

    # the fakes' clock starts an hour before the day: their first step closes its first hour
    balances = {v: {"USDT": Decimal(str(CAPITAL * w))} for v, w in ALLOCATION.items()}
    start = DAY - pd.Timedelta(hours=1)
    bybit = FakeBybit(catalog_dir, start, HOURS + 1, KEYS["BYBIT_TESTNET_API_KEY"], balances["BYBIT"])
    okx = FakeOKX(
        catalog_dir, start, HOURS + 1, KEYS["OKX_API_KEY"], KEYS["OKX_API_PASSPHRASE"], balances["OKX"]
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(bybit.start())
    loop.run_until_complete(okx.start())
    config_dir = venue_config_dir(tmp_path, {"BYBIT": bybit.endpoints(), "OKX": okx.endpoints()})
    transfers = _transfers_config(tmp_path, {"BYBIT": bybit.server.http_url, "OKX": okx.server.http_url})
    run = load_run_config(mode_file, venue_config_dir=config_dir)
    plan = plan_live(run, LiveEnv.TESTNET, config_dir)
    lines: list[str] = []
    with local_redis() as redis:
        live = build_live_node(
            run,
            plan,
            redis,
            catalog_dir,
            tmp_path / "state",
            "WARNING",
            transfers,
            print_line=lines.append,
            loop=loop,
        )
        node, strategy = live.node, live.strategy
        # the fakes replay 2024 to a node on today's clock: the venues' time is the fakes' (what
        # the strategy measures its feeds' ages and its order rate on; live the two are the same)
        strategy.use_venue_time(lambda: bybit.market.now.value)

        def klines_subscribed() -> bool:
            bybit_klines = [
                any(t.startswith("kline") for t in bybit.subscriptions(f"/v5/public/{category}"))
                for category in ("spot", "linear")
            ]
            okx_candles = {dict(c).get("instId") for c in okx.subscriptions("/ws/v5/business")}
            return all(bybit_klines) and {"BTC-USDT", "BTC-USDT-SWAP"} <= okx_candles

        async def session() -> None:
            await node.kernel.start_async()
            assert node.kernel.trader.is_running
            await _until("the strategy's bar subscriptions on the fakes", klines_subscribed)
            for hour in range(HOURS):
                await bybit.step()
                await okx.step()
                closing = (DAY + pd.Timedelta(hours=hour)).value
                await _until(
                    f"the strategy acting on {pd.Timestamp(closing, tz='UTC')}",
                    lambda closing=closing: strategy.hour == closing and not strategy.plans.busy,
                )

        try:
            loop.run_until_complete(asyncio.wait_for(session(), 240))
            orders = [
                o for o in node.kernel.cache.orders(strategy_id=strategy.id) if o.status == OrderStatus.FILLED
            ]
            nav = strategy.nav_estimate()
        finally:
            if node.kernel.trader.is_running:
                loop.run_until_complete(node.kernel.stop_async())
            loop.run_until_complete(live.services.close())
            loop.run_until_complete(bybit.stop())
            loop.run_until_complete(okx.stop())
            node.dispose()

    ours = pd.DataFrame(
        [
            (str(o.instrument_id), o.side_string(), o.filled_qty.as_double(), o.avg_px)
            for o in sorted(orders, key=lambda o: o.ts_init)
        ],
        columns=["instrument_id", "order_side", "last_qty", "last_px"],
    )
    key = ["instrument_id", "order_side"]
    pd.testing.assert_frame_equal(
        ours.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    assert strategy.actions["entry_full"] == 1 and not strategy.rejections
    # the book as the strategy reads it from the venues' reports, against the backtest's NAV
    assert nav == pytest.approx(backtest_nav, rel=1e-9)
