"""The funding feed on a real message bus and data engine: Bybit and OKX perps subscribed to their
clients' funding streams; Binance's mark-price stream in, the ``FundingRateUpdate`` a backtest
delivers out (cached and on the funding topic)."""

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

from live.funding import FundingFeed, FundingFeedConfig

BTC = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
ETH = InstrumentId.from_str("ETHUSDT-PERP.BINANCE")
BYBIT_BTC = InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT")
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


class VenueStandIn(MockMarketDataClient):
    """Records the subscriptions a venue's data client receives."""

    def __init__(self, *args):
        super().__init__(*args)
        self.subscribed: list[DataType] = []
        self.funding_subscribed: list[InstrumentId] = []

    def subscribe(self, command) -> None:
        self.subscribed.append(command.data_type)

    def subscribe_funding_rates(self, command) -> None:
        self.funding_subscribed.append(command.instrument_id)


class Node:
    """A data engine with stand-in Binance and Bybit data clients, the feed and a listener."""

    def __init__(self, instrument_ids):
        self.clock = TestClock()
        self.msgbus = MessageBus(TraderId("TESTER-001"), self.clock)
        self.cache = Cache()
        portfolio = Portfolio(self.msgbus, self.cache, self.clock)
        self.engine = DataEngine(self.msgbus, self.cache, self.clock)
        self.clients = {
            venue: VenueStandIn(ClientId(venue), self.msgbus, self.cache, self.clock)
            for venue in ("BINANCE", "BYBIT")
        }
        for client in self.clients.values():
            self.engine.register_client(client)
        self.engine.start()
        self.feed = FundingFeed(FundingFeedConfig(instrument_ids=tuple(instrument_ids)))
        self.listener = FundingListener(instrument_ids)
        for actor in (self.feed, self.listener):
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
        self.clients["BINANCE"]._handle_data(CustomData(data_type=data_type, data=update))


def test_binance_perps_are_bridged_from_the_mark_price_stream_and_other_perps_subscribe_funding():
    node = Node([BTC, BYBIT_BTC, ETH])
    binance, bybit = node.clients["BINANCE"], node.clients["BYBIT"]
    assert [dt.metadata["instrument_id"] for dt in binance.subscribed] == [BTC, ETH]
    assert {dt.type for dt in binance.subscribed} == {BinanceFuturesMarkPriceUpdate}
    assert binance.funding_subscribed == []  # Binance's client would raise: it has no funding stream
    assert bybit.funding_subscribed == [BYBIT_BTC] and bybit.subscribed == []


def test_a_streamed_funding_print_reaches_the_cache_and_topic_untouched():
    node = Node([BYBIT_BTC])
    update = FundingRateUpdate(BYBIT_BTC, Decimal("0.0001"), 1, 2, next_funding_ns=HOUR_NS)
    node.clients["BYBIT"]._handle_data(update)
    assert node.listener.received == [update] and node.cache.funding_rate(BYBIT_BTC) == update


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
    node.feed.on_data(other)
    assert node.listener.received == []
