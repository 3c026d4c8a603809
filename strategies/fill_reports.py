"""An order is done for a plan only once its venue has reported the balances the fill changed.

Live, a venue sends a fill and the account balances it moved as separate messages (Binance's
``executionReport`` and ``outboundAccountPosition``), and Nautilus routes them differently: the
account state goes straight to the portfolio while the fill waits in the execution engine's
queue. Either can come first. A plan's next phase sizes itself from the balances, so a fill seen
before its balances would size it on cash the order already spent (a sweep asking for the whole
pre-trade spot cash, refused by the venue, aborting the plan).

So a fill whose account has not reported at or after the fill's time holds the order's completion
until a report of that account does, or until ``wait_secs`` pass (then it is released with a
warning and the phase acts on what the venue has reported). A simulated account (backtest, paper,
sandbox) is updated with the fill itself, so nothing ever waits there.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from nautilus_trader.model.events import AccountState, OrderFilled
from nautilus_trader.model.identifiers import AccountId, ClientOrderId

ACCOUNT_TOPIC = "events.account.*"
"""Where the portfolio publishes each account state it applies."""


class FillReports:
    """Holds filled orders until their account's report (see the module docstring)."""

    def __init__(self, log, release: Callable[[ClientOrderId], None], wait_secs: float) -> None:
        self._cache = None
        self._log = log
        self._release = release
        self._wait = pd.Timedelta(seconds=wait_secs)
        self._clock = None
        self._waiting: dict[AccountId, dict[ClientOrderId, int]] = {}
        """account -> order -> the ts of the fill its report must reach"""

    def watch(self, cache, clock) -> None:
        """Read the accounts from ``cache``; ``clock`` times the wait for a report that does not come."""
        self._cache = cache
        self._clock = clock

    def filled(self, fill: OrderFilled) -> None:
        """The order of ``fill`` closed filled: release it now, or when its account reports."""
        account = self._cache.account(fill.account_id) if fill.account_id is not None else None
        if account is None or account.last_event.ts_event >= fill.ts_event:
            self._release(fill.client_order_id)
            return
        self._waiting.setdefault(fill.account_id, {})[fill.client_order_id] = fill.ts_event
        self._clock.set_time_alert(
            self._timer(fill.client_order_id),
            self._clock.utc_now() + self._wait,
            lambda _, account=fill.account_id, order=fill.client_order_id: self._gave_up(account, order),
        )

    def on_account_state(self, state: AccountState) -> None:
        waiting = self._waiting.get(state.account_id)
        if not waiting:
            return
        for order, ts_fill in list(waiting.items()):
            if state.ts_event >= ts_fill:
                del waiting[order]
                self._clock.cancel_timer(self._timer(order))
                self._release(order)

    def _gave_up(self, account_id: AccountId, order: ClientOrderId) -> None:
        if self._waiting.get(account_id, {}).pop(order, None) is None:
            return
        self._log.warning(
            f"{account_id} has not reported its balances since the fill of {order} "
            f"({self._wait.total_seconds():g} s): going on with what it last reported"
        )
        self._release(order)

    @staticmethod
    def _timer(order: ClientOrderId) -> str:
        return f"fill-report-{order}"
