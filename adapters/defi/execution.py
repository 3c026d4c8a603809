"""The wallet venue's execution client: orders on protocol instruments go through a backend.

In a backtest the venue is a Nautilus CASH venue (it holds the wallet's account and processes the
pools' bars); this client replaces its default client, hands every order (or order list, as one
transaction) to the :class:`~adapters.defi.backend.ProtocolBackend`, and books what the backend
returns as ordinary Nautilus fills, so balances, reports and strategies work as on any venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nautilus_trader.backtest.engine import BacktestEngine, SimulatedExchange
from nautilus_trader.backtest.execution_client import BacktestExecClient
from nautilus_trader.execution.messages import SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import LiquiditySide
from nautilus_trader.model.identifiers import VenueOrderId
from nautilus_trader.model.orders import Order

from adapters.defi.backend import Execution, ExecutionRejected, ProtocolBackend
from adapters.execution import replace_exec_client


class WalletSettlement(Protocol):
    """What the chain does besides the fills: gas, flash-loan fees, withdrawal queues."""

    def charge_gas(self, operation: str) -> None: ...

    def settle(self, execution: Execution) -> None: ...


class DefiExecClient(BacktestExecClient):
    """Routes the wallet venue's orders to a protocol backend and books the fills it returns."""

    def __init__(
        self, engine: BacktestEngine, exchange, backend: ProtocolBackend, chain: WalletSettlement
    ) -> None:
        kernel = engine.kernel
        super().__init__(
            exchange=exchange,
            msgbus=kernel.msgbus,
            cache=kernel.cache,
            clock=kernel.clock,  # cash borrowing (debt tokens) is enabled on the venue itself
        )
        self._wallet_exchange = exchange  # the Cython base keeps its own reference private
        self._backend = backend
        self._chain = chain
        self._sequence = 0

    def submit_order(self, command: SubmitOrder) -> None:
        self._execute([command.order], atomic=False)

    def submit_order_list(self, command: SubmitOrderList) -> None:
        self._execute(command.order_list.orders, atomic=True)

    def _execute(self, orders: Sequence[Order], atomic: bool) -> None:
        ts = self._clock.timestamp_ns()
        for order in orders:
            self.generate_order_submitted(order.strategy_id, order.instrument_id, order.client_order_id, ts)
        try:
            execution = self._backend.execute(orders, atomic)
        except ExecutionRejected as rejected:
            if rejected.gas_operation is not None:  # a reverted transaction still burns its gas
                self._chain.charge_gas(rejected.gas_operation)
            for order in orders:
                self.generate_order_rejected(
                    order.strategy_id, order.instrument_id, order.client_order_id, rejected.reason, ts
                )
            return
        for order in orders:
            self._sequence += 1
            venue_order_id = VenueOrderId(f"{self.venue}-{self._sequence}")
            self.generate_order_accepted(
                order.strategy_id, order.instrument_id, order.client_order_id, venue_order_id, ts
            )
        for fill in execution.fills:
            engine = self._wallet_exchange.get_matching_engine(fill.order.instrument_id)
            price = engine.instrument.make_price(fill.price)
            engine.apply_fills(fill.order, [(price, fill.order.quantity)], LiquiditySide.TAKER)
        self._chain.settle(execution)


def install_defi_client(
    engine: BacktestEngine, exchange: SimulatedExchange, backend: ProtocolBackend, chain: WalletSettlement
) -> DefiExecClient:
    """Replace the wallet venue's default backtest client with a :class:`DefiExecClient`."""
    client = DefiExecClient(engine, exchange, backend, chain)
    replace_exec_client(engine, exchange, client)
    return client
