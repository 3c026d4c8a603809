"""The command journal: commands re-issued without the strategy reach the venues exactly where the
strategy's did, nested deliveries included, and a replay that cannot place one says so."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import CancelAllOrders
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId, StrategyId, TraderId

from adapters.events import TRANSFER_ENDPOINT, TRANSFER_TOPIC, TransferKind, TransferRequest
from live.journal import (
    RISK_ENDPOINT,
    CommandJournal,
    DeliveryTracker,
    JournalEntry,
    JournalMismatch,
    JournalPlayer,
)

STRATEGY = StrategyId("YieldStrategy-000")


@dataclass(frozen=True)
class Bar:
    ts_init: int


TRADER = TraderId("PAPER-001")
BAR_TOPIC = "data.bars.ETHUSDT.BINANCE_SPOT-1-HOUR-LAST-EXTERNAL"
PERP = InstrumentId.from_str("ETHUSDT-PERP.BINANCE")


class World:
    """Venue-side handlers: they log what reaches them, and a bar observer logs what it sees, so
    the log shows where each command arrived relative to everything else."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.log: list[tuple] = []
        bus.subscribe(BAR_TOPIC, lambda bar: self.log.append(("bar", bar)))
        self.endpoints = {TRANSFER_ENDPOINT: self.transfer, RISK_ENDPOINT: self.risk}
        for endpoint, handler in self.endpoints.items():
            bus.register(endpoint, handler)

    def transfer(self, request: TransferRequest) -> None:
        self.log.append(("transfer", request.request_id, request.amount))
        self.bus.publish(TRANSFER_TOPIC, request.request_id)  # the lifecycle event, synchronously

    def risk(self, command: CancelAllOrders) -> None:
        self.log.append(("order", command.instrument_id.value))


def _strategy(bus: MessageBus) -> None:
    """On even bars: a deposit (whose event it answers with a nested transfer), then an order."""

    def on_bar(bar: Bar) -> None:
        if bar.ts_init % 2 == 0:
            request = TransferRequest(f"T{bar.ts_init}", TransferKind.DEPOSIT, "BINANCE", 100.0 + bar.ts_init)
            bus.send(TRANSFER_ENDPOINT, request)
            bus.send(
                RISK_ENDPOINT, CancelAllOrders(TRADER, STRATEGY, PERP, OrderSide.NO_ORDER_SIDE, UUID4(), 0)
            )

    def on_transfer(request_id: str) -> None:
        if not request_id.endswith("b"):
            bus.send(
                TRANSFER_ENDPOINT, TransferRequest(f"{request_id}b", TransferKind.TO_FUTURES, "BINANCE", 1.0)
            )

    bus.subscribe(BAR_TOPIC, on_bar)
    bus.subscribe(TRANSFER_TOPIC, on_transfer)


def _recorded(bars: list[int]) -> tuple[list[tuple], list[JournalEntry], int]:
    bus = MessageBus(TRADER, TestClock())
    world = World(bus)
    tracker = DeliveryTracker(bus, STRATEGY)
    _strategy(bus)
    tracker.move_to_end()
    journal = CommandJournal(bus, tracker, STRATEGY, world.endpoints)
    for ts in bars:
        bus.publish(BAR_TOPIC, Bar(ts))
    return world.log, journal.entries, tracker.count


def _replayed(bars: list[int], entries: list[JournalEntry]) -> tuple[list[tuple], JournalPlayer, int]:
    bus = MessageBus(TRADER, TestClock())
    world = World(bus)
    tracker = DeliveryTracker(bus, STRATEGY)
    journal = CommandJournal(bus, tracker, STRATEGY, world.endpoints, entries)
    journal.recording = False
    player = JournalPlayer(bus, cache=Cache(), tracker=tracker, entries=entries)
    for ts in bars:
        bus.publish(BAR_TOPIC, Bar(ts))
    return world.log, player, tracker.count


def test_replayed_commands_arrive_where_the_strategy_sent_them():
    bars = [1, 2, 3, 4, 5]
    log, entries, deliveries = _recorded(bars)
    assert [e.endpoint for e in entries] == [TRANSFER_ENDPOINT, TRANSFER_ENDPOINT, RISK_ENDPOINT] * 2
    # the nested transfer is anchored to the event it answered; the order to the bar after it
    assert [(e.anchor, e.cause) for e in entries[:3]] == [(2, "Bar@2"), (3, "str"), (2, "Bar@2")]
    replayed, player, replayed_deliveries = _replayed(bars, entries)
    assert replayed == log
    assert replayed_deliveries == deliveries
    player.check_done(replayed_deliveries)


def test_entries_survive_their_json_form():
    _, entries, _ = _recorded([2])
    assert [JournalEntry.from_json(e.to_json()) for e in entries] == entries
    replayed, _, _ = _replayed([2], [JournalEntry.from_json(e.to_json()) for e in entries])
    assert replayed == _recorded([2])[0]


def test_a_replay_of_other_data_fails_loudly():
    _, entries, _ = _recorded([1, 2, 3, 4])
    log, player, deliveries = _replayed([1, 3, 4, 5, 6], entries)  # bar 2 is gone
    assert ("transfer", "T2", 102.0) not in log  # nothing is placed after the mismatch
    with pytest.raises(JournalMismatch, match="was Bar@2 in the stopped run and is Bar@3"):
        player.check_done(deliveries)


def test_a_replay_that_ends_before_its_commands_says_which_are_missing():
    _, entries, _ = _recorded([1, 2, 3, 4])
    _, player, deliveries = _replayed([1, 2, 3], entries)
    with pytest.raises(JournalMismatch, match="3 journaled commands never reached"):
        player.check_done(deliveries)


def test_only_the_strategys_own_orders_are_journaled():
    bus = MessageBus(TRADER, TestClock())
    world = World(bus)
    tracker = DeliveryTracker(bus, STRATEGY)
    journal = CommandJournal(bus, tracker, STRATEGY, world.endpoints)
    other = StrategyId("Other-001")
    bus.send(RISK_ENDPOINT, CancelAllOrders(TRADER, other, PERP, OrderSide.NO_ORDER_SIDE, UUID4(), 0))
    assert journal.entries == []
    assert world.log == [("order", PERP.value)]  # still delivered
