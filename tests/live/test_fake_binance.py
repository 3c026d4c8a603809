"""Nautilus 1.231's own Binance clients trading against the fake Binance (``fakevenues/binance.py``).

The node is the project's live node (``live/venues.py`` ``plan_live`` + ``live/node_config.py``) for
the Binance venues of a mode, pointed at the fakes through a venue config folder whose
``binance.yaml`` carries a ``live:`` section, with fake keys in ``BINANCE_API_KEY`` /
``BINANCE_API_SECRET`` (``--env mainnet`` is the Binance environment whose every URL a config can
override; nothing leaves 127.0.0.1). Spot (``BINANCE_SPOT``) and USDT-M (``BINANCE``) run together as
btc_basis trades them; COIN-M is ml_btc_directional_btc_margin's venue. Each fake serves the real
history from the catalog, its clock starting at 2024-06-01 04:00 UTC; the test moves it hour by hour.

Per venue: connect and load exactly the project's instruments; bars (a history request and the
kline stream) with the recorded prices; the futures mark price turned into a ``FundingRateUpdate``
by ``live/funding.py``; a market order submitted → accepted → filled at the recorded close with the
YAML's taker fee (spot also a resting limit order filled at its price, maker fee, when the next
hour's low reaches it); the account's balances and the perp position as the fake holds them; the
venue's order, fill and position reports the client reconciles from; the 08:00 funding payment
arriving as a balance change; a refused order arriving as ``OrderRejected`` with Binance's code;
every WebSocket dropped at once: the clients reconnect, bars keep arriving and an order placed
afterwards fills through the new user stream; nothing the node prints holds the key or secret.
Without a node: signed routes refuse a missing or wrong key as Binance does, and ccxt's
``fetch_funding_history`` reads the funding payment from the fake's income history.

Each node scenario runs in a fresh interpreter (``_in_own_process``): a backtest earlier in the
same process registers its venues in Nautilus' ``AccountFactory`` as calculated accounts, for good
(1.231 has no deregistration), and a live ``BINANCE_SPOT`` account created afterwards applies every
fill to its balances itself on top of what the venue reports (seen in a full test run: 0.01998 BTC
held after a 0.00999 BTC fill). A process that runs a backtest and then a live node would do the
same.

What Nautilus 1.231's Binance adapter does, each seen here:

- The COIN-M instrument it builds is ``is_inverse=False`` with multiplier 1 and margin rates 1
  (hard-coded in ``futures/providers.py``), where the project's ``BTCUSD-PERP.BINANCE`` is an
  inverse perp of 100 USD contracts. The node's futures clients (``live/binance_exec.py``) load it
  with the venue YAML's contract terms: the test checks them on the node's instrument, and reads
  the short as the strategies do live (``shared_wallet_reader``): 100 USD per contract, notional,
  P&L and wallet in BTC, each equal to the venue's ``positionRisk`` and balance.
- Its data client has no funding-rate subscription (``subscribe_funding_rates`` raises
  ``NotImplementedError``): funding reaches the node only through the mark-price bridge.
- Kline stamps go through a float (``millis_to_nanos``): a bar closing at …:59:59.999 is stamped
  64 ns off; the test allows 1 µs.
- Futures reconciliation queries each traded symbol's trades twice: once under the cache's
  Nautilus symbol (``BTCUSDT-PERP``), once under the venue's (``BTCUSDT``), both sent as the same
  Binance symbol (``execution.py`` ``_get_cache_active_symbols`` + ``_get_binance_active_position_symbols``),
  so every fill is reported twice. After the user stream reconnects (a dropped connection, or any
  listenKey rotation) the client reconciles with that mass status and the execution engine books
  an ``EXTERNAL`` position opposite to the strategy's (seen: -0.010 + 0.010), so the node's net
  position on the instrument no longer equals the venue's. ``live/binance_exec.py``'s execution
  client asks each venue symbol once: the test checks that a mass status queries the trades once
  and reports each fill once, and that after the reconnect the node's net position is the venue's
  with no ``EXTERNAL`` position (both fail with the adapter's own client).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import ccxt
import pandas as pd
import pytest
from nautilus_trader.adapters.binance import BinanceLiveDataClientFactory, BinanceLiveExecClientFactory
from nautilus_trader.config import StrategyConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderStatus
from nautilus_trader.model.events import OrderAccepted, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.objects import Currency, Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.trading.strategy import Strategy

from adapters.bars import bar_type_for
from adapters.cex.config import CexInstrumentSpec, load_cex_venue
from adapters.cex.instruments import precision_of, venue_instruments
from adapters.cex.margin import shared_wallet_reader
from adapters.events import VenueLedger
from backtesting.config import load_run_config, mode_file_path
from fakevenues.binance import BinanceAccount, FakeBinance
from fakevenues.market import HOUR_NS, FundingPaid, RecordedPrices, VenueMarket, listed_instruments
from live.binance_exec import (
    BinanceFuturesDataClientFactory,
    BinanceFuturesExecClientFactory,
    ContractMismatch,
    ContractTerms,
    with_terms,
)
from live.environments import LiveEnv
from live.node_config import add_client_factories, node_config, risk_engine_config
from live.venues import LivePlan, plan_live
from tests.live.venue_configs import venue_config_dir

API_KEY = "fake-binance-key-0123456789"
API_SECRET = "fake-binance-secret-9876543210"
START = pd.Timestamp("2024-06-01 04:00", tz="UTC").value
"""The fakes' clock at start: four hours before the 08:00 funding."""
EIGHT = START + 4 * HOUR_NS
SPOT = InstrumentId.from_str("BTCUSDT.BINANCE_SPOT")
PERP = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
INVERSE = InstrumentId.from_str("BTCUSD-PERP.BINANCE")
WAIT_SECS = 15.0
PROJECT = Path(__file__).resolve().parents[2]


class ProbeConfig(StrategyConfig, frozen=True):
    instrument_ids: tuple[InstrumentId, ...]


class Probe(Strategy):
    """Records what the node delivers (streamed and requested bars, order events) and places the
    test's orders."""

    def __init__(self, config: ProbeConfig) -> None:
        super().__init__(config)
        self.bars: list[Bar] = []
        self.history: list[Bar] = []
        self.events: list = []

    def on_start(self) -> None:
        for instrument_id in self.config.instrument_ids:
            self.subscribe_bars(bar_type_for(instrument_id))

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)

    def on_historical_data(self, data) -> None:
        if isinstance(data, Bar):
            self.history.append(data)

    def on_event(self, event) -> None:
        self.events.append(event)

    def market(self, instrument_id: InstrumentId, side: OrderSide, quantity: str) -> str:
        order = self.order_factory.market(instrument_id, side, Quantity.from_str(quantity))
        self.submit_order(order)
        return order.client_order_id.value

    def limit(self, instrument_id: InstrumentId, side: OrderSide, quantity: str, price: Price) -> str:
        order = self.order_factory.limit(instrument_id, side, Quantity.from_str(quantity), price)
        self.submit_order(order)
        return order.client_order_id.value

    def of(self, client_order_id: str, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind) and e.client_order_id.value == client_order_id]


# -- the world: fakes, plan, node ------------------------------------------------------------------


def _spec(instrument_id: InstrumentId) -> CexInstrumentSpec:
    return venue_instruments(load_cex_venue("BINANCE"))[instrument_id][0]


def _spec_instrument(instrument_id: InstrumentId) -> CryptoPerpetual:
    """The project's definition of a Binance perp (``configs/venues/binance.yaml``)."""
    return venue_instruments(load_cex_venue("BINANCE"))[instrument_id][1]


def _fake(account: BinanceAccount, catalog_dir: Path, balances: dict[str, str]) -> FakeBinance:
    """A started fake of ``account`` with the BTC instrument of binance.yaml and ``balances``."""
    listed = [
        i for i in listed_instruments("BINANCE") if i.spec.kind == account.kind and i.spec.base == "BTC"
    ]
    prices = RecordedPrices.from_catalog(
        catalog_dir, [i.id for i in listed], START - 48 * HOUR_NS, START + 48 * HOUR_NS
    )
    market = VenueMarket(listed, prices, START, {a: Decimal(v) for a, v in balances.items()})
    return FakeBinance(account, market, API_KEY).start()


def _plan(mode: str, fakes: dict[str, FakeBinance], tmp_path: Path) -> LivePlan:
    """The mode's live plan with its Binance venues pointed at the fakes (a venue YAML override)."""
    config_dir = venue_config_dir(tmp_path, {venue: fake.endpoints() for venue, fake in fakes.items()})
    plan = plan_live(load_run_config(mode_file_path(mode)), LiveEnv.MAINNET, config_dir)
    return LivePlan(plan.env, [v for v in plan.venues if v.venue in fakes], plan.wallet_venue, ())


async def _until(what: str, check: Callable[[], object], timeout: float = WAIT_SECS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def _in_thread(fn: Callable[[], object]):
    """A blocking call to a fake (it runs in its own thread) without blocking the node's loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _run_node(plan: LivePlan, instrument_ids: tuple[InstrumentId, ...], scenario) -> None:
    """Build the plan's node with a probe strategy, run it, play ``scenario(node, probe)``, stop."""
    loop = asyncio.new_event_loop()
    # the per-order notional cap is set out of reach: the oversized orders must reach the venue,
    # whose own refusal is under test (the project's cap is tested in tests/live/test_venues.py)
    node = TradingNode(config=node_config(plan, 1e12, log_level="INFO"), loop=loop)
    add_client_factories(node, plan)
    node.build()
    probe = Probe(ProbeConfig(instrument_ids=instrument_ids))
    node.trader.add_strategy(probe)

    async def play() -> None:
        run = loop.create_task(node.run_async())
        try:
            kernel = node.kernel
            await _until(
                "the node to run and its clients to connect",
                lambda: (
                    node.trader.is_running
                    and kernel.data_engine.check_connected()
                    and kernel.exec_engine.check_connected()
                ),
                timeout=30,
            )
            await scenario(node, probe)
        finally:
            await node.stop_async()
            await asyncio.wait({run}, timeout=5)

    try:
        loop.run_until_complete(play())
    finally:
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]  # executor workers
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        node.dispose()  # closes the loop


# -- what the catalog says, read independently of the fakes -----------------------------------------


def _recorded(catalog_dir: Path, instrument_id: InstrumentId, ts_ns: int) -> Bar:
    """The catalog's bar closing at ``ts_ns``."""
    bars = ParquetDataCatalog(str(catalog_dir)).bars(
        bar_types=[str(bar_type_for(instrument_id))], start=ts_ns, end=ts_ns
    )
    assert len(bars) == 1, f"no recorded {instrument_id} bar at {ts_ns}"
    return bars[0]


def _recorded_funding(catalog_dir: Path, instrument_id: InstrumentId, ts_ns: int) -> Decimal:
    prints = ParquetDataCatalog(str(catalog_dir)).query(
        data_cls=FundingRateUpdate, identifiers=[str(instrument_id)], start=ts_ns, end=ts_ns
    )
    assert len(prints) == 1, f"no recorded {instrument_id} funding print at {ts_ns}"
    return Decimal(str(prints[0].rate))


def _reported(amount: Decimal) -> Decimal:
    """``amount`` at the 8 decimal places Binance reports balances and fees with."""
    return amount.quantize(Decimal("1e-8"))


def _balance(node: TradingNode, venue: Venue, currency: str) -> Decimal | None:
    account = node.kernel.cache.account_for_venue(venue)
    balance = account.balance(Currency.from_str(currency)) if account else None
    return balance.total.as_decimal() if balance else None


async def _until_balance(
    what: str, node: TradingNode, venue: Venue, currency: str, expected: Decimal
) -> None:
    """Wait for the node's ``venue`` account to hold ``expected`` ``currency`` (the failure shows
    every balance the account holds)."""
    try:
        await _until(what, lambda: _balance(node, venue, currency) == expected)
    except AssertionError as e:
        account = node.kernel.cache.account_for_venue(venue)
        held = (
            {str(b.currency): b.total.as_decimal() for b in account.balances().values()} if account else None
        )
        raise AssertionError(f"{e}: expected {expected} {currency}, the account holds {held}") from None


# -- the checks, shared by the venues -----------------------------------------------------------------


def _loads_the_projects_instruments(node: TradingNode, ids: tuple[InstrumentId, ...]) -> None:
    """The node holds the project's instruments: tick and step, and for a perp the contract terms
    of the venue YAML (``live/binance_exec.py`` sets them: 1.231 parses every Binance perp as linear,
    multiplier 1, margin rates 1)."""
    project = venue_instruments(load_cex_venue("BINANCE"))
    for instrument_id in ids:
        loaded = node.kernel.cache.instrument(instrument_id)
        assert loaded is not None, f"{instrument_id} not loaded"
        expected = project[instrument_id][1]
        assert (loaded.price_increment, loaded.size_increment) == (
            expected.price_increment,
            expected.size_increment,
        )
        if isinstance(expected, CryptoPerpetual):
            terms = ("is_inverse", "multiplier", "margin_init", "margin_maint", "maker_fee", "taker_fee")
            assert {t: getattr(loaded, t) for t in terms} == {t: getattr(expected, t) for t in terms}
            assert loaded.settlement_currency == expected.settlement_currency


async def _bars_stream_and_history(
    probe: Probe, fakes: list[FakeBinance], ids: tuple[InstrumentId, ...], catalog_dir: Path
) -> int:
    """One hour on, every instrument's kline arrives with the recorded prices, stamped at
    …:59:59.999 as Binance does; a history request returns the recorded hours. Returns the hour."""
    for fake in fakes:
        klines = {f"{fake.symbol(i).lower()}@kline_1h" for i in ids if i.venue.value == fake.account.venue}
        await _until("the kline subscriptions", lambda f=fake, k=klines: k <= f.market_streams)
        await _in_thread(fake.advance_hour)
    hour = START + HOUR_NS
    await _until(
        "a streamed bar of every instrument",
        lambda: {b.bar_type.instrument_id for b in probe.bars} >= set(ids),
    )
    for instrument_id in ids:
        streamed = next(b for b in probe.bars if b.bar_type.instrument_id == instrument_id)
        recorded = _recorded(catalog_dir, instrument_id, hour)
        assert (streamed.open, streamed.high, streamed.low, streamed.close, streamed.volume) == (
            recorded.open,
            recorded.high,
            recorded.low,
            recorded.close,
            recorded.volume,
        )
        assert abs(streamed.ts_event - (hour - 1_000_000)) < 1_000  # close_time …:59:59.999
        probe.request_bars(
            bar_type_for(instrument_id),
            start=pd.Timestamp(START - 6 * HOUR_NS, tz="UTC"),
            end=pd.Timestamp(hour, tz="UTC"),
        )
    await _until(
        "the requested history", lambda: {b.bar_type.instrument_id for b in probe.history} >= set(ids)
    )
    for instrument_id in ids:
        history = [b.close for b in probe.history if b.bar_type.instrument_id == instrument_id]
        hours = range(START - 5 * HOUR_NS, hour + 1, HOUR_NS)  # klines opening in the window
        assert history == [_recorded(catalog_dir, instrument_id, h).close for h in hours]
    return hour


async def _funding_rate_from_mark_price(node: TradingNode, perp: InstrumentId, catalog_dir: Path) -> None:
    """The mark-price stream's rate and next funding time reach the cache as a FundingRateUpdate
    (``live/funding.py``): the recorded print of the coming 08:00 funding."""
    update = await _until("the bridged funding rate", lambda: node.kernel.cache.funding_rate(perp))
    assert update.next_funding_ns == EIGHT
    assert Decimal(str(update.rate)) == _recorded_funding(catalog_dir, perp, EIGHT)


async def _market_order_filled(
    probe: Probe, instrument_id: InstrumentId, side: OrderSide, quantity: str, hour: int, catalog_dir: Path
) -> OrderFilled:
    """Submitted → accepted → filled at the recorded close of the venue's hour, as a taker."""
    client_order_id = probe.market(instrument_id, side, quantity)
    fill = (await _until(f"{instrument_id} fill", lambda: probe.of(client_order_id, OrderFilled)))[0]
    assert probe.of(client_order_id, OrderAccepted), "filled without being accepted"
    assert fill.last_px == _recorded(catalog_dir, instrument_id, hour).close
    assert fill.last_qty == Quantity.from_str(quantity)
    assert fill.liquidity_side == LiquiditySide.TAKER
    return fill


async def _rejected(
    probe: Probe, instrument_id: InstrumentId, side: OrderSide, quantity: str, code: str
) -> None:
    client_order_id = probe.market(instrument_id, side, quantity)
    rejected = await _until(f"{instrument_id} rejection", lambda: probe.of(client_order_id, OrderRejected))
    assert code in rejected[0].reason, rejected[0].reason
    assert not probe.of(client_order_id, OrderFilled)


async def _venue_reports_match(
    node: TradingNode, probe: Probe, fake: FakeBinance, instrument_id: InstrumentId
) -> None:
    """The reports the execution client reconciles from (openOrders, allOrders, userTrades,
    positionRisk) parse into the orders, fills and position the node saw."""
    fills = [e for e in probe.events if isinstance(e, OrderFilled) and e.instrument_id == instrument_id]
    order = node.kernel.cache.order(fills[0].client_order_id)
    client = next(iter(node.kernel.exec_engine.get_clients_for_orders([order])))
    queried = fake.requests.count(("GET", fake.account.trades_path))
    mass = await client.generate_mass_status(lookback_mins=None)
    reports = {r.client_order_id: r for r in mass.order_reports.values() if r.instrument_id == instrument_id}
    for fill in fills:
        report = reports[fill.client_order_id]
        assert report.order_status == OrderStatus.FILLED
        assert (report.filled_qty, Decimal(str(report.avg_px))) == (fill.last_qty, fill.last_px.as_decimal())
    trades = [r.trade_id for rs in mass.fill_reports.values() for r in rs if r.instrument_id == instrument_id]
    assert sorted(trades) == sorted(f.trade_id for f in fills)  # each once (1.231: futures fills twice)
    assert fake.requests.count(("GET", fake.account.trades_path)) == queried + 1  # the symbol asked once
    if fake.account.is_futures:
        (position,) = mass.position_reports[instrument_id]
        assert position.signed_decimal_qty == fake.read(lambda m: m.position(instrument_id).quantity)


async def _funding_paid(
    node: TradingNode, fake: FakeBinance, perp: InstrumentId, received: Decimal, wallet_before: Decimal
) -> None:
    """07:00 → 08:00: the venue pays ``received`` (computed by the caller from the catalog), the
    node's account shows the wallet balance change and the venue's income history lists it."""
    for _ in range(2):  # 05:00 -> 07:00
        await _in_thread(fake.advance_hour)
    paid = [e for e in await _in_thread(fake.advance_hour) if isinstance(e, FundingPaid)]
    assert [(p.instrument.id, p.amount) for p in paid] == [(perp, received)]
    asset = paid[0].asset
    await _until_balance(
        "the funding payment in the account", node, perp.venue, asset, _reported(wallet_before + received)
    )
    income = await _in_thread(lambda: _signed(fake, f"{fake.account.prefix}income?incomeType=FUNDING_FEE"))
    assert [(i["symbol"], Decimal(i["income"]), i["asset"], i["time"]) for i in income] == [
        (fake.symbol(perp), _reported(received), asset, EIGHT // 1_000_000)
    ]


async def _reconnects_after_drop(
    node: TradingNode,
    probe: Probe,
    fakes: list[FakeBinance],
    orders: list[tuple[InstrumentId, OrderSide, str]],
) -> None:
    """Every WebSocket of every fake dropped at once: the clients reconnect (market data, the spot
    WebSocket API, the futures user stream on a new listenKey, after which the futures client
    reconciles with the venue's reports), bars keep arriving, and orders placed afterwards fill
    through the new user streams. The node's net position on each perp is then the venue's, with no
    ``EXTERNAL`` position (1.231 books one from the fills it reports twice: ``live/binance_exec.py``)."""
    before = [f.server.websocket_count for f in fakes]
    keys_before = [f.listen_keys for f in fakes]
    trades_asked = [f.requests.count(("GET", f.account.trades_path)) for f in fakes]
    assert all(n > 0 for n in before)
    assert sum(await asyncio.gather(*(_in_thread(f.drop_websockets) for f in fakes))) == sum(before)
    await _until(
        "the clients to reconnect every WebSocket",
        lambda: [f.server.websocket_count for f in fakes] == before,
        timeout=30,
    )
    for fake, keys_then, asked in zip(fakes, keys_before, trades_asked, strict=True):
        if fake.account.is_futures:
            await _until(
                "a user stream on a new listenKey",
                lambda f=fake, k=keys_then: f.streaming_listen_keys - k,
            )
            await _until(  # the mass status the client sends after the user stream resubscribed
                "the reconciliation after the reconnect",
                lambda f=fake, n=asked: f.requests.count(("GET", f.account.trades_path)) > n,
            )
    seen = len(probe.bars)
    for fake in fakes:
        await _in_thread(fake.advance_hour)
    await _until("bars after the reconnect", lambda: len(probe.bars) >= seen + len(fakes))
    for instrument_id, side, quantity in orders:
        client_order_id = probe.market(instrument_id, side, quantity)
        await _until(
            f"{instrument_id} fill after the reconnect", lambda c=client_order_id: probe.of(c, OrderFilled)
        )
    for fake in fakes:
        for instrument_id in {i for i, _, _ in orders if i.venue.value == fake.account.venue}:
            if fake.account.is_futures:
                venue_qty = fake.read(lambda m, i=instrument_id: m.position(i).quantity)
                held = node.kernel.cache.positions_open(instrument_id=instrument_id)
                assert sum(p.signed_decimal_qty() for p in held) == venue_qty, [str(p) for p in held]
                assert [p.strategy_id for p in held] == [probe.id]
                every = node.kernel.cache.positions(instrument_id=instrument_id)
                assert not [p for p in every if p.strategy_id.value == "EXTERNAL"], [str(p) for p in every]


async def _coin_wallets_read_as_live(
    node: TradingNode, fake: FakeBinance, perp: InstrumentId, contracts: int, at_ns: int
) -> None:
    """The strategies' reading of the COIN-M venue as a live node builds it (``shared_wallet_reader``:
    no simulation lends one, so the venue's reports are read with ``coin_balances``), marked at the
    bar closing at ``at_ns``: a short of ``contracts`` is ``contracts`` × 100 USD of face value, its
    notional and unrealized P&L are in BTC and equal the venue's ``positionRisk``, the wallet is the
    venue's BTC balance."""
    bar_type = bar_type_for(perp)
    await _until(
        "the mark's bar in the cache",
        lambda: (
            (bar := node.kernel.cache.bar(bar_type)) is not None
            and abs(bar.ts_event - (at_ns - 1_000_000)) < 1_000
        ),
    )
    reader = shared_wallet_reader(node.kernel.msgbus, perp.venue.value)
    wallets = reader.read(node.kernel.cache, node.kernel.portfolio, VenueLedger())
    (risk,) = [r for r in await _in_thread(lambda: _signed(fake, fake.account.position_risk_path))]
    assert risk["symbol"] == fake.symbol(perp)
    (state,) = wallets.perps
    assert (state.instrument_id, state.inverse, state.signed_qty) == (perp, True, -contracts * 100.0)
    assert state.price == pytest.approx(float(risk["markPrice"]), abs=1e-6)
    assert state.notional * state.price == pytest.approx(contracts * 100.0)  # USD face value
    assert abs(state.signed_notional - float(risk["notional"])) < 1e-8  # BTC, at 8 dp
    assert abs(state.unrealized - float(risk["unRealizedProfit"])) < 1e-8
    assert state.unrealized != 0, "the mark must have moved since the fill for the P&L to be tested"
    wallet = fake.read(lambda m: m.balance("BTC").total)
    assert (wallets.settlement, wallets.balance, wallets.futures_wallet) == (
        "BTC",
        float(_reported(wallet)),
        float(_reported(wallet)),
    )


def _signed(
    fake: FakeBinance, path_and_query: str, method: str = "GET", headers: dict[str, str] | None = None
):
    """Call a signed route of ``fake`` as a client holding the key would (the JSON body)."""
    separator = "&" if "?" in path_and_query else "?"
    url = f"{fake.server.http_url}{path_and_query}{separator}timestamp=1&signature=x"
    headers = {"X-MBX-APIKEY": API_KEY} if headers is None else headers
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers, method=method)) as response:
        return json.loads(response.read())


# -- the tests --------------------------------------------------------------------------------------------


def test_signed_routes_need_the_api_key(catalog_dir):
    """Public routes answer anyone; account routes refuse a missing key (-2014) or a wrong one
    (-2015) with HTTP 401, as Binance does."""
    fake = _fake(BinanceAccount.USDT_FUTURES, catalog_dir, {"USDT": "1000"})
    try:
        base = fake.server.http_url
        with urllib.request.urlopen(f"{base}/fapi/v1/ping") as response:
            assert response.status == 200
        for headers, code in (({}, -2014), ({"X-MBX-APIKEY": "someone-else"}, -2015)):
            with pytest.raises(urllib.error.HTTPError) as error:
                _signed(fake, "/fapi/v2/account", headers=headers)
            assert error.value.code == 401
            assert json.loads(error.value.read())["code"] == code
        assert _signed(fake, "/fapi/v2/account")["assets"][0]["walletBalance"] == "1000"
        request = urllib.request.Request(f"{base}/fapi/v2/account", headers={"X-MBX-APIKEY": API_KEY})
        with pytest.raises(urllib.error.HTTPError) as error:  # a key but no signature
            urllib.request.urlopen(request)
        assert json.loads(error.value.read())["code"] == -1102
    finally:
        fake.stop()


def test_ccxt_reads_the_funding_payment_from_the_income_history(catalog_dir):
    """ccxt's Binance (the project's transfer and funding-history client) pointed at the fake:
    ``fetch_funding_history`` returns the 08:00 payment of a short opened over REST."""
    fake = _fake(BinanceAccount.USDT_FUTURES, catalog_dir, {"USDT": "1000"})
    try:
        _signed(fake, "/fapi/v1/order?symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01", method="POST")
        for _ in range(4):  # 04:00 -> 08:00
            fake.advance_hour()
        exchange = ccxt.binance(
            {
                "apiKey": API_KEY,
                "secret": API_SECRET,
                "options": {"defaultType": "future", "fetchCurrencies": False},
            }
        )
        exchange.options["fetchMarkets"] = {"types": ["linear"]}
        for name, url in exchange.urls["api"].items():  # every host the fake's: nothing leaves 127.0.0.1
            exchange.urls["api"][name] = fake.server.http_url + urlsplit(url).path
        (payment,) = exchange.fetch_funding_history("BTC/USDT:USDT")
        mark = _recorded(catalog_dir, PERP, EIGHT).close.as_decimal()
        expected = Decimal("0.01") * mark * _recorded_funding(catalog_dir, PERP, EIGHT)
        assert (payment["code"], payment["timestamp"]) == ("USDT", EIGHT // 1_000_000)
        assert Decimal(str(payment["amount"])) == expected
    finally:
        fake.stop()


def _as_the_adapter_parses(instrument: CryptoPerpetual, **venue: object) -> CryptoPerpetual:
    """``instrument`` as 1.231's futures provider builds it from exchangeInfo: linear, multiplier 1,
    margin rates 1, the venue's limits (``venue`` overrides the rest)."""
    values = CryptoPerpetual.to_dict(instrument)
    values.update(is_inverse=False, multiplier="1", margin_init="1", margin_maint="1", max_quantity="1000000")
    values.update(venue)
    return CryptoPerpetual.from_dict(values)


def test_the_coin_m_perp_gets_the_yamls_contract_and_keeps_the_venues_limits():
    """``live/binance_exec.py`` turns the adapter's COIN-M perp into the YAML's inverse 100 USD
    contract: 10 contracts at 64,000 are worth 1,000 USD = 0.015625 BTC (the adapter's linear parse
    made them 10 BTC); the venue's own limits stay."""
    project = _spec_instrument(INVERSE)
    corrected = with_terms(_as_the_adapter_parses(project), ContractTerms.of(project))
    assert (corrected.is_inverse, corrected.multiplier, corrected.margin_init, corrected.margin_maint) == (
        True,
        Quantity.from_int(100),
        Decimal("0.008"),
        Decimal("0.004"),
    )
    assert (corrected.maker_fee, corrected.taker_fee) == (Decimal("0.0002"), Decimal("0.0005"))
    assert corrected.max_quantity == Quantity.from_int(1_000_000)
    notional = corrected.notional_value(Quantity.from_int(10), Price.from_str("64000.0"))
    assert (notional.as_decimal(), notional.currency.code) == (Decimal("0.015625"), "BTC")  # 1,000 USD


@pytest.mark.parametrize("field, venue_value", [("price_increment", "0.01"), ("size_increment", "10")])
def test_a_venue_tick_or_step_other_than_the_yamls_is_refused(field, venue_value):
    """Orders are priced and sized by the YAML: a venue that trades the contract in other
    increments would refuse them, so the instrument is refused at load, naming what differs (not a
    ``ValueError``, which 1.231's provider logs as a warning, leaving the instrument out: the
    clients fail to connect with this error instead)."""
    project = _spec_instrument(INVERSE)
    precision = "price_precision" if field == "price_increment" else "size_precision"
    adapter = _as_the_adapter_parses(project, **{field: venue_value, precision: precision_of(venue_value)})
    with pytest.raises(ContractMismatch, match=f"BTCUSD-PERP.BINANCE: the venue's {field} is {venue_value}"):
        with_terms(adapter, ContractTerms.of(project))


def test_the_risk_engines_cap_on_a_coin_m_order_is_the_modes_usd_cap():
    """Nautilus' risk engine values an inverse order at its quantity (contracts) in USD: with the
    mode's 250,000 USD per-order cap, 2,500 contracts of 100 USD pass and 2,501 are beyond it."""
    plan = plan_live(load_run_config(mode_file_path("ml_btc_directional_btc_margin")), LiveEnv.MAINNET)
    cap = risk_engine_config(plan, 250_000.0).max_notional_per_order[str(INVERSE)]
    project = _spec_instrument(INVERSE)
    held = with_terms(_as_the_adapter_parses(project), ContractTerms.of(project))  # as the node holds it
    price = Price.from_str("64000.0")
    for contracts, within in ((2_500, True), (2_501, False)):
        notional = held.notional_value(Quantity.from_int(contracts), price, use_quote_for_inverse=True)
        assert (notional.as_double() <= cap) is within


def test_binance_futures_venues_get_the_projects_clients_and_terms():
    """The live plan builds Binance futures (USDT-M and COIN-M) with ``live/binance_exec.py``'s
    factories and the YAML's contract terms, spot with the adapter's own."""
    for mode, perp in (("btc_basis", PERP), ("ml_btc_directional_btc_margin", INVERSE)):
        plan = plan_live(load_run_config(mode_file_path(mode)), LiveEnv.MAINNET)
        futures = next(v for v in plan.venues if v.venue == "BINANCE")
        assert (futures.data_factory, futures.exec_factory) == (
            BinanceFuturesDataClientFactory,
            BinanceFuturesExecClientFactory,
        )
        for config in (futures.data_config, futures.exec_config):
            assert config.instrument_provider.contract_terms == (ContractTerms.of(_spec_instrument(perp)),)
    spot = next(
        v
        for v in plan_live(load_run_config(mode_file_path("btc_basis")), LiveEnv.MAINNET).venues
        if v.venue == "BINANCE_SPOT"
    )
    assert (spot.data_factory, spot.exec_factory) == (
        BinanceLiveDataClientFactory,
        BinanceLiveExecClientFactory,
    )


# -- the node scenarios, each run in a fresh interpreter --------------------------------------------------


def _spot_and_usdt_futures(catalog_dir: Path, tmp_path: Path) -> None:
    """btc_basis' Binance venues: spot and USDT-M in one node."""
    spot = _fake(BinanceAccount.SPOT, catalog_dir, {"USDT": "100000"})
    futures = _fake(BinanceAccount.USDT_FUTURES, catalog_dir, {"USDT": "100000"})
    fakes = [spot, futures]
    try:
        plan = _plan("btc_basis", {"BINANCE_SPOT": spot, "BINANCE": futures}, tmp_path)

        async def scenario(node: TradingNode, probe: Probe) -> None:
            _loads_the_projects_instruments(node, (SPOT, PERP))
            assert _balance(node, SPOT.venue, "USDT") == _balance(node, PERP.venue, "USDT") == 100_000
            hour = await _bars_stream_and_history(probe, fakes, (SPOT, PERP), catalog_dir)
            await _funding_rate_from_mark_price(node, PERP, catalog_dir)

            # spot: buy 0.01 BTC; Binance takes the fee in the coin received
            fill = await _market_order_filled(probe, SPOT, OrderSide.BUY, "0.01", hour, catalog_dir)
            assert ("POST", "/api/v3/order") in spot.requests  # 1.231 places orders over REST
            spot_fee = Decimal("0.01") * Decimal(_spec(SPOT).taker_fee)
            assert (fill.commission.as_decimal(), fill.commission.currency.code) == (spot_fee, "BTC")
            usdt = 100_000 - Decimal("0.01") * fill.last_px.as_decimal()
            await _until_balance("the spot balances", node, SPOT.venue, "BTC", Decimal("0.01") - spot_fee)
            assert _balance(node, SPOT.venue, "USDT") == usdt == spot.read(lambda m: m.balance("USDT").total)

            # spot: a limit buy at the next hour's recorded low rests, then fills at its price as a maker
            low = _recorded(catalog_dir, SPOT, hour + HOUR_NS).low
            assert low < fill.last_px, "the recorded next hour must trade below this hour's close"
            resting = probe.limit(SPOT, OrderSide.BUY, "0.001", low)
            await _until("the limit order accepted", lambda: probe.of(resting, OrderAccepted))
            assert spot.read(lambda m: [o.client_order_id for o in m.open_orders()]) == [resting]
            assert not probe.of(resting, OrderFilled)
            await _in_thread(spot.advance_hour)
            (maker,) = await _until("the limit fill", lambda: probe.of(resting, OrderFilled))
            assert (maker.last_px, maker.liquidity_side) == (low, LiquiditySide.MAKER)
            assert maker.commission.as_decimal() == Decimal("0.001") * Decimal(_spec(SPOT).maker_fee)

            # USDT-M: short 0.01 BTC (the basis hedge)
            fill = await _market_order_filled(probe, PERP, OrderSide.SELL, "0.01", hour, catalog_dir)
            perp_fee = Decimal("0.01") * fill.last_px.as_decimal() * Decimal(_spec(PERP).taker_fee)
            assert fill.commission.as_decimal() == perp_fee.quantize(Decimal("1e-8"))
            await _until_balance(
                "the futures wallet after the fee", node, PERP.venue, "USDT", 100_000 - perp_fee
            )
            position = node.kernel.cache.positions_open(instrument_id=PERP)[0]
            assert (position.signed_qty, position.avg_px_open) == (-0.01, fill.last_px.as_double())
            assert futures.read(lambda m: (m.position(PERP).quantity, m.position(PERP).entry_price)) == (
                Decimal("-0.01"),
                fill.last_px.as_decimal(),
            )
            await _venue_reports_match(node, probe, spot, SPOT)
            await _venue_reports_match(node, probe, futures, PERP)

            # 08:00 funding: the short receives 0.01 x mark x rate
            mark = _recorded(catalog_dir, PERP, EIGHT).close.as_decimal()
            received = Decimal("0.01") * mark * _recorded_funding(catalog_dir, PERP, EIGHT)
            assert received > 0
            await _funding_paid(node, futures, PERP, received, 100_000 - perp_fee)

            await _rejected(probe, SPOT, OrderSide.BUY, "2", "-2010")  # ≈ 135,000 USDT > the 100,000 held
            await _rejected(probe, PERP, OrderSide.SELL, "200", "-2019")  # margin ≈ 108,000 > 100,000
            await _reconnects_after_drop(
                node, probe, fakes, [(SPOT, OrderSide.SELL, "0.001"), (PERP, OrderSide.BUY, "0.001")]
            )

        _run_node(plan, (SPOT, PERP), scenario)
    finally:
        spot.stop()
        futures.stop()


def _coin_futures(catalog_dir: Path, tmp_path: Path) -> None:
    """ml_btc_directional_btc_margin's venue: COIN-M."""
    futures = _fake(BinanceAccount.COIN_FUTURES, catalog_dir, {"BTC": "0.1"})
    try:
        plan = _plan("ml_btc_directional_btc_margin", {"BINANCE": futures}, tmp_path)

        async def scenario(node: TradingNode, probe: Probe) -> None:
            _loads_the_projects_instruments(node, (INVERSE,))
            assert _balance(node, INVERSE.venue, "BTC") == Decimal("0.1")
            hour = await _bars_stream_and_history(probe, [futures], (INVERSE,), catalog_dir)
            await _funding_rate_from_mark_price(node, INVERSE, catalog_dir)

            # short 10 contracts of 100 USD: the fee is taken in BTC on their coin value
            fill = await _market_order_filled(probe, INVERSE, OrderSide.SELL, "10", hour, catalog_dir)
            fee = Decimal(1000) / fill.last_px.as_decimal() * Decimal(_spec(INVERSE).taker_fee)
            # Binance reports fees and balances at the asset's 8 decimal places
            assert (fill.commission.as_decimal(), fill.commission.currency.code) == (_reported(fee), "BTC")
            wallet = futures.read(lambda m: m.balance("BTC").total)
            assert wallet == Decimal("0.1") - fee
            await _until_balance(
                "the coin wallet after the fee", node, INVERSE.venue, "BTC", _reported(wallet)
            )
            assert futures.read(lambda m: m.position(INVERSE).quantity) == -10
            assert node.kernel.cache.positions_open(instrument_id=INVERSE)[0].signed_qty == -10
            await _venue_reports_match(node, probe, futures, INVERSE)

            # 08:00 funding: the short receives its coin value (1000 USD / mark) x rate
            mark = _recorded(catalog_dir, INVERSE, EIGHT).close.as_decimal()
            received = Decimal(1000) / mark * _recorded_funding(catalog_dir, INVERSE, EIGHT)
            await _funding_paid(node, futures, INVERSE, received, wallet)
            await _coin_wallets_read_as_live(node, futures, INVERSE, 10, EIGHT)

            await _rejected(probe, INVERSE, OrderSide.SELL, "9000", "-2019")  # margin ≈ 0.106 BTC > 0.1
            await _reconnects_after_drop(node, probe, [futures], [(INVERSE, OrderSide.BUY, "1")])

        _run_node(plan, (INVERSE,), scenario)
    finally:
        futures.stop()


SCENARIOS: dict[str, Callable[[Path, Path], None]] = {
    "spot_and_usdt_futures": _spot_and_usdt_futures,
    "coin_futures": _coin_futures,
}


def _in_own_process(scenario: str, catalog_dir: Path, tmp_path: Path) -> None:
    """Run a node scenario in a fresh interpreter with the fake keys in the adapter's variables.

    A live node must not inherit Nautilus' process-wide state from the suite's backtests: a
    backtest of a venue registers it in ``AccountFactory``'s calculated-account registry (there is
    no way to deregister), after which every ``BINANCE_SPOT`` account of the process applies each
    fill to its balances itself, on top of the balances the venue reports (seen: 0.01998 BTC for a
    0.00999 fill). Nautilus also initialises logging once per process; here the node's INFO log is
    its own, so the key check below sees what the clients print."""
    env = {**os.environ, "BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET}
    proc = subprocess.run(
        [sys.executable, "-m", __name__, scenario, str(catalog_dir), str(tmp_path)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "Binance API key authenticated" in output  # the clients logged in with the key ...
    for secret in (API_KEY, API_SECRET):
        assert secret not in output  # ... and printed neither it nor the secret


def test_spot_and_usdt_futures(catalog_dir, tmp_path):
    """btc_basis' Binance spot and USDT-M venues, end to end (``_spot_and_usdt_futures``)."""
    _in_own_process("spot_and_usdt_futures", catalog_dir, tmp_path)


def test_coin_futures(catalog_dir, tmp_path):
    """The coin-margined mode's Binance COIN-M venue, end to end (``_coin_futures``)."""
    _in_own_process("coin_futures", catalog_dir, tmp_path)


if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](Path(sys.argv[2]), Path(sys.argv[3]))
