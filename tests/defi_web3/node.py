"""The parts of a Nautilus node an actor needs, on a test clock, to run the chain data feed in a
test (and in the subprocess of the secrets check, which runs it with Nautilus logging on)."""

from __future__ import annotations

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.model.identifiers import TraderId
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.test_kit.stubs.component import TestComponentStubs


class Node:
    """The message bus, cache and (test) clock a node gives its actors."""

    def __init__(self) -> None:
        self.clock = TestClock()
        self.msgbus = MessageBus(TraderId("TEST-001"), self.clock)
        self.cache = TestComponentStubs.cache()

    def start[A: Actor](self, actor: A) -> A:
        actor.register_base(
            Portfolio(self.msgbus, self.cache, self.clock), self.msgbus, self.cache, self.clock
        )
        actor.start()
        return actor

    def tick(self, seconds: int) -> None:
        for handler in self.clock.advance_time(self.clock.timestamp_ns() + seconds * 10**9):
            handler.handle()
