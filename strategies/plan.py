"""Sequencing multi-step actions (orders, transfers) that must happen in order.

A rebalance is several phases — cut positions, move cash between wallets, add positions, sweep
what is left — and each phase may only start when the previous one's orders have filled and its
transfers have landed. A :class:`Plan` is that list of phases; each phase is a function run at
the moment it starts, so it sizes itself from the balances left by the phases before it.

Plans advance on events, never on a clock: a fill advances at once (the order was sized on the
prices it answers); a transfer that lands in a later data hour than the strategy last acted on
marks its step done and the next phase waits for that hour's prices (:meth:`PlanRunner.resume`
on the next tick), so a phase never sizes itself on an hour-old price after a slow transfer.
Every wait has a timeout in data time; a step that times out aborts the plan, which is reported,
and the strategy re-plans from the balances it then sees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from nautilus_trader.model.identifiers import ClientOrderId

from adapters.hours import HOUR_NS, closing_hour

Phase = Callable[[], None]


class Decision(NamedTuple):
    """A plan the strategy decided to start: its action name, phases and the reason (logged)."""

    action: str
    phases: list[Phase]
    why: str = ""


@dataclass(frozen=True)
class PlanTimeouts:
    """How long (data time, ns) a plan step may wait before the plan is given up."""

    order_ns: int = 2 * HOUR_NS
    """For its orders to close (filled, rejected or cancelled)."""
    transfer_ns: int = 48 * HOUR_NS
    """For its transfers to land (the slowest CEX withdrawal takes hours)."""
    condition_ns: int = 21 * 24 * HOUR_NS
    """For a condition such as an LST withdrawal queue paying out (days)."""


@dataclass
class Plan:
    name: str
    phases: deque[Phase]
    on_done: Callable[[], None] | None = None
    waiting_orders: set[ClientOrderId] = field(default_factory=set)
    waiting_transfers: set[str] = field(default_factory=set)
    until: Callable[[], bool] | None = None
    """A condition the next phase waits for (e.g. a withdrawal queue paying out), checked each tick."""
    waiting_since_ns: int = 0
    """Data time the current step started waiting."""
    landed_after_ns: int = 0
    """The latest data hour a transfer of this step landed in (the next phase waits for its prices)."""

    @property
    def waiting(self) -> bool:
        if self.until is not None and self.until():
            self.until = None
        return bool(self.waiting_orders or self.waiting_transfers or self.until is not None)

    def timeout_ns(self, timeouts: PlanTimeouts) -> int:
        """The step's allowance: the longest of what it waits for."""
        allowed = 0
        if self.waiting_orders:
            allowed = max(allowed, timeouts.order_ns)
        if self.waiting_transfers:
            allowed = max(allowed, timeouts.transfer_ns)
        if self.until is not None:
            allowed = max(allowed, timeouts.condition_ns)
        return allowed


class PlanRunner:
    """Runs one plan at a time; a rejected or timed-out step aborts the rest (the caller re-plans
    from reality).

    ``now`` is the strategy's data time: the closing hour of the last data it acted on.
    ``on_rest`` is called each time a plan ends (done, aborted or abandoned), after its
    ``on_done``: the strategy is at rest again, with what the plan changed.
    """

    def __init__(
        self,
        log,
        now: Callable[[], int],
        timeouts: PlanTimeouts | None = None,
        on_rest: Callable[[], None] | None = None,
    ) -> None:
        self._log = log
        self._now = now
        self.timeouts = timeouts or PlanTimeouts()
        self._on_rest = on_rest
        self.current: Plan | None = None
        self.failures: list[str] = []
        self._advancing = False

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, name: str, phases: list[Phase], on_done: Callable[[], None] | None = None) -> None:
        if self.current is not None:
            raise RuntimeError(f"cannot start plan {name!r} while {self.current.name!r} is running")
        self.current = Plan(name, deque(phases), on_done)
        self._advance()

    def expect_order(self, client_order_id: ClientOrderId) -> None:
        if self.current is not None:
            self.current.waiting_orders.add(client_order_id)

    def expect_transfer(self, request_id: str) -> None:
        if self.current is not None:
            self.current.waiting_transfers.add(request_id)

    def wait_until(self, condition: Callable[[], bool]) -> None:
        """Hold the next phase until ``condition()`` is true (re-checked on every :meth:`resume`)."""
        if self.current is not None:
            self.current.until = condition

    def retry(self, phase: Phase, until: Callable[[], bool]) -> None:
        """Run ``phase`` again, before the plan's other phases, once ``until()`` holds."""
        if self.current is not None:
            self.current.phases.appendleft(phase)
            self.current.until = until

    def order_closed(self, client_order_id: ClientOrderId, failure: str | None = None) -> None:
        plan = self.current
        if plan is None or client_order_id not in plan.waiting_orders:
            return
        plan.waiting_orders.discard(client_order_id)
        self._after_step(failure)

    def transfer_done(self, request_id: str, ts_event: int, failure: str | None = None) -> None:
        plan = self.current
        if plan is None or request_id not in plan.waiting_transfers:
            return
        plan.waiting_transfers.discard(request_id)
        plan.landed_after_ns = max(plan.landed_after_ns, closing_hour(ts_event))
        self._after_step(failure)

    def resume(self) -> None:
        """Continue a plan whose last step completed in an hour the strategy has now priced, or
        give it up when its step has waited longer than its timeout."""
        plan = self.current
        if plan is None or self._advancing:
            return
        if not plan.waiting:
            if self._ready(plan):
                self._advance()
            return
        waited = self._now() - plan.waiting_since_ns
        if waited > plan.timeout_ns(self.timeouts):
            pending = [*map(str, plan.waiting_orders), *plan.waiting_transfers]
            what = ", ".join(pending) if pending else "its condition"
            self._abort(plan, f"timed out after {waited / HOUR_NS:.0f} h waiting for {what}")
            self.current = None
            self._rested()

    def abandon(self, why: str) -> None:
        """Give up the plan in progress (reported like an aborted one); nothing runs after it."""
        plan = self.current
        if plan is not None:
            self._abort(plan, why)
            self.current = None
            self._rested()

    def _after_step(self, failure: str | None) -> None:
        plan = self.current
        assert plan is not None
        if failure is not None:
            self._abort(plan, failure)
        if not plan.waiting and not self._advancing and self._ready(plan):
            self._advance()

    def _ready(self, plan: Plan) -> bool:
        """The strategy has acted on the hour the plan's last transfer landed in (fresh prices)."""
        return plan.landed_after_ns <= self._now()

    def _abort(self, plan: Plan, failure: str) -> None:
        self.failures.append(f"{plan.name}: {failure}")
        self._log.error(f"plan {plan.name!r} aborted: {failure}")
        plan.phases.clear()
        plan.until = None
        plan.on_done = None  # an aborted plan did not achieve what on_done records

    def _rested(self) -> None:
        """A plan ended: tell ``on_rest``, unless its ``on_done`` started another."""
        if self.current is None and self._on_rest is not None:
            self._on_rest()

    def _advance(self) -> None:
        """Run phases until one leaves something to wait for (re-entrant calls are folded in)."""
        self._advancing = True
        try:
            plan = self.current
            while plan is not None and not plan.waiting:
                if not plan.phases:
                    self.current = None
                    if plan.on_done is not None:
                        plan.on_done()
                    self._rested()
                    return
                plan.phases.popleft()()
                plan = self.current
            if plan is not None:
                plan.waiting_since_ns = self._now()
        finally:
            self._advancing = False
