"""End to end on the fake venues: ``run_live.py``'s node (``live/trading.py``: Nautilus' own Binance,
Bybit and OKX clients, Redis, the hour clock, the predictor, the accounting, the ccxt services)
trades replayed hours against the fake exchanges (``fakevenues/``), which serve the recorded prices
and fill at them; its orders and fills are those of a backtest of the same hours, and the book it
reads from the venues' reports is worth the backtest's NAV.

Three runs, each with the mode's capital already on the venues (``capital_source: venues``, the
live requirement); each test steps the fakes one hour at a time and waits for the strategy to have
acted on that hour (and its plan to be done) before the next:

- btc_basis split between Bybit and OKX, both unified accounts: no transfer is needed;
- btc_basis on all three exchanges with the YAML's split: Binance classic needs a spot → USDT-M
  transfer, sent by the ccxt transfer service to the fake Binance wallet;
- ml_btc_directional_usdt_margin on the fake Binance: the predictor on the catalog's saved model
  makes the calls from the streamed bars, the strategy enters, its stop-loss fills.

The two Binance tests run in an interpreter of their own, the live node before the backtest
(``fresh_process``: a backtest earlier in the process makes a live Binance spot account count every
fill twice).
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
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import Currency
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import venue_instruments
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
HOURS = 24
CAPITAL = 100_000.0
ALLOCATION = {"BYBIT": 0.5, "OKX": 0.5}
KEYS = {
    "BYBIT_TESTNET_API_KEY": "FAKE-E2E-BYBIT-KEY",
    "BYBIT_TESTNET_API_SECRET": "FAKE-E2E-BYBIT-SECRET",
    "OKX_API_KEY": "FAKE-E2E-OKX-KEY",
    "OKX_API_SECRET": "FAKE-E2E-OKX-SECRET",
    "OKX_API_PASSPHRASE": "FAKE-E2E-OKX-PASS",
}


def _mode_file(tmp_path: Path, allocation: dict[str, float] | None = ALLOCATION) -> Path:
    """btc_basis with its capital on the venues, split by ``allocation`` (None: the YAML's)."""
    raw = yaml.safe_load(mode_file_path("btc_basis").read_text())
    raw["capital"] = CAPITAL
    raw["strategy"]["capital_source"] = "venues"
    if allocation is not None:
        raw["strategy"]["hedge_allocation"] = allocation
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
@pytest.mark.parametrize("env", [LiveEnv.TESTNET, LiveEnv.SANDBOX])
def test_btc_basis_trades_on_the_fake_venues_as_its_backtest(catalog_dir, tmp_path, monkeypatch, env):
    """On testnet the fakes fill the orders; in sandbox they only stream the market data, and the
    project's venue simulations, stepped by it, fill them."""
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
    plan = plan_live(run, env, config_dir)
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
            if live.services is not None:
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
    # the book as the strategy reads it from the venues' reports, against the backtest's NAV; the
    # sandbox's simulations settle each funding after the entry (08:00, 16:00) at the rate the
    # fakes quoted for it (their latest recorded print, the one before), where the backtest pays
    # that time's own print
    quoted = _quoted_funding_difference(catalog_dir, expected) if env is LiveEnv.SANDBOX else 0.0
    assert nav == pytest.approx(backtest_nav + quoted, abs=1e-6)


def _quoted_funding_difference(catalog_dir: Path, fills: pd.DataFrame) -> float:
    """What the perps' shorts receive at each 8-hourly funding of the day after 00:00 at the
    previous print's rate rather than its own (USDT)."""
    catalog = ParquetDataCatalog(str(catalog_dir))
    last = DAY + pd.Timedelta(hours=HOURS - 1)
    total = 0.0
    for perp in ("BTCUSDT-LINEAR.BYBIT", "BTC-USDT-SWAP.OKX"):
        contracts = fills.loc[fills["instrument_id"] == perp, "last_qty"].sum()
        multiplier = catalog.instruments(instrument_ids=[perp])[0].multiplier.as_double()
        rates = {
            f.ts_event: float(f.rate)
            for f in catalog.funding_rates(instrument_ids=[perp], start=DAY, end=last)
        }
        for paid in (DAY + pd.Timedelta(hours=h) for h in range(8, HOURS, 8)):
            mark = catalog.bars(bar_types=[f"{perp}-1-HOUR-LAST-EXTERNAL"], start=paid, end=paid)[0].close
            quoted_rate = rates[(paid - pd.Timedelta(hours=8)).value]
            total += contracts * multiplier * mark.as_double() * (quoted_rate - rates[paid.value])
    return total


# -- ml_btc_directional_usdt_margin on the fake Binance (spot data + USDT-M) --------------------------

ML_MODE = "ml_btc_directional_usdt_margin"
ML_FIRST = pd.Timestamp("2025-09-23 05:00", tz="UTC")
"""The first hour the node and the backtest act on. The saved model is the last walk-forward
window's (bars from 2025-09-01): in it the backtest goes long on the 07:00 call of 2025-09-23 and
its stop-loss fills at 18:00 on the 25th (checked below on the backtest itself)."""
ML_HOURS = 62
ML_KEY, ML_SECRET = "FAKE-E2E-BINANCE-KEY", "FAKE-E2E-BINANCE-SECRET"
SPOT_ID = "BTCUSDT.BINANCE_SPOT"
PERP_ID = "BTCUSDT-PERP.BINANCE"


def _ml_mode_file(tmp_path: Path) -> Path:
    raw = yaml.safe_load(mode_file_path(ML_MODE).read_text())
    raw["capital"] = CAPITAL
    raw["strategy"]["capital_source"] = "venues"
    path = tmp_path / f"{ML_MODE}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _binance_fake(account, catalog_dir: Path, start_ns: int, balances: dict[str, str], api_key: str = ML_KEY):
    """A started fake Binance ``account`` with binance.yaml's BTC instrument of its kind, the
    recorded history from ten days before ``start_ns`` (the predictor's warm-up) to the end."""
    from fakevenues.binance import FakeBinance
    from fakevenues.market import HOUR_NS, RecordedPrices, VenueMarket, listed_instruments

    listed = [
        i for i in listed_instruments("BINANCE") if i.spec.kind == account.kind and i.spec.base == "BTC"
    ]
    prices = RecordedPrices.from_catalog(
        catalog_dir, [i.id for i in listed], start_ns - 240 * HOUR_NS, start_ns + (ML_HOURS + 2) * HOUR_NS
    )
    market = VenueMarket(listed, prices, start_ns, {a: Decimal(v) for a, v in balances.items()})
    return FakeBinance(account, market, api_key).start()


def _ml_session(catalog_dir: Path, tmp_path: Path) -> dict:
    """The live node of ml_btc_directional_usdt_margin against the fake Binance spot (data) and
    USDT-M (data, orders, the 100,000 USDT margin), ``ML_HOURS`` hours from ``ML_FIRST``; writes
    what it did.

    ``plan_live`` gives the predictor a data client for Binance spot (the basis features read the
    spot close; the strategy's own data needs are the perp only) and the funding history its
    warm-up requests (Nautilus 1.231's Binance client answers no funding request:
    ``live/binance_data.py``). The predictor and the strategy measure time on the fakes' clock
    (they replay 2025 to a node on today's clock)."""
    from adapters.signals import SignalPrediction
    from fakevenues.binance import BinanceAccount
    from signals.predictor import SignalPredictor

    start_ns = (ML_FIRST - pd.Timedelta(hours=1)).value
    spot = _binance_fake(BinanceAccount.SPOT, catalog_dir, start_ns, {})
    futures = _binance_fake(BinanceAccount.USDT_FUTURES, catalog_dir, start_ns, {"USDT": str(CAPITAL)})
    config_dir = venue_config_dir(
        tmp_path, {"BINANCE_SPOT": spot.endpoints(), "BINANCE": futures.endpoints()}
    )
    transfers = _transfers_config(tmp_path, {"BINANCE": futures.server.http_url})
    run = load_run_config(_ml_mode_file(tmp_path), venue_config_dir=config_dir)
    plan = plan_live(run, LiveEnv.MAINNET, config_dir)
    assert [v.venue for v in plan.venues if v.exec_config is None] == ["BINANCE_SPOT"]  # data only
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    calls: list = []
    with local_redis() as redis:
        live = build_live_node(
            run,
            plan,
            redis,
            catalog_dir,
            tmp_path / "state",
            "WARNING",
            transfers,
            print_line=print,
            loop=loop,
        )
        node, strategy = live.node, live.strategy
        (predictor,) = [a for a in node.trader.actors() if isinstance(a, SignalPredictor)]
        venue_now = lambda: futures.market.now_ns  # noqa: E731
        strategy.use_venue_time(venue_now)
        predictor.use_venue_time(venue_now)
        node.kernel.msgbus.subscribe("data.SignalPrediction*", lambda data: calls.append(data))
        cache = node.kernel.cache

        def settled() -> bool:
            return not strategy.plans.busy and not cache.orders_inflight(strategy_id=strategy.id)

        async def session() -> None:
            await node.kernel.start_async()
            assert node.kernel.trader.is_running
            await _until(
                "the kline subscriptions",
                lambda: (
                    "btcusdt@kline_1h" in spot.market_streams and "btcusdt@kline_1h" in futures.market_streams
                ),
            )
            await _until("the predictor's warm-up", lambda: not predictor._pending_requests, timeout=60)
            assert predictor.features is not None and predictor.features.warm
            for hour in range(ML_HOURS):
                closing = (ML_FIRST + pd.Timedelta(hours=hour)).value
                await loop.run_in_executor(None, spot.advance_hour)
                await _until(
                    f"the spot bar of {pd.Timestamp(closing, tz='UTC')}",
                    lambda closing=closing: closing in predictor.features._spot,
                )
                await loop.run_in_executor(None, futures.advance_hour)
                await _until(
                    f"the strategy acting on {pd.Timestamp(closing, tz='UTC')}",
                    lambda closing=closing: strategy.hour == closing and settled(),
                )
            # the day ends flat: the stop-loss filled and its take-profit is canceled
            await _until(
                "no open order left",
                lambda: not cache.orders_open(strategy_id=strategy.id) and settled(),
            )
            wallet = futures.read(lambda m: m.balance("USDT").total)
            account = cache.account_for_venue(Venue("BINANCE"))
            usdt = Currency.from_str("USDT")
            try:
                await _until(
                    "the venue's last balance in the node",
                    lambda: account.balance_total(usdt).as_decimal() == round(wallet, 8),
                )
            except AssertionError as e:
                raise AssertionError(
                    f"{e}: the venue holds {wallet}, the node {account.balance_total(usdt)}"
                ) from None

        try:
            loop.run_until_complete(asyncio.wait_for(session(), 600))
            orders = [
                {
                    "instrument_id": str(o.instrument_id),
                    "order_side": o.side_string(),
                    "order_type": o.type_string(),
                    "last_qty": o.filled_qty.as_double(),
                    "last_px": o.avg_px,
                }
                for o in sorted(cache.orders(strategy_id=strategy.id), key=lambda o: o.ts_init)
                if o.status == OrderStatus.FILLED
            ]
            result = {
                "orders": orders,
                "canceled": [o.type_string() for o in cache.orders(strategy_id=strategy.id) if o.is_canceled],
                "nav": strategy.nav_estimate(),
                "venue_usdt": str(futures.read(lambda m: m.balance("USDT").total)),
                "calls": [SignalPrediction.to_dict(c) for c in calls],
                "actions": dict(strategy.actions),
                "rejections": len(strategy.rejections),
            }
        finally:
            if node.kernel.trader.is_running:
                loop.run_until_complete(node.kernel.stop_async())
            if live.services is not None:
                loop.run_until_complete(live.services.close())
            spot.stop()
            futures.stop()
            node.dispose()
    return result


@pytest.mark.fresh_process  # a live Binance node, before this test's backtest (see tests/conftest.py)
def test_ml_directional_trades_on_the_fake_binance_as_its_backtest(built_signals, tmp_path, monkeypatch):
    """The model's calls, the entry, its stop-loss and take-profit orders, the stop-loss fill and the
    NAV of the live node on the fake Binance equal the catalog's calls and the backtest's."""
    catalog, _ = built_signals
    monkeypatch.setenv("BINANCE_API_KEY", ML_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", ML_SECRET)
    (tmp_path / "live").mkdir()
    live = _ml_session(catalog, tmp_path / "live")

    last = ML_FIRST + pd.Timedelta(hours=ML_HOURS - 1)
    run = load_run_config(_ml_mode_file(tmp_path), start=str(ML_FIRST), end=str(last))
    result = run_backtest(run, catalog, tmp_path / "backtest")
    fills = pd.read_csv(result.out_dir / "fills.csv")
    expected = fills[["instrument_id", "order_side", "order_type", "last_qty", "last_px"]]
    # the day as the backtest trades it: a market entry, then its stop-loss fills
    assert list(expected["order_type"]) == ["MARKET", "STOP_MARKET"]
    ours = pd.DataFrame(live["orders"], columns=expected.columns)
    pd.testing.assert_frame_equal(ours, expected.reset_index(drop=True), check_dtype=False)
    assert live["canceled"] == ["LIMIT"]  # the take-profit, canceled by the stop-loss's fill
    assert live["actions"].get("go_long") == 1 and live["actions"].get("stop_loss") == 1
    assert live["rejections"] == 0
    assert live["nav"] == pytest.approx(result.summary["final_nav"], rel=1e-9)

    # every call the live predictor made equals the catalog's for that hour, bit for bit
    from signals.store import read_predictions

    catalog_calls = {p.ts_event: p for p in read_predictions(catalog, PERP_ID, ML_FIRST.value, last.value)}
    assert len(live["calls"]) == ML_HOURS == len(catalog_calls)
    for call in live["calls"]:
        recorded = catalog_calls[call["ts_event"]]
        assert (call["signal"], call["confidence"], call["sd"]) == (
            recorded.signal,
            recorded.confidence,
            recorded.sd,
        ), pd.Timestamp(call["ts_event"], tz="UTC")


# -- btc_basis on Binance (classic: spot and USDT-M), Bybit and OKX ---------------------------------

BASIS_KEYS = {
    "BYBIT_API_KEY": "FAKE-E2E-BYBIT-KEY",
    "BYBIT_API_SECRET": "FAKE-E2E-BYBIT-SECRET",
    "OKX_API_KEY": "FAKE-E2E-OKX-KEY",
    "OKX_API_SECRET": "FAKE-E2E-OKX-SECRET",
    "OKX_API_PASSPHRASE": "FAKE-E2E-OKX-PASS",
    "BINANCE_API_KEY": "FAKE-E2E-BINANCE-KEY",
    "BINANCE_API_SECRET": "FAKE-E2E-BINANCE-SECRET",
}
"""On the exchanges' main environments: Binance's testnet has no wallet API (ccxt: no sapi URL),
so no internal transfer; every URL points at a fake on 127.0.0.1."""


def _basis_session(catalog_dir: Path, tmp_path: Path) -> dict:
    """btc_basis' live node on the three fake exchanges, capital split as the YAML says (0.4 in
    Binance's spot account, 0.3 in each unified account), ``HOURS`` hours from ``DAY``; writes
    what it did. Binance's short needs margin in the USDT-M wallet: the
    strategy sends a spot → USDT-M transfer through the ccxt transfer service, whose client for
    Binance is pointed at the fake spot account linked to the fake USDT-M one (the exchange's
    wallet)."""
    from fakevenues.binance import BinanceAccount

    allocation = yaml.safe_load(mode_file_path("btc_basis").read_text())["strategy"]["hedge_allocation"]
    balances = {v: {"USDT": Decimal(str(CAPITAL * w))} for v, w in allocation.items()}
    start = DAY - pd.Timedelta(hours=1)
    bybit = FakeBybit(catalog_dir, start, HOURS + 1, BASIS_KEYS["BYBIT_API_KEY"], balances["BYBIT"])
    okx = FakeOKX(
        catalog_dir,
        start,
        HOURS + 1,
        BASIS_KEYS["OKX_API_KEY"],
        BASIS_KEYS["OKX_API_PASSPHRASE"],
        balances["OKX"],
    )
    spot = _binance_fake(
        BinanceAccount.SPOT,
        catalog_dir,
        start.value,
        {"USDT": str(balances["BINANCE"]["USDT"])},
        BASIS_KEYS["BINANCE_API_KEY"],
    )
    futures = _binance_fake(
        BinanceAccount.USDT_FUTURES,
        catalog_dir,
        start.value,
        {},
        BASIS_KEYS["BINANCE_API_KEY"],
    )
    spot.link_futures(futures)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(bybit.start())
    loop.run_until_complete(okx.start())
    endpoints = {
        "BYBIT": bybit.endpoints(),
        "OKX": okx.endpoints(),
        "BINANCE_SPOT": spot.endpoints(),
        "BINANCE": futures.endpoints(),
    }
    config_dir = venue_config_dir(tmp_path, endpoints)
    transfers = _transfers_config(
        tmp_path,
        {"BYBIT": bybit.server.http_url, "OKX": okx.server.http_url, "BINANCE": spot.server.http_url},
    )
    run = load_run_config(_mode_file(tmp_path, None), venue_config_dir=config_dir)
    plan = plan_live(run, LiveEnv.MAINNET, config_dir)
    with local_redis() as redis:
        live = build_live_node(
            run,
            plan,
            redis,
            catalog_dir,
            tmp_path / "state",
            "WARNING",
            transfers,
            print_line=print,
            loop=loop,
        )
        node, strategy = live.node, live.strategy
        venue_now = lambda: bybit.market.now.value  # noqa: E731
        strategy.use_venue_time(venue_now)
        assert live.services is not None
        live.services.transfers.use_venue_time(lambda: venue_now() // 1_000_000)

        def subscribed() -> bool:
            bybit_klines = [
                any(t.startswith("kline") for t in bybit.subscriptions(f"/v5/public/{category}"))
                for category in ("spot", "linear")
            ]
            okx_candles = {dict(c).get("instId") for c in okx.subscriptions("/ws/v5/business")}
            binance = (
                "btcusdt@kline_1h" in spot.market_streams and "btcusdt@kline_1h" in futures.market_streams
            )
            return all(bybit_klines) and {"BTC-USDT", "BTC-USDT-SWAP"} <= okx_candles and binance

        async def session() -> None:
            await node.kernel.start_async()
            assert node.kernel.trader.is_running
            await _until("the strategy's bar subscriptions on the fakes", subscribed)
            for hour in range(HOURS):
                await bybit.step()
                await okx.step()
                await loop.run_in_executor(None, spot.advance_hour)
                await loop.run_in_executor(None, futures.advance_hour)
                closing = (DAY + pd.Timedelta(hours=hour)).value
                await _until(
                    f"the strategy acting on {pd.Timestamp(closing, tz='UTC')}",
                    lambda closing=closing: strategy.hour == closing and not strategy.plans.busy,
                    timeout=60,
                )

        try:
            loop.run_until_complete(asyncio.wait_for(session(), 600))
            cache = node.kernel.cache
            result = {
                "orders": [
                    {
                        "instrument_id": str(o.instrument_id),
                        "order_side": o.side_string(),
                        "last_qty": o.filled_qty.as_double(),
                        "last_px": o.avg_px,
                    }
                    for o in sorted(cache.orders(strategy_id=strategy.id), key=lambda o: o.ts_init)
                    if o.status == OrderStatus.FILLED
                ],
                "nav": strategy.nav_estimate(),
                "transfers": spot.transfers,
                "binance_spot_btc": str(spot.read(lambda m: m.balance("BTC").total)),
                "futures_usdt": str(futures.read(lambda m: m.balance("USDT").total)),
                "actions": dict(strategy.actions),
                "rejections": len(strategy.rejections),
            }
        finally:
            if node.kernel.trader.is_running:
                loop.run_until_complete(node.kernel.stop_async())
            if live.services is not None:
                loop.run_until_complete(live.services.close())
            loop.run_until_complete(bybit.stop())
            loop.run_until_complete(okx.stop())
            spot.stop()
            futures.stop()
            node.dispose()
    return result


@pytest.mark.fresh_process  # a live Binance node, before this test's backtest (see tests/conftest.py)
def test_btc_basis_trades_on_all_three_fake_exchanges_as_its_backtest(catalog_dir, tmp_path, monkeypatch):
    """btc_basis with the YAML's split (0.4 Binance, 0.3 Bybit, 0.3 OKX): the live node's fills,
    its Binance spot → USDT-M transfer and its NAV equal the backtest's."""
    for name, value in BASIS_KEYS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "live").mkdir()
    live = _basis_session(catalog_dir, tmp_path / "live")
    mode_file = _mode_file(tmp_path, None)
    expected, backtest_nav = _backtest(mode_file, catalog_dir, tmp_path / "backtest")
    assert set(expected["instrument_id"]) == {
        "BTCUSDT.BINANCE_SPOT",
        "BTCUSDT-PERP.BINANCE",
        "BTCUSDT-SPOT.BYBIT",
        "BTCUSDT-LINEAR.BYBIT",
        "BTC-USDT.OKX",
        "BTC-USDT-SWAP.OKX",
    }
    ours = pd.DataFrame(live["orders"], columns=expected.columns)
    key = ["instrument_id", "order_side"]
    pd.testing.assert_frame_equal(
        ours.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    assert live["actions"]["entry_full"] == 1 and live["rejections"] == 0

    # Binance takes a spot buy's fee in the coin bought, the fake as the backtest's venue
    # (`spot_fee_currency: received`): the spot account holds the fee's BTC less than the order's
    # quantity, and the USDT left to move to the USDT-M wallet and the NAV are the backtest's.
    fills = pd.read_csv(tmp_path / "backtest" / "fills.csv")
    (spot_fill,) = fills[fills["instrument_id"] == "BTCUSDT.BINANCE_SPOT"].to_dict("records")
    spec = venue_instruments(load_cex_venue("BINANCE"))[InstrumentId.from_str("BTCUSDT.BINANCE_SPOT")][0]
    bought = Decimal(str(spot_fill["last_qty"]))
    assert Decimal(live["binance_spot_btc"]) == bought - bought * Decimal(spec.taker_fee)
    assert spot_fill["commission"] == f"{bought * Decimal(spec.taker_fee):.8f} BTC"
    transfers = pd.read_csv(tmp_path / "backtest" / "transfers.csv")
    (moved,) = transfers[transfers["status"] == "arrived"]["amount"]
    (transfer,) = live["transfers"]
    assert transfer["type"] == "MAIN_UMFUTURE"
    assert Decimal(transfer["amount"]) == Decimal(str(moved))
    assert live["nav"] == pytest.approx(backtest_nav, rel=1e-9)
