"""The on-chain wallet venue's core: balances, gas, transfers to/from CEX venues, capital flows.

The wallet is a Nautilus CASH venue (``ETHEREUM``) holding USDT and ETH. This simulation module,
loaded into it, is the backtest's "chain":

- gas: every on-chain action costs ``units × gas price (gwei) × 1e-9`` ETH at the latest hourly
  gas sample, paid from the wallet's ETH; an action the wallet cannot pay gas for is rejected;
  DEX swap fills on this venue are charged as they happen;
- transfers (:class:`~adapters.transfers.TransferRequest` on ``TRANSFER_ENDPOINT``): deposits to a
  CEX leave now (ERC-20 gas) and are credited after the venue's confirmation delay; withdrawals
  pay the venue's fee now and arrive after its delay; spot↔futures moves inside a venue are
  instant. Every step is published on ``TRANSFER_TOPIC``;
- capital flows: a schedule of investor deposits and withdrawal requests (share-class USDT), and
  the payout that completes a withdrawal once the strategy has raised the cash.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.model.currencies import ETH, USDT
from nautilus_trader.model.data import DataType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.model.orders import Order

from adapters.cex.config import CexVenueConfig, WalletVenueConfig
from adapters.cex.margin import last_price
from adapters.cex.venue import CexVenueModule
from adapters.defi.instruments import pool_instrument_id
from adapters.transfers import (
    CAPITAL_TOPIC,
    GAS_TOPIC,
    PAYOUT_ENDPOINT,
    TRANSFER_ENDPOINT,
    TRANSFER_TOPIC,
    CapitalFlow,
    CapitalFlowKind,
    GasCharged,
    PayoutRequest,
    TransferEvent,
    TransferKind,
    TransferRequest,
    TransferStatus,
    VenueLedger,
)
from data_catalog.types import GasPrice

MINUTE_NS = 60_000_000_000
GWEI = 1e-9


class WalletModuleConfig(SimulationModuleConfig, frozen=True):
    venue: str


@dataclass(frozen=True)
class ScheduledFlow:
    """An investor deposit (amount > 0) or withdrawal request (amount < 0, ``-inf`` = all) at ``ts``."""

    ts: int
    amount: float


class WalletModule(SimulationModule):
    """Gas, CEX transfers and investor flows of the on-chain wallet venue."""

    def __init__(
        self,
        config: WalletVenueConfig,
        cex_modules: dict[str, CexVenueModule],
        cex_configs: dict[str, CexVenueConfig],
        flows: list[ScheduledFlow] | None = None,
    ) -> None:
        super().__init__(WalletModuleConfig(venue=config.venue, component_id=f"Wallet-{config.venue}"))
        self.wallet_config = config
        self._cex = cex_modules
        self._cex_configs = cex_configs
        self._flows = sorted(flows or [], key=lambda f: f.ts)
        self._pool_id: InstrumentId = pool_instrument_id(config)
        self._in_flight: list[tuple[int, int, TransferRequest]] = []
        self._seq = itertools.count()
        self.gas_gwei: float | None = None
        self.gas_eth_total = 0.0

    def register_venue(self, exchange) -> None:
        super().register_venue(exchange)
        self.msgbus.register(TRANSFER_ENDPOINT, self._on_transfer_request)
        self.msgbus.register(PAYOUT_ENDPOINT, self._on_payout)
        self.msgbus.subscribe(f"data.{DataType(GasPrice).topic}", self._on_gas_price)
        self.msgbus.subscribe(f"events.fills.{self._pool_id}", self._on_pool_fill)

    # -- balances ----------------------------------------------------------------------------

    def balance(self, currency) -> float:
        account = self.exchange.cache.account_for_venue(Venue(self.wallet_config.venue))
        money = account.balance_total(currency) if account is not None else None
        return money.as_double() if money is not None else 0.0

    def eth_price(self) -> float | None:
        return last_price(self.exchange.cache, self._pool_id)

    # -- gas ---------------------------------------------------------------------------------

    def _on_gas_price(self, gas: GasPrice) -> None:
        self.gas_gwei = gas.gwei

    def gas_cost_eth(self, operation: str) -> float:
        if self.gas_gwei is None:
            raise RuntimeError("no gas-price sample received yet: load gas data from before the first action")
        return self.wallet_config.gas_units_for(operation) * self.gas_gwei * GWEI

    def _charge_gas(self, operation: str, ts: int) -> None:
        eth = self.gas_cost_eth(operation)
        self.exchange.adjust_account(Money(-eth, ETH))
        self.gas_eth_total += eth
        self.msgbus.publish(
            GAS_TOPIC,
            GasCharged(
                operation,
                self.wallet_config.gas_units_for(operation),
                self.gas_gwei or 0.0,
                eth,
                self.eth_price() or 0.0,
                ts,
            ),
        )

    def _on_pool_fill(self, fill: OrderFilled) -> None:
        self._charge_gas("token_swap", fill.ts_event)

    def check_order(self, order: Order) -> str | None:
        """A swap needs the tokens it sells and, after it, ETH for its own gas."""
        if order.instrument_id != self._pool_id:
            return f"{order.instrument_id} is not traded on the {self.wallet_config.venue} wallet venue"
        price = self.eth_price()
        if price is None:
            return f"no market price for {order.instrument_id}"
        if self.gas_gwei is None:
            return "no gas price known yet"
        qty = order.quantity.as_double()
        fee = float(self.exchange.cache.instrument(self._pool_id).taker_fee)
        gas = self.gas_cost_eth("token_swap")
        usdt, eth = self.balance(USDT), self.balance(ETH)
        if order.side == OrderSide.BUY:
            cost = qty * price * (1 + fee)
            if cost > usdt + 1e-9:
                return (
                    f"INSUFFICIENT_BALANCE: wallet holds {usdt:.2f} USDT, buying {qty} ETH needs {cost:.2f}"
                )
            if eth + qty < gas:
                after = eth + qty
                return f"INSUFFICIENT_GAS: swap gas needs {gas:.6f} ETH, the wallet would hold {after:.6f}"
            return None
        if qty + gas > eth + 1e-12:
            return (
                f"INSUFFICIENT_BALANCE: selling {qty} ETH plus {gas:.6f} ETH gas, the wallet holds {eth:.6f}"
            )
        return None

    # -- transfers ---------------------------------------------------------------------------

    def _publish(
        self,
        request: TransferRequest,
        status: TransferStatus,
        *,
        ledger: VenueLedger | None = None,
        fee_usdt: float = 0.0,
        reason: str = "",
    ) -> None:
        event = TransferEvent(
            request.request_id,
            request.kind,
            request.venue,
            request.amount,
            status,
            self.clock.timestamp_ns(),
            fee_usdt=fee_usdt,
            ledger=ledger,
            reason=reason,
        )
        self.msgbus.publish(TRANSFER_TOPIC, event)

    def _reject(self, request: TransferRequest, reason: str) -> None:
        self._publish(request, TransferStatus.REJECTED, reason=reason)

    def _on_transfer_request(self, request: TransferRequest) -> None:
        module = self._cex.get(request.venue)
        if module is None:
            self._reject(request, f"unknown CEX venue {request.venue!r} (known: {sorted(self._cex)})")
            return
        if request.amount <= 0:
            self._reject(request, f"transfer amount must be positive, got {request.amount}")
            return
        handler = {
            TransferKind.DEPOSIT: self._send_deposit,
            TransferKind.WITHDRAWAL: self._send_withdrawal,
        }.get(request.kind, self._move_internal)
        handler(request, module)

    def _send_deposit(self, request: TransferRequest, module: CexVenueModule) -> None:
        now = self.clock.timestamp_ns()
        usdt = self.balance(USDT)
        if request.amount > usdt + 1e-9:
            self._reject(request, f"wallet holds {usdt:.2f} USDT, deposit needs {request.amount:.2f}")
            return
        gas = self.gas_cost_eth("erc20_transfer")
        eth = self.balance(ETH)
        if gas > eth:
            self._reject(request, f"wallet holds {eth:.6f} ETH, the transfer's gas needs {gas:.6f} ETH")
            return
        self.exchange.adjust_account(Money(-request.amount, USDT))
        self._charge_gas("erc20_transfer", now)
        delay = self._cex_configs[request.venue].transfers.deposit_delay_minutes
        self._publish(request, TransferStatus.SENT)
        self._schedule(now + int(delay * MINUTE_NS), request)

    def _send_withdrawal(self, request: TransferRequest, module: CexVenueModule) -> None:
        now = self.clock.timestamp_ns()
        terms = self._cex_configs[request.venue].transfers
        reason = module.apply_transfer(TransferKind.WITHDRAWAL, request.amount + terms.withdrawal_fee_usdt)
        if reason is not None:
            self._reject(request, reason)
            return
        self._publish(request, TransferStatus.SENT, fee_usdt=terms.withdrawal_fee_usdt, ledger=module.ledger)
        self._schedule(now + int(terms.withdrawal_delay_minutes * MINUTE_NS), request)

    def _move_internal(self, request: TransferRequest, module: CexVenueModule) -> None:
        reason = module.apply_transfer(request.kind, request.amount)
        if reason is not None:
            self._reject(request, reason)
            return
        self._publish(request, TransferStatus.ARRIVED, ledger=module.ledger)

    def _schedule(self, arrive_ns: int, request: TransferRequest) -> None:
        heapq.heappush(self._in_flight, (arrive_ns, next(self._seq), request))

    def _arrive(self, request: TransferRequest) -> None:
        module = self._cex[request.venue]
        if request.kind == TransferKind.DEPOSIT:
            module.apply_transfer(TransferKind.DEPOSIT, request.amount)
            ledger = module.ledger
        else:
            self.exchange.adjust_account(Money(request.amount, USDT))
            ledger = None
        self._publish(request, TransferStatus.ARRIVED, ledger=ledger)

    # -- investor flows ----------------------------------------------------------------------

    def _on_payout(self, request: PayoutRequest) -> None:
        usdt = self.balance(USDT)
        amount = min(request.amount, usdt)
        if amount <= 0:
            return
        self.exchange.adjust_account(Money(-amount, USDT))
        self.msgbus.publish(
            CAPITAL_TOPIC, CapitalFlow(CapitalFlowKind.WITHDRAWAL, amount, self.clock.timestamp_ns())
        )

    def _fire_flows(self, ts_now: int) -> None:
        while self._flows and self._flows[0].ts <= ts_now:
            flow = self._flows.pop(0)
            if flow.amount > 0:
                self.exchange.adjust_account(Money(flow.amount, USDT))
                self.msgbus.publish(CAPITAL_TOPIC, CapitalFlow(CapitalFlowKind.DEPOSIT, flow.amount, ts_now))
            else:
                self.msgbus.publish(
                    CAPITAL_TOPIC,
                    CapitalFlow(CapitalFlowKind.WITHDRAWAL_REQUESTED, -flow.amount, ts_now),
                )

    # -- SimulationModule --------------------------------------------------------------------

    def process(self, ts_now: int) -> None:
        while self._in_flight and self._in_flight[0][0] <= ts_now:
            _, _, request = heapq.heappop(self._in_flight)
            self._arrive(request)
        if self._flows:
            self._fire_flows(ts_now)

    @property
    def in_flight(self) -> list[TransferRequest]:
        return [request for _, _, request in self._in_flight]

    def log_diagnostics(self, logger) -> None:
        venue, pending = self.wallet_config.venue, len(self._in_flight)
        logger.info(f"{venue}: gas paid {self.gas_eth_total:.6f} ETH, {pending} transfers in flight")

    def reset(self) -> None:
        self._in_flight = []
        self.gas_gwei = None
        self.gas_eth_total = 0.0
