"""Plans advance on events, never on a clock, and give up after a timeout in data time."""

from __future__ import annotations

from nautilus_trader.model.identifiers import ClientOrderId

from adapters.hours import HOUR_NS
from strategies.plan import PlanRunner, PlanTimeouts
from tests.strategies.recording_log import RecordingLog

H = 100 * HOUR_NS


class _World:
    """A plan runner at a settable data hour, with phases that record what they did."""

    def __init__(self) -> None:
        self.hour = H
        self.log = RecordingLog()
        self.runner = PlanRunner(
            self.log,
            now=lambda: self.hour,
            timeouts=PlanTimeouts(2 * HOUR_NS, 48 * HOUR_NS),
            on_rest=lambda: self.rests.append(list(self.done)),
        )
        self.done: list[str] = []
        self.rests: list[list[str]] = []
        """What had been done each time the runner came to rest."""

    def order(self, name: str):
        return lambda: (self.done.append(name), self.runner.expect_order(ClientOrderId(name)))

    def transfer(self, name: str):
        return lambda: (self.done.append(name), self.runner.expect_transfer(name))

    def step(self, name: str):
        return lambda: self.done.append(name)


def test_a_fill_advances_the_plan_at_once():
    w = _World()
    w.runner.start("rebalance", [w.order("sell"), w.step("after")])
    assert w.done == ["sell"]
    w.runner.order_closed(ClientOrderId("sell"))
    assert w.done == ["sell", "after"] and not w.runner.busy


def test_a_transfer_landing_in_a_later_hour_waits_for_that_hours_prices():
    w = _World()
    w.runner.start("entry_full", [w.transfer("deposit"), w.step("buy")])
    w.runner.transfer_done("deposit", H + HOUR_NS // 2)  # lands at 10:30: closes in the next hour
    assert w.done == ["deposit"]
    w.runner.resume()  # still the same hour: nothing moves
    assert w.done == ["deposit"]
    w.hour = H + HOUR_NS  # the strategy acted on the next hour's bars
    w.runner.resume()
    assert w.done == ["deposit", "buy"]


def test_a_transfer_landing_in_the_hour_acted_on_advances_at_once():
    w = _World()
    w.runner.start("entry_full", [w.transfer("deposit"), w.step("buy")])
    w.runner.transfer_done("deposit", H)
    assert w.done == ["deposit", "buy"]


def test_an_order_that_never_closes_aborts_the_plan_after_its_timeout():
    w = _World()
    w.runner.start("rebalance", [w.order("sell"), w.step("never")])
    w.hour = H + 2 * HOUR_NS
    w.runner.resume()  # exactly the allowance: still waiting
    assert w.runner.busy
    w.hour = H + 3 * HOUR_NS
    w.runner.resume()
    assert not w.runner.busy and w.done == ["sell"]
    assert w.runner.failures == ["rebalance: timed out after 3 h waiting for sell"]
    assert "aborted" in w.log.errors[0]


def test_a_transfer_gets_the_transfer_allowance_and_a_failure_aborts():
    w = _World()
    w.runner.start("exit_full", [w.transfer("withdraw"), w.step("never")])
    w.hour = H + 47 * HOUR_NS
    w.runner.resume()
    assert w.runner.busy  # transfers may take hours
    w.runner.transfer_done("withdraw", w.hour, failure="timed_out")
    assert not w.runner.busy and w.done == ["withdraw"]
    assert w.runner.failures == ["exit_full: timed_out"]


def test_every_end_of_a_plan_comes_to_rest_once_after_its_on_done():
    """Done, failed, timed out or abandoned: the strategy is at rest again (it saves its state)."""
    w = _World()
    w.runner.start("rebalance", [w.order("sell")], on_done=w.step("done"))
    assert w.rests == []
    w.runner.order_closed(ClientOrderId("sell"))
    assert w.rests == [["sell", "done"]]
    w.runner.start("rebalance", [w.order("buy"), w.step("never")])
    w.runner.order_closed(ClientOrderId("buy"), failure="rejected")
    w.runner.start("rebalance", [w.order("sell again"), w.step("never")])
    w.hour = H + 3 * HOUR_NS
    w.runner.resume()
    w.runner.start("exit_full", [w.transfer("withdraw")])
    w.runner.abandon("halted")
    assert [r[-1] for r in w.rests] == ["done", "buy", "sell again", "withdraw"]


def test_a_plan_started_by_on_done_is_not_at_rest():
    w = _World()
    w.runner.start("exit_full", [w.step("paid")], on_done=lambda: w.runner.start("next", [w.order("buy")]))
    assert w.done == ["paid", "buy"] and w.runner.busy and w.rests == []
    w.runner.order_closed(ClientOrderId("buy"))
    assert w.rests == [["paid", "buy"]]
