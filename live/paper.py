"""Paper trading: a mode's strategy in a real Nautilus ``TradingNode`` on a replay of the catalog.

The node is a live kernel (asyncio, live clock, live data/risk/execution engines with their
queues). Its venues are the project's simulations, the very ones a backtest uses: each venue's
``SimulatedExchange`` with its funding/margin/liquidation or chain module lives inside a
:class:`PaperExecutionClient` (a ``LiveExecutionClient``), so orders, fills and account states
travel the live engines' queues. A :class:`ReplayDataClient` publishes the run's data — bars,
funding prints, chain data, predictions, hour marks — one point at a time, as live data would
arrive; the :class:`Replay` driver lets every queue drain before the next point (or paces the
points at N× real time) and steps the simulated venues exactly as the backtest engine steps
them, so a strategy that only relies on what live trading offers produces the backtest's fills.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from nautilus_trader.backtest.engine import SimulatedExchange
from nautilus_trader.backtest.execution_client import BacktestExecClient
from nautilus_trader.backtest.models import FeeModel, FillModel, MakerTakerFeeModel
from nautilus_trader.common.component import TestClock
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.core.data import Data
from nautilus_trader.execution.reports import FillReport, OrderStatusReport, PositionStatusReport
from nautilus_trader.live.data_client import LiveMarketDataClient
from nautilus_trader.live.execution_client import LiveExecutionClient
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import AccountType, BookType, OmsType, OtoTriggerMode
from nautilus_trader.model.identifiers import AccountId, ClientId, Venue
from nautilus_trader.model.instruments import Instrument

from adapters.cex.instruments import live_account_id

REPLAY_CLIENT = "REPLAY"


class PaperExecutionClient(LiveExecutionClient):
    """A live execution client whose venue is a project simulation (``SimulatedExchange``).

    Commands reach the exchange through its simulation client (pre-trade checks, the DeFi
    backend); they wait in the exchange's queue until the :class:`Replay` settles the venues,
    as in the backtest engine. Fills and account states go back through the live engine's queue.
    """

    def __init__(self, node: TradingNode, exchange: SimulatedExchange, inner: BacktestExecClient) -> None:
        kernel = node.kernel
        super().__init__(
            loop=kernel.loop,
            client_id=ClientId(exchange.id.value),
            venue=exchange.id,
            oms_type=exchange.oms_type,
            account_type=exchange.account_type,
            base_currency=exchange.base_currency,
            instrument_provider=InstrumentProvider(),
            msgbus=kernel.msgbus,
            cache=kernel.cache,
            clock=kernel.clock,
        )
        # the live adapter's account id where the venue has one (the node reads ids from the cache)
        code = exchange.base_currency.code if exchange.base_currency is not None else "USDT"
        self._set_account_id(live_account_id(exchange.id.value, code) or AccountId(f"{exchange.id}-001"))
        inner._set_account_id(self.account_id)
        self.exchange = exchange
        self.inner = inner
        self.pending = False
        """A command reached the exchange since the venues were last settled."""

    def connect(self) -> None:
        self.inner._set_connected(True)
        self.exchange.initialize_account()
        self._set_connected(True)

    def disconnect(self) -> None:
        self._set_connected(False)

    def _forward(self, handler, command) -> None:
        self.pending = True
        handler(command)

    def submit_order(self, command) -> None:
        self._forward(self.inner.submit_order, command)

    def submit_order_list(self, command) -> None:
        self._forward(self.inner.submit_order_list, command)

    def modify_order(self, command) -> None:
        self._forward(self.inner.modify_order, command)

    def cancel_order(self, command) -> None:
        self._forward(self.inner.cancel_order, command)

    def cancel_all_orders(self, command) -> None:
        self._forward(self.inner.cancel_all_orders, command)

    def batch_cancel_orders(self, command) -> None:
        self._forward(self.inner.batch_cancel_orders, command)

    async def generate_order_status_report(self, command) -> OrderStatusReport | None:
        return None  # the simulation starts empty: nothing to reconcile

    async def generate_order_status_reports(self, command) -> list[OrderStatusReport]:
        return []

    async def generate_fill_reports(self, command) -> list[FillReport]:
        return []

    async def generate_position_status_reports(self, command) -> list[PositionStatusReport]:
        return []


class ReplayDataClient(LiveMarketDataClient):
    """Publishes recorded data into the live data engine, as a venue's feed would."""

    def __init__(self, node: TradingNode) -> None:
        kernel = node.kernel
        super().__init__(
            loop=kernel.loop,
            client_id=ClientId(REPLAY_CLIENT),
            venue=None,
            msgbus=kernel.msgbus,
            cache=kernel.cache,
            clock=kernel.clock,
            instrument_provider=InstrumentProvider(),
        )

    async def _connect(self) -> None:
        return None

    async def _disconnect(self) -> None:
        return None

    async def _subscribe(self, command) -> None:
        return None  # every recorded point is published; subscribers filter by topic

    async def _subscribe_bars(self, command) -> None:
        return None

    async def _subscribe_funding_rates(self, command) -> None:
        return None

    async def _unsubscribe_bars(self, command) -> None:
        return None

    def publish(self, data: Data) -> None:
        self._handle_data(data)


@dataclass
class PaperHost:
    """The paper node as the host of the simulated venues (see ``adapters.execution.VenueHost``)."""

    node: TradingNode
    clock: TestClock = field(default_factory=TestClock)
    """The venues' clock: the replay's data time (the node keeps its live clock)."""
    clients: dict[Venue, PaperExecutionClient] = field(default_factory=dict)

    @property
    def msgbus(self):
        return self.node.kernel.msgbus

    @property
    def cache(self):
        return self.node.kernel.cache

    def add_venue(
        self,
        venue: Venue,
        oms_type: OmsType,
        account_type: AccountType,
        starting_balances: list,
        base_currency=None,
        margin_model=None,
        modules=None,
        allow_cash_borrowing: bool = False,
        fee_model: FeeModel | None = None,
    ) -> None:
        """A ``SimulatedExchange`` with ``BacktestEngine.add_venue``'s defaults, behind a paper client."""
        kernel = self.node.kernel
        exchange = SimulatedExchange(
            venue=venue,
            oms_type=oms_type,
            account_type=account_type,
            starting_balances=starting_balances,
            base_currency=base_currency,
            default_leverage=Decimal(10) if account_type == AccountType.MARGIN else Decimal(1),
            leverages={},
            margin_model=margin_model,
            modules=modules or [],
            portfolio=kernel.portfolio,
            msgbus=kernel.msgbus,
            cache=kernel.cache,
            fill_model=FillModel(),
            fee_model=fee_model or MakerTakerFeeModel(),
            latency_model=None,
            book_type=BookType.L1_MBP,
            clock=self.clock,
            frozen_account=False,
            reject_stop_orders=True,
            support_gtd_orders=True,
            support_contingent_orders=True,
            oto_trigger_mode=OtoTriggerMode.PARTIAL,
            use_position_ids=True,
            use_random_ids=False,
            use_reduce_only=True,
            use_message_queue=True,
            use_market_order_acks=False,
            bar_execution=True,
            bar_adaptive_high_low_ordering=False,
            trade_execution=True,
            liquidity_consumption=False,
            queue_position=False,
            price_protection_points=None,
            settlement_prices=None,
        )
        inner = BacktestExecClient(
            exchange=exchange,
            msgbus=kernel.msgbus,
            cache=kernel.cache,
            clock=self.clock,
            allow_cash_borrowing=allow_cash_borrowing,
        )
        exchange.register_client(inner)
        client = PaperExecutionClient(self.node, exchange, inner)
        kernel.exec_engine.register_client(client)
        self.clients[venue] = client

    def add_instrument(self, instrument: Instrument) -> None:
        self.cache.add_instrument(instrument)
        self.clients[instrument.id.venue].exchange.add_instrument(instrument)

    def use_exec_client(self, exchange: SimulatedExchange, client: BacktestExecClient) -> None:
        paper = self.clients[exchange.id]
        client._set_account_id(paper.account_id)
        exchange.register_client(client)
        paper.inner = client


class VenueStepper:
    """Steps the simulated venues of a node as the backtest engine steps them: a bar reaches its
    venue before the node's data engine (its modules' ``pre_process``); once the node has handled
    a data point, queued orders are settled, then every module's ``process`` runs."""

    def __init__(self, node: TradingNode, host: PaperHost) -> None:
        self._kernel = node.kernel
        self._host = host
        self._queues = [
            self._kernel.data_engine.cmd_qsize,
            self._kernel.data_engine.req_qsize,
            self._kernel.data_engine.res_qsize,
            self._kernel.data_engine.data_qsize,
            self._kernel.risk_engine.cmd_qsize,
            self._kernel.risk_engine.evt_qsize,
            self._kernel.exec_engine.cmd_qsize,
            self._kernel.exec_engine.evt_qsize,
        ]

    def before(self, data: Data) -> None:
        """The venues' time is the data's; a bar updates its venue's market first."""
        self._host.clock.set_time(data.ts_init)
        if isinstance(data, Bar):
            client = self._host.clients.get(data.bar_type.instrument_id.venue)
            if client is not None:
                client.exchange.process_bar(data)

    async def settle(self, ts: int) -> None:
        """Fill what the strategies sent (rounds until nothing new arrives), then run the modules."""
        clients = list(self._host.clients.values())
        while any(c.pending for c in clients):
            for client in clients:
                client.pending = False
            for client in clients:
                modules = list(client.exchange.modules)
                client.exchange.modules.clear()  # commands only: the modules run once, below
                try:
                    client.exchange.process(ts)
                finally:
                    client.exchange.modules.extend(modules)
            for client in clients:
                for instrument in self._host.cache.instruments(venue=client.exchange.id):
                    engine = client.exchange.get_matching_engine(instrument.id)
                    if engine is not None:
                        engine.iterate(ts)
            await self.drain()
        for client in clients:
            for module in client.exchange.modules:
                module.process(ts)
        await self.drain()

    async def drain(self) -> None:
        """Wait until every live engine queue is empty (handlers run to completion in between)."""
        quiet = 0
        while quiet < 2:
            await asyncio.sleep(0)
            if not self._kernel.trader.is_running:
                raise RuntimeError("the node stopped while its venues were stepped (see its log)")
            quiet = 0 if any(size() for size in self._queues) else quiet + 1


class Replay:
    """Feeds the data stream into the node one point at a time, stepping the simulated venues
    around each point (:class:`VenueStepper`)."""

    def __init__(self, node: TradingNode, host: PaperHost, client: ReplayDataClient, speed: float = 0.0):
        self._kernel = node.kernel
        self._client = client
        self._speed = speed
        self._venues = VenueStepper(node, host)
        self.points = 0
        """Data points replayed so far."""
        self.last_ns = 0
        """``ts_init`` of the last point replayed."""
        self.observers: list[Callable[[int], None]] = []
        """Called with the data time after every point (the replay's clock: health lines)."""
        self.preparers: list[Callable[[Data], None]] = []
        """Called with every point before the node sees it (a local chain moved to its hour)."""

    @property
    def msgbus(self):
        return self._kernel.msgbus

    @property
    def cache(self):
        return self._kernel.cache

    async def run(self, stream: Iterator[Data], end_ns: int, stop_after: Callable[[int], bool]) -> None:
        """Replay ``stream`` up to ``end_ns`` (the venues settled at the end), or until
        ``stop_after(points replayed)`` says so after a point (``stream`` then goes on from there)."""
        for data in stream:
            ts = data.ts_init
            if ts > end_ns:
                break
            if self._speed > 0 and self.points and ts > self.last_ns:
                await asyncio.sleep((ts - self.last_ns) / 1e9 / self._speed)
            await self.step(data)
            self.points += 1
            self.last_ns = ts
            for observe in self.observers:
                observe(ts)
            if stop_after(self.points):
                return
        await self.settle()

    async def settle(self) -> None:
        """Let the venues answer what was sent since the last point (e.g. a halt's cancels)."""
        if self.points:
            await self._venues.settle(self.last_ns)

    async def step(self, data: Data) -> None:
        for prepare in self.preparers:
            prepare(data)
        self._venues.before(data)
        self._client.publish(data)
        await self._venues.drain()
        await self._venues.settle(data.ts_init)
