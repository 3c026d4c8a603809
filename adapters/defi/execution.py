"""The wallet venue's execution client: orders on protocol instruments go through a backend.

In a backtest the venue is a Nautilus CASH venue (it holds the wallet's account and processes the
pools' bars); this client replaces its default client, hands every order (or order list, as one
transaction) to the :class:`~adapters.defi.backend.ProtocolBackend`, and books what the backend
returns as ordinary Nautilus fills, so balances, reports and strategies work as on any venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nautilus_trader.backtest.engine import SimulatedExchange
from nautilus_trader.backtest.execution_client import BacktestExecClient
from nautilus_trader.execution.messages import SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import LiquiditySide
from nautilus_trader.model.identifiers import TradeId, VenueOrderId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import Order

from adapters.defi.backend import Execution, ExecutionRejected, ProtocolBackend
from adapters.execution import VenueHost


class WalletSettlement(Protocol):
    """What the chain does besides the fills: gas, flash-loan fees, withdrawal queues."""

    def charge_gas(self, operation: str, eth: float | None = None) -> None: ...

    def settle(self, execution: Execution) -> None: ...


def taker_commission(instrument: Instrument, quantity: Quantity, price: Price) -> Money:
    """The pool's fee on a fill, as Nautilus' maker/taker fee model charges a taker (in the quote)."""
    notional = instrument.notional_value(quantity=quantity, price=price, use_quote_for_inverse=False)
    return Money(notional.as_decimal() * instrument.taker_fee, instrument.quote_currency)


class DefiExecClient(BacktestExecClient):
    """Routes the wallet venue's orders to a protocol backend and books the fills it returns."""

    def __init__(
        self, host: VenueHost, exchange: SimulatedExchange, backend: ProtocolBackend, chain: WalletSettlement
    ) -> None:
        super().__init__(
            exchange=exchange,
            msgbus=host.msgbus,
            cache=host.cache,
            clock=host.clock,  # cash borrowing (debt tokens) is enabled on the venue itself
        )
        self._wallet_exchange = exchange  # the Cython base keeps its own reference private
        self._backend = backend
        self._chain = chain
        self._sequence = 0
        self._trades = 0

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
                self._chain.charge_gas(rejected.gas_operation, rejected.gas_eth)
            for order in orders:
                self.generate_order_rejected(
                    order.strategy_id, order.instrument_id, order.client_order_id, rejected.reason, ts
                )
            return
        venue_order_ids = {}
        for order in orders:
            self._sequence += 1
            venue_order_ids[order.client_order_id] = VenueOrderId(f"{self.venue}-{self._sequence}")
            self.generate_order_accepted(
                order.strategy_id,
                order.instrument_id,
                order.client_order_id,
                venue_order_ids[order.client_order_id],
                ts,
            )
        # Fills are reported as a live venue reports them (the order's own events may still be
        # queued in a live engine, so nothing here reads the order's state back)
        for fill in execution.fills:
            order = fill.order
            instrument = self._wallet_exchange.get_matching_engine(order.instrument_id).instrument
            price = instrument.make_price(fill.price)
            self._trades += 1
            self.generate_order_filled(
                order.strategy_id,
                order.instrument_id,
                order.client_order_id,
                venue_order_ids[order.client_order_id],
                None,
                TradeId(f"{self.venue}-T{self._trades}"),
                order.side,
                order.order_type,
                order.quantity,
                price,
                instrument.quote_currency,
                taker_commission(instrument, order.quantity, price),
                LiquiditySide.TAKER,
                ts,
            )
        self._chain.settle(execution)


def install_defi_client(
    host: VenueHost, exchange: SimulatedExchange, backend: ProtocolBackend, chain: WalletSettlement
) -> DefiExecClient:
    """Replace the wallet venue's default client with a :class:`DefiExecClient`."""
    client = DefiExecClient(host, exchange, backend, chain)
    host.use_exec_client(exchange, client)
    return client
