"""Simulated-venue execution client that makes a venue reject what the real one would.

Nautilus' risk engine skips balance checks for MARGIN accounts and, with bar data only, for
market orders on CASH accounts too, so an over-sized order would fill and push a balance negative
(a CASH venue then stops the whole run). Real venues reject such orders; this client asks the
venue's simulation module (``check_order``) before an order reaches the matching engine.
"""

from __future__ import annotations

from typing import Any, Protocol

from nautilus_trader.backtest.engine import SimulatedExchange
from nautilus_trader.backtest.execution_client import BacktestExecClient
from nautilus_trader.execution.messages import SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.orders import Order


class VenueHost(Protocol):
    """Where simulated venues live: a ``BacktestEngine`` (backtest) or a paper ``TradingNode``.

    ``clock`` is the simulation's clock (data time); ``add_venue`` and ``add_instrument`` take
    ``BacktestEngine``'s arguments.
    """

    msgbus: Any
    cache: Any
    clock: Any

    def add_venue(
        self, venue: Venue, oms_type: OmsType, account_type: AccountType, starting_balances: list, **kwargs
    ) -> None: ...

    def add_instrument(self, instrument: Instrument) -> None: ...

    def use_exec_client(self, exchange: SimulatedExchange, client: BacktestExecClient) -> None:
        """Route ``exchange``'s orders to ``client`` instead of its default client."""


class PreTradeChecker(Protocol):
    exchange: SimulatedExchange

    def check_order(self, order: Order) -> str | None:
        """Why the venue would reject ``order`` (balance, margin, minimum size), or None."""


class CheckedExecClient(BacktestExecClient):
    """``BacktestExecClient`` that runs the venue's pre-trade checks first."""

    def __init__(self, checker: PreTradeChecker, host: VenueHost) -> None:
        super().__init__(exchange=checker.exchange, msgbus=host.msgbus, cache=host.cache, clock=host.clock)
        self._checker = checker

    def _reject(self, order: Order, reason: str) -> None:
        ts = self._clock.timestamp_ns()
        self.generate_order_submitted(order.strategy_id, order.instrument_id, order.client_order_id, ts)
        self.generate_order_rejected(
            order.strategy_id, order.instrument_id, order.client_order_id, reason, ts
        )

    def submit_order(self, command: SubmitOrder) -> None:
        reason = self._checker.check_order(command.order)
        if reason is not None:
            self._reject(command.order, reason)
            return
        super().submit_order(command)

    def submit_order_list(self, command: SubmitOrderList) -> None:
        reasons = [self._checker.check_order(order) for order in command.order_list.orders]
        failed = next((r for r in reasons if r is not None), None)
        if failed is not None:
            for order in command.order_list.orders:
                self._reject(order, failed)
            return
        super().submit_order_list(command)


def install_pre_trade_checks(host: VenueHost, checker: PreTradeChecker) -> None:
    """Replace a venue's default client with :class:`CheckedExecClient`.

    Call after ``host.add_venue(..., modules=[checker])`` (the module then holds the exchange).
    """
    host.use_exec_client(checker.exchange, CheckedExecClient(checker, host))
