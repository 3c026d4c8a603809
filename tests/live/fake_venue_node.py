"""A ``TradingNode`` running one venue's real Nautilus clients (as ``plan_live`` configures them)
against a fake venue, with a strategy that records what the node receives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from nautilus_trader.config import LiveExecEngineConfig, LoggingConfig, StrategyConfig, TradingNodeConfig
from nautilus_trader.core.data import Data
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.data import Bar, BarType, FundingRateUpdate, MarkPriceUpdate
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import AccountState, OrderEvent
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, TraderId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.trading.strategy import Strategy

from backtesting.config import load_run_config, mode_file_path
from live.environments import LiveEnv
from live.venues import LiveVenue, plan_live


class RecorderConfig(StrategyConfig, frozen=True):
    bar_types: tuple[str, ...]
    funding_ids: tuple[str, ...]
    """Perps whose funding rates and mark prices are followed."""
    account_id: str


class Recorder(Strategy):
    """Subscribes to bars, and to the perps' funding rates and mark prices; keeps every bar, funding
    update, mark price, requested history, order event and account state the node delivers to it."""

    def __init__(self, config: RecorderConfig):
        super().__init__(config)
        self.bars: list[Bar] = []
        self.funding: list[FundingRateUpdate] = []
        self.marks: list[MarkPriceUpdate] = []
        self.historical: list[Data] = []
        self.order_events: list[OrderEvent] = []
        self.account_states: list[AccountState] = []

    def on_start(self) -> None:
        for bar_type in self.config.bar_types:
            self.subscribe_bars(BarType.from_str(bar_type))
        for instrument_id in self.config.funding_ids:
            self.subscribe_funding_rates(InstrumentId.from_str(instrument_id))
            self.subscribe_mark_prices(InstrumentId.from_str(instrument_id))
        self.msgbus.subscribe(f"events.account.{self.config.account_id}", self.account_states.append)

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)

    def on_funding_rate(self, funding_rate: FundingRateUpdate) -> None:
        self.funding.append(funding_rate)

    def on_historical_data(self, data: Data) -> None:
        self.historical.append(data)

    def on_mark_price(self, mark_price: MarkPriceUpdate) -> None:
        self.marks.append(mark_price)

    def on_order_event(self, event: OrderEvent) -> None:
        self.order_events.append(event)

    def market(self, instrument_id: InstrumentId, side: OrderSide, qty: Decimal) -> ClientOrderId:
        """Submit a market order for ``qty`` (at the instrument's size precision)."""
        precision = self.cache.instrument(instrument_id).size_precision
        quantity = Quantity.from_str(str(qty.quantize(Decimal(1).scaleb(-precision))))
        order = self.order_factory.market(instrument_id, side, quantity)
        self.submit_order(order)
        return order.client_order_id

    def events_of(self, client_order_id: ClientOrderId) -> list[str]:
        return [type(e).__name__ for e in self.order_events if e.client_order_id == client_order_id]


def planned_venue(venue: str, config_dir: Path, env: LiveEnv = LiveEnv.TESTNET) -> LiveVenue:
    """``venue``'s clients as ``run_live.py`` would build them for btc_basis from ``config_dir``."""
    plan = plan_live(load_run_config(mode_file_path("btc_basis")), env, config_dir)
    return next(v for v in plan.venues if v.venue == venue)


def build_node(venue: LiveVenue, recorder: Recorder, loop: asyncio.AbstractEventLoop) -> TradingNode:
    """A node with ``venue``'s data and execution clients, reconciling with the venue at start.

    In-flight orders are checked every 0.2 s and resolved after two unanswered queries, so an
    order whose refusal the adapter does not report (Bybit demo over HTTP) is rejected in about a
    second instead of Nautilus' default of tens of seconds."""
    config = TradingNodeConfig(
        trader_id=TraderId("FAKE-001"),
        logging=LoggingConfig(log_level="WARNING"),
        timeout_post_stop=0.2,  # nothing to settle after the test: Nautilus' default waits 10 s
        data_clients={venue.venue: venue.data_config},
        exec_clients={venue.venue: venue.exec_config},
        exec_engine=LiveExecEngineConfig(
            reconciliation=True,
            inflight_check_interval_ms=200,
            inflight_check_threshold_ms=500,
            inflight_check_retries=2,
        ),
    )
    node = TradingNode(config=config, loop=loop)
    node.add_data_client_factory(venue.venue, venue.data_factory)
    node.add_exec_client_factory(venue.venue, venue.exec_factory)
    node.trader.add_strategy(recorder)
    node.build()
    return node


async def until(what: str, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for ``predicate`` on the running loop; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def shut_down(
    node: TradingNode, loop: asyncio.AbstractEventLoop, fake_stop: Callable[[], Awaitable[None]]
) -> None:
    """Stop the node and the fake venue, cancel what is left on the loop and dispose of the node
    (which closes the loop)."""
    try:
        if node.kernel.trader.is_running:
            loop.run_until_complete(node.kernel.stop_async())
        loop.run_until_complete(fake_stop())
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        node.dispose()
