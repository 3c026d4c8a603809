"""Durable paper venues: the strategy's commands, journaled with the delivery that caused them.

A live venue keeps its state while the trading node restarts. The paper venues are simulations
inside the node's process, so they keep theirs the way an exchange keeps its matching engine: as
a log of the commands they received. On a restart the market data is replayed into fresh venues
and every logged command is issued again where the strategy issued it; venues, the node's cache
(orders, positions, accounts) and the accounting come back exactly, and the strategy carries on
from its own saved state (``on_save``/``on_load``).

"Where" is the message the strategy was handling: the n-th delivery on the topics a strategy
acts on (data, its order events, transfer and capital events). A :class:`DeliveryTracker` counts
them first in every dispatch and marks the end of each dispatch after the strategy's handler, so
a command re-issued at the end of delivery n reaches the venues in the order the strategy's did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nautilus_trader.common.component import MessageBus
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import (
    BatchCancelOrders,
    CancelAllOrders,
    CancelOrder,
    ModifyOrder,
    SubmitOrder,
    SubmitOrderList,
)
from nautilus_trader.model.events import OrderEvent, OrderInitialized, OrderPendingCancel, OrderPendingUpdate
from nautilus_trader.model.identifiers import StrategyId

from adapters.events import (
    CAPITAL_TOPIC,
    PAYOUT_ENDPOINT,
    TRANSFER_ENDPOINT,
    TRANSFER_TOPIC,
    PayoutRequest,
    TransferKind,
    TransferRequest,
)

RISK_ENDPOINT = "RiskEngine.execute"
EXEC_ENDPOINT = "ExecEngine.execute"
TRACKER_PRIORITY = 10_000
"""Ahead of every handler (the chain's upkeep runs at 100): a delivery is counted before anyone acts."""

_COMMANDS = {
    cls.__name__: cls
    for cls in (SubmitOrder, SubmitOrderList, ModifyOrder, CancelOrder, CancelAllOrders, BatchCancelOrders)
}
_DIRECT_TO_EXEC = (CancelOrder, CancelAllOrders, BatchCancelOrders)
"""What a strategy sends straight to the execution engine (the rest goes through the risk engine,
which forwards it: journaled once, where the strategy sent it)."""


class JournalMismatch(RuntimeError):
    """The replay did not reach a journaled command as the saved run did (the data changed?)."""


def _anchor_topics(strategy_id: StrategyId) -> list[str]:
    return ["data.*", f"events.order.{strategy_id}", TRANSFER_TOPIC, CAPITAL_TOPIC]


def describe(message: Any) -> str:
    """What a delivery was, to check a replay delivers the same thing: an order event by its
    order (the node stamps some with its live clock), anything else by its data time."""
    if isinstance(message, OrderEvent):
        return f"{type(message).__name__}@{message.client_order_id}"
    ts = getattr(message, "ts_event", getattr(message, "ts_init", None))
    return type(message).__name__ if ts is None else f"{type(message).__name__}@{ts}"


class DeliveryTracker:
    """Counts the deliveries a strategy may act on and knows which one is being dispatched."""

    def __init__(self, msgbus: MessageBus, strategy_id: StrategyId) -> None:
        self._msgbus = msgbus
        self._topics = _anchor_topics(strategy_id)
        self.count = 0
        self._dispatching: list[tuple[int, str]] = []
        self._last = (0, "")
        self.on_dispatched: Callable[[int, str], None] = lambda n, what: None
        """Called at the end of delivery n's dispatch (after every handler of its topic)."""
        for topic in self._topics:
            msgbus.subscribe(topic, self._begin, priority=TRACKER_PRIORITY)
        self.move_to_end()

    def move_to_end(self) -> None:
        """Put the end-of-dispatch mark after every handler subscribed so far (call once the
        strategy has subscribed)."""
        for topic in self._topics:
            if self._msgbus.is_subscribed(topic, self._end):
                self._msgbus.unsubscribe(topic, self._end)
            self._msgbus.subscribe(topic, self._end)

    @property
    def anchor(self) -> tuple[int, str]:
        """The delivery being dispatched (innermost), else the last one: (number, what it was)."""
        return self._dispatching[-1] if self._dispatching else self._last

    def is_dispatching(self, delivery: int) -> bool:
        """Whether ``delivery`` is still being dispatched (a delivery nested in it just ended)."""
        return any(n == delivery for n, _ in self._dispatching)

    def _begin(self, message: Any) -> None:
        if isinstance(message, OrderInitialized):
            return  # the strategy's own announcement of an order it is about to send
        self.count += 1
        self._last = (self.count, describe(message))
        self._dispatching.append(self._last)

    def _end(self, message: Any) -> None:
        if isinstance(message, OrderInitialized):
            return
        self.on_dispatched(*self._dispatching[-1])  # still dispatching: what it causes nests in it
        self._dispatching.pop()


@dataclass(frozen=True)
class JournalEntry:
    anchor: int
    """The delivery the strategy was handling when it sent the command."""
    cause: str
    """What that delivery was (``describe``)."""
    endpoint: str
    payload: dict[str, Any]

    def to_json(self) -> list:
        return [self.anchor, self.cause, self.endpoint, self.payload]

    @classmethod
    def from_json(cls, values: list) -> JournalEntry:
        anchor, cause, endpoint, payload = values
        return cls(int(anchor), str(cause), str(endpoint), dict(payload))


def _encode(endpoint: str, message: Any) -> dict[str, Any]:
    if endpoint == TRANSFER_ENDPOINT:
        return {
            "request_id": message.request_id,
            "kind": str(message.kind),
            "venue": message.venue,
            "amount": message.amount,
            "asset": message.asset,
        }
    if endpoint == PAYOUT_ENDPOINT:
        return {"amount": message.amount}
    return type(message).to_dict(message)


def _decode(endpoint: str, payload: dict[str, Any]) -> Any:
    if endpoint == TRANSFER_ENDPOINT:
        return TransferRequest(**{**payload, "kind": TransferKind(payload["kind"])})
    if endpoint == PAYOUT_ENDPOINT:
        return PayoutRequest(payload["amount"])
    return _COMMANDS[payload["type"]].from_dict(payload)


class CommandJournal:
    """Records what the strategy sends to the venues (orders, cancels, transfers, payouts), each
    with the delivery it was sent in, by standing in front of the endpoints it sends to."""

    def __init__(
        self,
        msgbus: MessageBus,
        tracker: DeliveryTracker,
        strategy_id: StrategyId,
        endpoints: dict[str, Callable[[Any], None]],
        entries: list[JournalEntry] | None = None,
    ) -> None:
        self._msgbus = msgbus
        self._tracker = tracker
        self._strategy_id = strategy_id
        self._handlers = endpoints
        self.entries: list[JournalEntry] = list(entries or [])
        self.recording = True
        for endpoint, handler in endpoints.items():
            msgbus.deregister(endpoint, handler)
            msgbus.register(endpoint, lambda message, e=endpoint: self._receive(e, message))

    def _receive(self, endpoint: str, message: Any) -> None:
        if self.recording and self._is_strategys(endpoint, message):
            anchor, cause = self._tracker.anchor
            self.entries.append(JournalEntry(anchor, cause, endpoint, _encode(endpoint, message)))
        self._handlers[endpoint](message)

    def _is_strategys(self, endpoint: str, message: Any) -> bool:
        if endpoint == EXEC_ENDPOINT:
            return isinstance(message, _DIRECT_TO_EXEC) and message.strategy_id == self._strategy_id
        if endpoint == RISK_ENDPOINT:
            return message.strategy_id == self._strategy_id
        return True


class JournalPlayer:
    """Re-issues journaled commands at the end of the deliveries they were anchored to, as the
    strategy issued them (an order is announced and cached before it is sent)."""

    def __init__(
        self, msgbus: MessageBus, cache, tracker: DeliveryTracker, entries: list[JournalEntry]
    ) -> None:
        self._msgbus = msgbus
        self._cache = cache
        self._tracker = tracker
        self._entries = entries
        self._next = 0
        self.error: JournalMismatch | None = None
        """Why the replay could not place a command (raised by :meth:`check_done`; a handler
        must not raise inside the node's queues)."""
        tracker.on_dispatched = self._on_dispatched

    @property
    def done(self) -> bool:
        return self._next == len(self._entries)

    def check_done(self, deliveries: int) -> None:
        if self.error is not None:
            raise self.error
        if not self.done:
            entry = self._entries[self._next]
            raise JournalMismatch(
                f"the replay ended after {deliveries:,} deliveries with {len(self._entries) - self._next} "
                f"journaled commands never reached (next at delivery {entry.anchor:,}, {entry.endpoint})"
            )

    def _on_dispatched(self, delivery: int, what: str) -> None:
        while self._next < len(self._entries) and self.error is None:
            entry = self._entries[self._next]
            if entry.anchor != delivery:
                if entry.anchor > delivery or self._tracker.is_dispatching(entry.anchor):
                    return  # a later delivery's, or an outer one's sent after this nested one
                self.error = JournalMismatch(
                    f"journaled command {self._next} ({entry.endpoint}) was sent in delivery "
                    f"{entry.anchor:,}, which the replay passed without it"
                )
            elif entry.cause != what:
                self.error = JournalMismatch(
                    f"delivery {delivery:,} was {entry.cause} in the stopped run and is {what} in the "
                    "replay (the catalog changed?)"
                )
            else:
                self._next += 1
                self._issue(entry.endpoint, _decode(entry.endpoint, entry.payload))

    def _issue(self, endpoint: str, message: Any) -> None:
        """Do what the strategy did on the node's side of the command, then send it."""
        if isinstance(message, SubmitOrder | SubmitOrderList):
            orders = message.order_list.orders if isinstance(message, SubmitOrderList) else [message.order]
            for order in orders:
                self._msgbus.publish(f"events.order.{order.strategy_id}", order.init_event)
            if isinstance(message, SubmitOrderList):
                self._cache.add_order_list(message.order_list)
            for order in orders:
                self._cache.add_order(order, message.position_id, message.client_id)
        elif isinstance(message, CancelOrder):
            self._mark_pending(
                self._cache.order(message.client_order_id), OrderPendingCancel, message.ts_init
            )
        elif isinstance(message, BatchCancelOrders):
            for cancel in message.cancels:
                self._mark_pending(
                    self._cache.order(cancel.client_order_id), OrderPendingCancel, cancel.ts_init
                )
        elif isinstance(message, ModifyOrder):
            self._mark_pending(
                self._cache.order(message.client_order_id), OrderPendingUpdate, message.ts_init
            )
        elif isinstance(message, CancelAllOrders):  # marked, not announced, as the strategy does
            for order in self._cache.orders_open(
                instrument_id=message.instrument_id, strategy_id=message.strategy_id, side=message.order_side
            ):
                self._mark_pending(order, OrderPendingCancel, message.ts_init, announce=False)
        self._msgbus.send(endpoint, message)

    def _mark_pending(self, order, event_type: type, ts: int, announce: bool = True) -> None:
        """A cancel or modify of an order at the venue marks it pending on the node (Nautilus'
        strategy applies, caches and announces that event before it sends the command)."""
        if order is None or order.is_closed or order.is_active_local:
            return
        event = event_type(
            order.trader_id,
            order.strategy_id,
            order.instrument_id,
            order.client_order_id,
            order.venue_order_id,
            order.account_id,
            UUID4(),
            ts,
            ts,
        )
        order.apply(event)
        self._cache.update_order(order)
        if announce:
            self._msgbus.publish(f"events.order.{order.strategy_id}", event)
