"""Executing wallet-venue orders against the protocols: the backend interface and its simulation.

The wallet's execution client turns orders into protocol actions through a
:class:`ProtocolBackend`. This module holds the interface and :class:`SimulatedBackend`, which
prices each action from the simulated chain (pool prices with a size-dependent impact, LST
protocol rates, Aave 1:1), checks it the way the chain would (balances, gas, Aave health factor,
LTV and caps) and returns the fills to book. A web3 backend implements the same ``execute`` by
sending transactions and reading receipts; strategies do not change.

An order list is one transaction: every step is simulated on a copy of the balances, a flash
loan covers what the steps need of ETH before they return it (its fee charged once), and either
every step fills or none does — a failed transaction still costs its gas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.orders import Order

from adapters.cex.margin import last_price
from adapters.defi import dex
from adapters.defi.aave_market import AaveMarket, oracle_prices
from adapters.defi.actions import AaveAction, ActionError, QueueRequest, Stake, Swap, WalletActions
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import WITHDRAWAL_QUEUE
from adapters.defi.instruments import wallet_instrument_id
from adapters.hours import HOUR_NS

FLASH_TOKEN = "ETH"
"""Flash loans here borrow WETH (held as ETH)."""
DUST = 1e-9


class ExecutionRejected(Exception):
    """The chain would refuse (or revert) the action; ``gas_operation`` is set when gas is still spent
    (``gas_eth`` too when the chain measured it: a transaction that was sent and reverted)."""

    def __init__(self, reason: str, gas_operation: str | None = None, gas_eth: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gas_operation = gas_operation
        self.gas_eth = gas_eth


@dataclass(frozen=True)
class PlannedFill:
    order: Order
    price: float


@dataclass(frozen=True)
class Execution:
    """What one transaction does: fills to book, its gas, a flash loan's fee, queued withdrawals."""

    fills: tuple[PlannedFill, ...]
    gas_operation: str
    flash_amount: float = 0.0
    flash_fee: float = 0.0
    flash_provider: str = ""
    queued: tuple[tuple[str, float, int], ...] = ()
    """(LST token, queue ETH amount, time it becomes ETH) per withdrawal request."""
    gas_eth: float | None = None
    """ETH the chain charged for gas, when sent on chain; None: priced from ``gas_operation``'s units."""


class ProtocolBackend(Protocol):
    def execute(self, orders: Sequence[Order], atomic: bool) -> Execution:
        """Simulate or send ``orders``; raise :class:`ExecutionRejected` when the chain would refuse."""


@dataclass
class _Step:
    price: float
    changes: dict[str, float]
    gas_operation: str
    queued: tuple[str, float, int] | None = None
    aave: str = ""
    """``supply``, ``withdraw``, ``borrow`` or ``repay`` when the step touches Aave."""
    cap_token: str = ""
    cap_amount: float = 0.0


@dataclass
class ChainView:
    """What the backend reads from the simulated chain (provided by the wallet venue's module)."""

    cache: Cache
    aave: AaveMarket | None
    balances: Callable[[], dict[str, float]]
    gas_cost_eth: Callable[[str], float]
    now_ns: Callable[[], int]
    accrue: Callable[[], None]
    flash_provider: str
    flash_fees: dict[str, float] = field(default_factory=dict)


class SimulatedBackend:
    """Prices and validates wallet-venue orders on the simulated chain (see the module docstring)."""

    def __init__(self, config: WalletVenueConfig, chain: ChainView) -> None:
        self.config = config
        self.chain = chain
        self.actions = WalletActions(config)

    # -- pricing one step --------------------------------------------------------------------

    def _mark(self, symbol: str) -> float:
        price = last_price(self.chain.cache, wallet_instrument_id(self.config, symbol))
        if price is None:
            raise ExecutionRejected(f"no price yet for {symbol}")
        return price

    def _fill_price(self, order: Order, price: float) -> float:
        """``price`` on the instrument's tick, as the fill will be booked."""
        return self.chain.cache.instrument(order.instrument_id).make_price(price).as_double()

    def _pool_step(self, order: Order, swap: Swap) -> _Step:
        """A swap at the pool's mark with price impact; the pool fee is booked as the fill's commission."""
        pool, symbol = swap.pool, swap.pool.symbol
        qty, mark, fee = order.quantity.as_double(), self._mark(symbol), float(pool.fee)
        try:
            if swap.buy:
                price = self._fill_price(order, dex.quote_for_base(qty, mark, pool.depth, 0.0).avg_price)
                changes = {pool.base: qty, pool.quote: -qty * price * (1 + fee)}
            else:
                price = self._fill_price(order, dex.sell_base(qty, mark, pool.depth, 0.0).avg_price)
                changes = {pool.base: -qty, pool.quote: qty * price * (1 - fee)}
        except ValueError as e:
            raise ExecutionRejected(f"{symbol}: {e}") from None
        return _Step(price, changes, swap.gas_operation)

    def _mint_step(self, order: Order, stake: Stake) -> _Step:
        lst = stake.lst
        qty, rate = order.quantity.as_double(), self._fill_price(order, self._mark(lst.mint_symbol))
        return _Step(rate, {lst.token: qty, "ETH": -qty * rate}, stake.gas_operation)

    def _queue_step(self, order: Order, request: QueueRequest) -> _Step:
        lst, qty = request.lst, order.quantity.as_double()
        rate = self._fill_price(order, self._mark(lst.mint_symbol))
        due = self.chain.now_ns() + int(lst.withdrawal_delay_hours * HOUR_NS)
        changes = {lst.token: -qty, WITHDRAWAL_QUEUE: qty * rate}
        return _Step(rate, changes, request.gas_operation, queued=(lst.token, qty * rate, due))

    def _aave_step(self, order: Order, action: AaveAction) -> _Step:
        if self.chain.aave is None:
            raise ExecutionRejected(
                "no Aave parameters in this catalog: rebuild it with the aave/params files"
            )
        reserve = self.chain.aave.reserve_of(action.token)
        if reserve is None or not self.chain.aave.ready(reserve.asset):
            raise ExecutionRejected(f"no {order.instrument_id.symbol} index snapshot yet")
        qty = order.quantity.as_double()
        sign = 1.0 if action.kind in ("supply", "repay") else -1.0
        changes = {action.token: sign * qty, action.underlying: -sign * qty}
        cap_amount = qty if action.kind in ("supply", "borrow") else 0.0
        return _Step(
            1.0,
            changes,
            action.gas_operation,
            aave=action.kind,
            cap_token=action.token,
            cap_amount=cap_amount,
        )

    def _step(self, order: Order) -> _Step:
        try:
            action = self.actions.of(order)
        except ActionError as e:
            raise ExecutionRejected(str(e)) from None
        match action:
            case Swap():
                return self._pool_step(order, action)
            case Stake():
                return self._mint_step(order, action)
            case QueueRequest():
                return self._queue_step(order, action)
            case AaveAction():
                return self._aave_step(order, action)

    # -- the transaction ---------------------------------------------------------------------

    def execute(self, orders: Sequence[Order], atomic: bool) -> Execution:
        self.chain.accrue()
        balances = self.chain.balances()
        before = dict(balances)
        steps, fills = [], []
        lowest_flash_balance = balances.get(FLASH_TOKEN, 0.0)
        for order in orders:
            step = self._step(order)
            for code, change in step.changes.items():
                balances[code] = balances.get(code, 0.0) + change
            lowest_flash_balance = min(lowest_flash_balance, balances.get(FLASH_TOKEN, 0.0))
            steps.append(step)
            fills.append(PlannedFill(order, step.price))
        gas_operation = self._gas_operation(steps, atomic)
        # a transaction that reverts still burns its gas, if the wallet could send it at all
        affordable = before.get("ETH", 0.0) + DUST >= self.chain.gas_cost_eth(gas_operation)
        revert_gas = gas_operation if atomic and affordable else None
        flash_amount = max(0.0, -lowest_flash_balance) if atomic else 0.0
        fee_rate = self.chain.flash_fees.get(self.chain.flash_provider, 0.0)
        flash_fee = flash_amount * fee_rate
        balances[FLASH_TOKEN] = balances.get(FLASH_TOKEN, 0.0) - flash_fee
        self._check_solvent(balances, revert_gas)
        self._check_gas(balances, gas_operation, revert_gas)
        self._check_aave(before, balances, steps, revert_gas)
        queued = tuple(step.queued for step in steps if step.queued is not None)
        provider = self.chain.flash_provider if flash_amount else ""
        return Execution(tuple(fills), gas_operation, flash_amount, flash_fee, provider, queued)

    def _gas_operation(self, steps: list[_Step], atomic: bool) -> str:
        if not atomic or len(steps) == 1:
            return steps[0].gas_operation
        return "atomic_leverage" if any(s.aave == "borrow" for s in steps) else "atomic_deleverage"

    def _check_solvent(self, balances: dict[str, float], gas_operation: str | None) -> None:
        debts = self.actions.debt_tokens
        over_repaid = {code: balances[code] for code in debts if balances.get(code, 0.0) > DUST}
        if over_repaid:  # Aave would repay at most the debt; an order for more is a strategy error
            detail = ", ".join(f"{code} by {amount:.8f}" for code, amount in sorted(over_repaid.items()))
            raise ExecutionRejected(f"AAVE_REPAY: the repayment exceeds the debt: {detail}", gas_operation)
        short = {
            code: amount
            for code, amount in balances.items()
            if amount < -DUST and code not in self.actions.debt_tokens
        }
        if short:
            detail = ", ".join(f"{code} {amount:.8f}" for code, amount in sorted(short.items()))
            raise ExecutionRejected(
                f"INSUFFICIENT_BALANCE: the wallet would end short of {detail}", gas_operation
            )

    def _check_gas(self, balances: dict[str, float], operation: str, revert_gas: str | None) -> None:
        gas = self.chain.gas_cost_eth(operation)
        if balances.get("ETH", 0.0) + DUST < gas:
            raise ExecutionRejected(
                f"INSUFFICIENT_GAS: {operation} needs {gas:.6f} ETH of gas, the wallet would hold "
                f"{balances.get('ETH', 0.0):.6f}",
                revert_gas,
            )

    def _check_aave(
        self,
        before: dict[str, float],
        balances: dict[str, float],
        steps: list[_Step],
        revert_gas: str | None,
    ) -> None:
        actions = [s for s in steps if s.aave]
        if not actions or self.chain.aave is None:
            return
        aave = self.chain.aave
        added: dict[str, float] = {}
        for step in actions:  # every step's addition counts against the cap, in order
            if step.cap_amount:
                added[step.cap_token] = added.get(step.cap_token, 0.0) + step.cap_amount
                held = before.get(step.cap_token, 0.0)
                if reason := aave.cap_check(step.cap_token, held, added[step.cap_token]):
                    raise ExecutionRejected(f"AAVE_CAP: {reason}", revert_gas)
        position = aave.position(balances)
        if not position.debt:
            return
        prices = self.health_prices()
        hf = aave.health_factor(position, prices)
        if hf < 1.0:
            raise ExecutionRejected(
                f"AAVE_HEALTH: the position would end at health factor {hf:.4f} < 1", revert_gas
            )
        if (
            any(s.aave in ("borrow", "withdraw") for s in actions)
            and aave.borrowing_power(position, prices) < -DUST
        ):
            ltv = aave.loan_to_value(position, prices)
            raise ExecutionRejected(
                f"AAVE_LTV: borrowing or withdrawing to LTV {ltv:.4f} above the maximum", revert_gas
            )

    def health_prices(self) -> dict[str, float]:
        """Reserve prices in ETH as Aave's oracles see them (:func:`oracle_prices`)."""
        return oracle_prices(self.config, self.chain.cache)
