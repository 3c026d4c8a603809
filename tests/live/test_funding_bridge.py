"""The Binance funding bridge on a real message bus and data engine: Binance's mark-price stream
in, the ``FundingRateUpdate`` a backtest delivers out (cached and on the funding topic)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from nautilus_trader.adapters.binance.futures.types import BinanceFuturesMarkPriceUpdate
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.data.engine import DataEngine
from nautilus_trader.model.data import CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.identifiers import ClientId, InstrumentId, TraderId
from nautilus_trader.model.objects import Price
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.test_kit.mocks.data import MockMarketDataClient

from live.funding_bridge import BinanceFundingBridge, BinanceFundingBridgeConfig

BTC = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
ETH = InstrumentId.from_str("ETHUSDT-PERP.BINANCE")
HOUR_NS = 3_600_000_000_000


class FundingListener(Actor):
    """Receives funding from the data engine's funding-rate topic, as the venue simulations'
    consumers do. (``subscribe_funding_rates`` would also ask the Binance client for a funding
    stream, which Nautilus 1.231's Binance adapter does not implement: the reason for the bridge.)"""

    def __init__(self, instrument_ids):
        super().__init__()
        self.instrument_ids = instrument_ids
        self.received: list[FundingRateUpdate] = []

    def on_start(self) -> None:
        for instrument_id in self.instrument_ids:
            topic = f"data.funding_rates.{instrument_id.venue}.{instrument_id.symbol}"
            self.msgbus.subscribe(topic=topic, handler=self.received.append)


class BinanceStandIn(MockMarketDataClient):
    """Records the custom-data subscriptions the Binance futures data client would open."""

    def __init__(self, *args):
        super().__init__(*args)
        self.subscribed: list[DataType] = []

    def subscribe(self, command) -> None:
        self.subscribed.append(command.data_type)


class Node:
    """A data engine with a stand-in Binance data client, the bridge and a listener."""

    def __init__(self, instrument_ids):
        self.clock = TestClock()
        self.msgbus = MessageBus(TraderId("TESTER-001"), self.clock)
        self.cache = Cache()
        portfolio = Portfolio(self.msgbus, self.cache, self.clock)
        self.engine = DataEngine(self.msgbus, self.cache, self.clock)
        self.client = BinanceStandIn(ClientId("BINANCE"), self.msgbus, self.cache, self.clock)
        self.engine.register_client(self.client)
        self.engine.start()
        self.bridge = BinanceFundingBridge(BinanceFundingBridgeConfig(instrument_ids=tuple(instrument_ids)))
        self.listener = FundingListener(instrument_ids)
        for actor in (self.bridge, self.listener):
            actor.register_base(portfolio, self.msgbus, self.cache, self.clock)
            actor.start()

    def mark(self, instrument_id, rate: str, next_funding_ns: int, ts: int) -> None:
        """What Binance's futures data client publishes for one mark-price message."""
        update = BinanceFuturesMarkPriceUpdate(
            instrument_id=instrument_id,
            mark=Price.from_str("60000.0"),
            index=Price.from_str("59990.0"),
            estimated_settle=Price.from_str("60001.0"),
            funding_rate=Decimal(rate),
            next_funding_ns=next_funding_ns,
            ts_event=ts,
            ts_init=ts + 1,
        )
        data_type = DataType(BinanceFuturesMarkPriceUpdate, metadata={"instrument_id": instrument_id})
        self.client._handle_data(CustomData(data_type=data_type, data=update))


def test_the_bridge_subscribes_to_the_mark_price_stream_of_each_perp_on_the_binance_client():
    node = Node([BTC, ETH])
    subscribed = node.client.subscribed
    assert [dt.metadata["instrument_id"] for dt in subscribed] == [BTC, ETH]
    assert {dt.type for dt in subscribed} == {BinanceFuturesMarkPriceUpdate}


def test_one_funding_update_per_print_cached_and_published_as_in_a_backtest():
    node = Node([BTC])
    next_funding = 8 * HOUR_NS
    node.mark(BTC, "0.0001", next_funding, ts=1)
    node.mark(BTC, "0.0001", next_funding, ts=2)  # same print: a mark tick only
    node.mark(BTC, "0.00012", next_funding, ts=3)  # the predicted rate moved
    node.mark(BTC, "0.00012", next_funding, ts=4)
    node.mark(BTC, "0.00012", 16 * HOUR_NS, ts=5)  # funding paid: the next time moves on

    received = node.listener.received
    assert [(u.rate, u.next_funding_ns, u.ts_event, u.ts_init) for u in received] == [
        (Decimal("0.0001"), next_funding, 1, 2),
        (Decimal("0.00012"), next_funding, 3, 4),
        (Decimal("0.00012"), 16 * HOUR_NS, 5, 6),
    ]
    assert all(isinstance(u, FundingRateUpdate) and u.instrument_id == BTC for u in received)
    assert node.cache.funding_rate(BTC) == received[-1]  # what the venue simulations read


def test_each_perp_has_its_own_last_print():
    node = Node([BTC, ETH])
    node.mark(BTC, "0.0001", HOUR_NS, ts=1)
    node.mark(ETH, "0.0001", HOUR_NS, ts=2)  # same figures, other instrument: a print of its own
    node.mark(ETH, "0.0001", HOUR_NS, ts=3)
    assert [u.instrument_id for u in node.listener.received] == [BTC, ETH]
    assert node.cache.funding_rate(ETH).ts_event == 2


@pytest.mark.parametrize("other", [FundingRateUpdate(BTC, Decimal("0.5"), 0, 0), "not data"])
def test_other_data_is_ignored(other):
    node = Node([BTC])
    node.bridge.on_data(other)
    assert node.listener.received == []
