"""A filled order is done for its plan only once its venue has reported the balances it moved."""

from __future__ import annotations

from types import SimpleNamespace

from nautilus_trader.common.component import TestClock
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import AccountType
from nautilus_trader.model.events import AccountState
from nautilus_trader.model.identifiers import AccountId, ClientOrderId
from nautilus_trader.model.objects import AccountBalance, Money

from strategies.fill_reports import FillReports
from tests.strategies.recording_log import RecordingLog

SPOT = AccountId("BINANCE_SPOT-master")
FUTURES = AccountId("BINANCE-master")
T = 1_717_200_000_000_000_000
SECOND = 1_000_000_000


def _state(account_id: AccountId, ts: int) -> AccountState:
    balance = AccountBalance(Money(1, USDT), Money(0, USDT), Money(1, USDT))
    return AccountState(account_id, AccountType.CASH, None, True, [balance], [], {}, UUID4(), ts, ts)


class _Cache:
    """The accounts' last reports, as the node's cache holds them."""

    def __init__(self, **last: int) -> None:
        self.last = {SPOT: last.get("spot", T), FUTURES: last.get("futures", T)}

    def account(self, account_id: AccountId):
        return SimpleNamespace(last_event=_state(account_id, self.last[account_id]))


def _fill(order: str, account_id: AccountId = SPOT, ts: int = T):
    return SimpleNamespace(client_order_id=ClientOrderId(order), account_id=account_id, ts_event=ts)


def _reports(cache: _Cache, wait_secs: float = 10.0):
    released: list[str] = []
    log, clock = RecordingLog(), TestClock()
    clock.set_time(T)
    reports = FillReports(log, lambda order: released.append(str(order)), wait_secs)
    reports.watch(cache, clock)
    return reports, released, log, clock


def test_a_fill_whose_balances_were_reported_first_is_done_at_once():
    reports, released, _, clock = _reports(_Cache(spot=T))  # the report came with the fill's time
    reports.filled(_fill("O-1"))
    assert released == ["O-1"] and clock.timer_names == []


def test_a_fill_ahead_of_its_report_waits_for_a_report_of_its_own_account_at_or_after_it():
    reports, released, log, clock = _reports(_Cache(spot=T - 3600 * SECOND))
    reports.filled(_fill("O-1"))
    assert released == [] and clock.timer_names == ["fill-report-O-1"]
    reports.on_account_state(_state(FUTURES, T))  # another account's report
    reports.on_account_state(_state(SPOT, T - 3600 * SECOND))  # the portfolio re-publishing the old one
    assert released == []
    reports.on_account_state(_state(SPOT, T))
    assert released == ["O-1"] and clock.timer_names == [] and log.warnings == []
    reports.on_account_state(_state(SPOT, T + SECOND))  # released once
    assert released == ["O-1"]


def test_a_report_releases_only_the_fills_it_covers():
    reports, released, _, _ = _reports(_Cache(spot=T - SECOND))
    reports.filled(_fill("O-1", ts=T))
    reports.filled(_fill("O-2", ts=T + 5 * SECOND))
    reports.on_account_state(_state(SPOT, T + SECOND))
    assert released == ["O-1"]
    reports.on_account_state(_state(SPOT, T + 5 * SECOND))
    assert released == ["O-1", "O-2"]


def test_a_report_that_never_comes_releases_the_fill_after_the_wait_with_a_warning():
    reports, released, log, clock = _reports(_Cache(spot=T - SECOND), wait_secs=10.0)
    reports.filled(_fill("O-1"))
    for event in clock.advance_time(T + 9 * SECOND):
        event.handle()
    assert released == []
    for event in clock.advance_time(T + 10 * SECOND):
        event.handle()
    assert released == ["O-1"]
    assert "BINANCE_SPOT-master has not reported its balances since the fill of O-1" in log.warnings[0]
    reports.on_account_state(_state(SPOT, T))  # the late report releases nothing twice
    assert released == ["O-1"]
