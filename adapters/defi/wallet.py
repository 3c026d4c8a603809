"""The on-chain wallet venue's simulation module: the backtest's "chain".

The wallet is a Nautilus CASH venue (``ETHEREUM``) holding every token — USDT, ETH, LSTs,
aTokens, (negative) debt tokens, reward tokens. This module, loaded into it:

- executes protocol actions: it owns the :class:`~adapters.defi.backend.SimulatedBackend` the
  venue's :class:`~adapters.defi.execution.DefiExecClient` sends orders to, and settles what they
  cost besides their fills (gas, flash-loan fees, withdrawal requests);
- charges gas on every on-chain action: ``units × gas price (gwei) × 1e-9`` ETH at the latest
  hourly gas sample, from the wallet's ETH (an action it cannot pay for is rejected);
- keeps the protocols running between actions (:class:`~adapters.defi.upkeep.ProtocolUpkeep`):
  Aave accrual and liquidation, LST withdrawal queues, EtherFi rewards; when its orders go to a
  real chain (the web3 backend), the chain's own Aave liquidations are booked instead of the
  model's (:meth:`WalletModule.watch_chain_liquidations`);
- moves USDT to and from CEX venues (:class:`~adapters.events.TransferRequest` on
  ``TRANSFER_ENDPOINT``): deposits leave now (ERC-20 gas) and are credited after the venue's
  confirmation delay; withdrawals pay the venue's fee now and arrive after its delay; spot↔futures
  moves inside a venue are instant;
- plays the investor: scheduled deposits and withdrawal requests in the share-class currency, and
  the payout that completes a withdrawal once the strategy has raised the cash.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.model.currencies import ETH, USDT
from nautilus_trader.model.data import DataType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money

from adapters.cex.config import CexVenueConfig
from adapters.cex.instruments import cex_instrument_id
from adapters.cex.margin import last_price
from adapters.cex.venue import CexVenueModule
from adapters.defi.aave_market import AaveMarket, risk_figures
from adapters.defi.backend import ChainView, Execution, SimulatedBackend
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import account_balances, currency
from adapters.defi.data import AaveReserveParams, AaveReserveSnapshot, GasPrice, RewardDistribution
from adapters.defi.instruments import eth_usd_pool_id, wallet_instrument_id
from adapters.defi.upkeep import ProtocolUpkeep
from adapters.events import (
    CAPITAL_TOPIC,
    GAS_TOPIC,
    PAYOUT_ENDPOINT,
    TRANSFER_ENDPOINT,
    TRANSFER_TOPIC,
    WALLET_TOPIC,
    AaveLiquidated,
    CapitalFlow,
    CapitalFlowKind,
    FlashLoanFee,
    GasCharged,
    PayoutRequest,
    TransferEvent,
    TransferKind,
    TransferRequest,
    TransferStatus,
    VenueLedger,
)
from adapters.hours import MINUTE_NS

UPKEEP_PRIORITY = 100
"""Message-bus priority of the chain's per-timestamp upkeep: above strategies' (0)."""
GWEI = 1e-9


class WalletModuleConfig(SimulationModuleConfig, frozen=True):
    venue: str


@dataclass(frozen=True)
class ScheduledFlow:
    """An investor deposit (amount > 0) or withdrawal request (amount < 0, ``-inf`` = all) at ``ts``."""

    ts: int
    amount: float


class WalletModule(SimulationModule):
    """The simulated chain around the wallet venue (see the module docstring)."""

    def __init__(
        self,
        config: WalletVenueConfig,
        cex_modules: dict[str, CexVenueModule],
        *,
        flows: list[ScheduledFlow] | None = None,
        flow_currency: str = "USDT",
        aave_params: dict[str, Any] | None = None,
        credit_rewards: bool = True,
        flash_provider: str | None = None,
    ) -> None:
        super().__init__(WalletModuleConfig(venue=config.venue, component_id=f"Wallet-{config.venue}"))
        self.wallet_config = config
        self._venue = Venue(config.venue)
        self._cex = cex_modules
        self._cex_configs: dict[str, CexVenueConfig] = {v: m.venue_config for v, m in cex_modules.items()}
        self._flows = sorted(flows or [], key=lambda f: f.ts)
        self._flow_currency = flow_currency
        self._in_flight: list[tuple[int, int, TransferRequest]] = []
        self._seq = itertools.count()
        self.gas_gwei: float | None = None
        self.gas_eth_total = 0.0
        self.aave = AaveMarket(config.aave, aave_params) if aave_params is not None else None
        self._credit_rewards = credit_rewards
        self._flash_provider = flash_provider or config.flash_loans.default
        self._processed_ns = 0
        self._state_changed = False
        self._chain_price_ids = {
            wallet_instrument_id(config, symbol)
            for symbol in (config.eth_usd_pool, *(s.mint_symbol for s in config.staking))
        }
        """Prices the chain reacts to: the LST rates (Aave's e-mode oracle, eETH value) and ETH/USD."""
        self.backend: SimulatedBackend
        self.upkeep: ProtocolUpkeep
        self._chain_liquidations: Callable[[], list[AaveLiquidated]] | None = None
        self._watched_ns = 0

    def register_venue(self, exchange) -> None:
        super().register_venue(exchange)
        chain = ChainView(
            cache=exchange.cache,
            aave=self.aave,
            balances=self.balances,
            gas_cost_eth=self.gas_cost_eth,
            now_ns=self.clock.timestamp_ns,
            accrue=lambda: self.upkeep.accrue(self.clock.timestamp_ns()),
            flash_provider=self._flash_provider,
            flash_fees=dict(self.wallet_config.flash_loans.fees),
        )
        self.backend = SimulatedBackend(self.wallet_config, chain)
        weeth = next((s for s in self.wallet_config.staking if s.protocol == "ETHERFI"), None)
        weeth_rate_id = wallet_instrument_id(self.wallet_config, weeth.mint_symbol) if weeth else None
        self.upkeep = ProtocolUpkeep(
            self.wallet_config,
            self.aave,
            balances=self.balances,
            adjust=self.adjust,
            publish=lambda event: self.msgbus.publish(WALLET_TOPIC, event),
            health_prices=self.backend.health_prices,
            eeth_rate=lambda: last_price(exchange.cache, weeth_rate_id) if weeth_rate_id else None,
            credit_rewards=self._credit_rewards,
        )
        for endpoint, handler in self.service_endpoints().items():
            self.msgbus.register(endpoint, handler)
        self.msgbus.subscribe(f"data.{DataType(GasPrice).topic}", self._on_gas_price)
        # the wallet venue's own bars (every mode prices ETH/USD there), ahead of strategies: the
        # chain has settled a timestamp before anyone reads it
        self.msgbus.subscribe(
            f"data.bars.*.{self.wallet_config.venue}-*", self._on_bar, priority=UPKEEP_PRIORITY
        )
        self.msgbus.subscribe(f"data.{DataType(RewardDistribution).topic}", self._on_reward)
        if self.aave is not None:
            self.msgbus.subscribe(f"data.{DataType(AaveReserveSnapshot).topic}*", self.upkeep.on_snapshot)
            self.msgbus.subscribe(f"data.{DataType(AaveReserveParams).topic}", self.aave.on_reserve_params)

    def service_endpoints(self) -> dict[str, Callable[[Any], None]]:
        """The transfer service's message-bus endpoints (requests from strategies) and their handlers."""
        return {TRANSFER_ENDPOINT: self._on_transfer_request, PAYOUT_ENDPOINT: self._on_payout}

    # -- balances ----------------------------------------------------------------------------

    def balances(self) -> dict[str, float]:
        """Every token balance of the wallet (debt tokens negative)."""
        return account_balances(self.exchange.cache, self._venue)

    def balance(self, currency_) -> float:
        return self.balances().get(currency_.code, 0.0)

    def adjust(self, code: str, amount: float) -> None:
        """Credit (or debit) the wallet's account outside a fill: interest, rewards, fees, gas."""
        self.exchange.adjust_account(Money(amount, currency(code)))

    def eth_price(self) -> float | None:
        return last_price(self.exchange.cache, eth_usd_pool_id(self.wallet_config))

    def risk_figures(self) -> dict[str, float]:
        """The Aave position's health factor and LTV (NaN without debt)."""
        return risk_figures(self.aave, self.balances(), self.backend.health_prices())

    # -- chain data --------------------------------------------------------------------------

    def _on_gas_price(self, gas: GasPrice) -> None:
        self.gas_gwei = gas.gwei

    # -- gas and settlement ------------------------------------------------------------------

    def gas_cost_eth(self, operation: str) -> float:
        if self.gas_gwei is None:
            raise RuntimeError("no gas-price sample received yet: load gas data from before the first action")
        return self.wallet_config.gas_units_for(operation) * self.gas_gwei * GWEI

    def charge_gas(self, operation: str, eth: float | None = None) -> None:
        """Pay ``operation``'s gas: ``eth`` when the chain measured it, else its units at the gas price."""
        eth = self.gas_cost_eth(operation) if eth is None else eth
        self.adjust("ETH", -eth)
        self.gas_eth_total += eth
        self.msgbus.publish(
            GAS_TOPIC,
            GasCharged(
                operation,
                self.wallet_config.gas_units_for(operation),
                self.gas_gwei or 0.0,
                eth,
                self.eth_price() or 0.0,
                self.clock.timestamp_ns(),
            ),
        )

    def settle(self, execution: Execution) -> None:
        """Book what a transaction costs besides its fills: gas, the flash-loan fee, queued exits."""
        self.charge_gas(execution.gas_operation, execution.gas_eth)
        if execution.flash_fee > 0:
            self.adjust("ETH", -execution.flash_fee)
        if execution.flash_amount > 0:
            event = FlashLoanFee(
                execution.flash_provider,
                execution.flash_amount,
                execution.flash_fee,
                self.clock.timestamp_ns(),
            )
            self.msgbus.publish(WALLET_TOPIC, event)
        for token, amount, due in execution.queued:
            self.upkeep.queue_withdrawal(token, amount, due)
        self.upkeep.record_holdings(self.clock.timestamp_ns())
        self._state_changed = True

    def watch_chain_liquidations(self, poll: Callable[[], list[AaveLiquidated]]) -> None:
        """Book the liquidations ``poll`` reads from the chain the wallet trades on (once per
        timestamp, where the model would check the health factor) instead of the model's: the
        protocol has liquidated already, at the chain's amounts. Each is stamped at the node's
        time it is booked (the chain's block time can run on another clock, a replay's)."""
        self._chain_liquidations = poll
        self.upkeep.model_liquidations = False

    def _book_chain_liquidations(self, ts_now: int) -> None:
        if self._chain_liquidations is None or ts_now <= self._watched_ns:
            return
        self._watched_ns = ts_now
        for event in self._chain_liquidations():
            self.upkeep.book_liquidation(replace(event, ts_event=ts_now))
            self._state_changed = True

    # -- transfers ---------------------------------------------------------------------------

    def _publish(
        self,
        request: TransferRequest,
        status: TransferStatus,
        *,
        ledger: VenueLedger | None = None,
        fee: float = 0.0,
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
            asset=request.asset,
            fee=fee,
        )
        self.msgbus.publish(TRANSFER_TOPIC, event)

    def _reject(self, request: TransferRequest, reason: str) -> None:
        self._publish(request, TransferStatus.FAILED, reason=reason)

    def _on_transfer_request(self, request: TransferRequest) -> None:
        self._publish(request, TransferStatus.REQUESTED)
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
        self.charge_gas("erc20_transfer")
        delay = self._cex_configs[request.venue].transfers.deposit_delay_minutes
        self._publish(request, TransferStatus.SUBMITTED)
        self._schedule(now + int(delay * MINUTE_NS), request)

    def _send_withdrawal(self, request: TransferRequest, module: CexVenueModule) -> None:
        now = self.clock.timestamp_ns()
        terms = self._cex_configs[request.venue].transfers
        if request.asset == "USDT":
            fee = fee_usdt = terms.withdrawal_fee_usdt
            reason = module.apply_transfer(TransferKind.WITHDRAWAL, request.amount + fee)
        elif request.asset == "ETH":
            spot = cex_instrument_id(request.venue, "ETH", "spot")
            fee = terms.withdrawal_fee_eth
            fee_usdt = fee * (last_price(self.exchange.cache, spot) or 0.0)
            reason = module.withdraw_spot(spot, request.amount + fee, now)
        else:
            reason = f"cannot withdraw {request.asset!r} (USDT and spot ETH only)"
        if reason is not None:
            self._reject(request, reason)
            return
        self._publish(request, TransferStatus.SUBMITTED, fee=fee, fee_usdt=fee_usdt, ledger=module.ledger)
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
            self.adjust(request.asset, request.amount)
            ledger = None
        self._publish(request, TransferStatus.ARRIVED, ledger=ledger)

    # -- investor flows ----------------------------------------------------------------------

    def _on_payout(self, request: PayoutRequest) -> None:
        held = self.balances().get(self._flow_currency, 0.0)
        amount = min(request.amount, held)
        if amount <= 0:
            return
        self.adjust(self._flow_currency, -amount)
        self.msgbus.publish(
            CAPITAL_TOPIC, CapitalFlow(CapitalFlowKind.WITHDRAWAL, amount, self.clock.timestamp_ns())
        )

    def _fire_flows(self, ts_now: int) -> None:
        while self._flows and self._flows[0].ts <= ts_now:
            flow = self._flows.pop(0)
            if flow.amount > 0:
                self.adjust(self._flow_currency, flow.amount)
                self.msgbus.publish(CAPITAL_TOPIC, CapitalFlow(CapitalFlowKind.DEPOSIT, flow.amount, ts_now))
            else:
                self.msgbus.publish(
                    CAPITAL_TOPIC,
                    CapitalFlow(CapitalFlowKind.WITHDRAWAL_REQUESTED, -flow.amount, ts_now),
                )

    # -- SimulationModule --------------------------------------------------------------------

    def _settle_time(self, ts: int) -> None:
        """What time does to the chain (accrual, queues, rewards), once per timestamp."""
        if ts > self._processed_ns:
            self._processed_ns = ts
            self.upkeep.run(ts)
            self._state_changed = True

    def _on_bar(self, bar) -> None:
        """Settle the chain before anyone acts at this timestamp; note a price that moves it."""
        self._settle_time(bar.ts_event)
        if bar.bar_type.instrument_id in self._chain_price_ids:
            self._state_changed = True

    def _on_reward(self, reward: RewardDistribution) -> None:
        self.upkeep.on_reward(reward)
        self._settle_time(reward.ts_event)  # pay it at its payout time, bar or not

    def process(self, ts_now: int) -> None:
        while self._in_flight and self._in_flight[0][0] <= ts_now:
            _, _, request = heapq.heappop(self._in_flight)
            self._arrive(request)
        if self._flows:
            self._fire_flows(ts_now)
        self._book_chain_liquidations(ts_now)
        if self._state_changed:  # after every price or balance change, not every data point
            self._state_changed = False
            self.upkeep.check_health(ts_now)
            self.upkeep.record_holdings(ts_now)

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
        self._processed_ns = 0
        self._watched_ns = 0
        self._state_changed = False
