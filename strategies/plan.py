"""Sequencing multi-step actions (orders, transfers) that must happen in order.

A rebalance is several phases — cut positions, move cash between wallets, add positions, sweep
what is left — and each phase may only start when the previous one's orders have filled and its
transfers have landed. A :class:`Plan` is that list of phases; each phase is a function run at
the moment it starts, so it sizes itself from the balances left by the phases before it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from nautilus_trader.model.identifiers import ClientOrderId

Phase = Callable[[], None]


@dataclass
class Plan:
    name: str
    phases: deque[Phase]
    on_done: Callable[[], None] | None = None
    waiting_orders: set[ClientOrderId] = field(default_factory=set)
    waiting_transfers: set[str] = field(default_factory=set)
    until: Callable[[], bool] | None = None
    """A condition the next phase waits for (e.g. a withdrawal queue paying out), checked each tick."""

    @property
    def waiting(self) -> bool:
        if self.until is not None and self.until():
            self.until = None
        return bool(self.waiting_orders or self.waiting_transfers or self.until is not None)


class PlanRunner:
    """Runs one plan at a time; a rejected step aborts the rest (the caller re-plans from reality).

    A phase only starts when ``can_advance()`` says the strategy's prices are current (every leg
    has a bar at this instant). Events arriving between ticks (a deposit credited before the
    hour's bars are all in) mark their step done; the next phase then waits for :meth:`resume`.
    """

    def __init__(self, log, can_advance: Callable[[], bool] = lambda: True) -> None:
        self._log = log
        self._can_advance = can_advance
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

    def transfer_done(self, request_id: str, failure: str | None = None) -> None:
        plan = self.current
        if plan is None or request_id not in plan.waiting_transfers:
            return
        plan.waiting_transfers.discard(request_id)
        self._after_step(failure)

    def _after_step(self, failure: str | None) -> None:
        plan = self.current
        assert plan is not None
        if failure is not None:
            self.failures.append(f"{plan.name}: {failure}")
            self._log.error(f"plan {plan.name!r} aborted: {failure}")
            plan.phases.clear()
            plan.until = None
            plan.on_done = None  # an aborted plan did not achieve what on_done records
        if not plan.waiting and not self._advancing and self._can_advance():
            self._advance()

    def resume(self) -> None:
        """Continue a plan whose steps completed while prices were not current."""
        if self.current is not None and not self.current.waiting and not self._advancing:
            self._advance()

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
                    return
                plan.phases.popleft()()
                plan = self.current
        finally:
            self._advancing = False
