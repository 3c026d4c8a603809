"""Which executor call an atomic order list is: the shapes the leveraged strategies send.

The executor (``contracts/LoopExecutor.sol``) runs fixed sequences, so an ``OrderList`` goes on
chain only when its orders, resolved to protocol actions (:mod:`adapters.defi.actions`), are one of
them, in the order the executor runs them:

- open loop (``LeveragedStaking._lever``): mint an LST, supply the same quantity to Aave, borrow
  WETH — the executor supplies everything it mints;
- deleverage or unwind (``_repay_and_sell``): repay WETH debt, withdraw an LST, sell the same
  quantity on its pool for ETH — the executor sells everything it withdraws.

Anything else is refused here with the shape it had, before any transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nautilus_trader.model.orders import Order

from adapters.defi.actions import AaveAction, Action, ActionError, QueueRequest, Stake, Swap, WalletActions
from adapters.defi.backend import ExecutionRejected
from adapters.defi.config import PoolSpec, StakingSpec

ETH = "ETH"


@dataclass(frozen=True)
class OpenLoop:
    lst: StakingSpec
    a_token: str
    mint: Order
    supply: Order
    borrow: Order


@dataclass(frozen=True)
class RepayAndSell:
    lst: StakingSpec
    pool: PoolSpec
    a_token: str
    debt_token: str
    repay: Order
    withdraw: Order
    sell: Order


type LoopList = OpenLoop | RepayAndSell


def _describe(action: Action) -> str:
    match action:
        case Swap():
            return f"{'buy' if action.buy else 'sell'} on {action.pool.symbol}"
        case Stake():
            return f"mint {action.lst.token}"
        case QueueRequest():
            return f"queue {action.lst.token}"
        case AaveAction():
            return f"{action.kind} {action.underlying}"


def loop_list(actions: WalletActions, orders: Sequence[Order]) -> LoopList:
    """The executor call ``orders`` make; :class:`ExecutionRejected` naming the shape otherwise."""
    try:
        steps = [actions.of(order) for order in orders]
    except ActionError as e:
        raise ExecutionRejected(str(e)) from None
    lsts = {spec.token: spec for spec in actions.mints.values()}
    match steps:
        case [Stake(lst=lst), AaveAction(kind="supply") as supply, AaveAction(kind="borrow") as borrow] if (
            supply.underlying == lst.token and borrow.underlying == ETH
        ):
            if orders[0].quantity == orders[1].quantity:
                return OpenLoop(lst, supply.token, *orders)
        case [AaveAction(kind="repay") as repay, AaveAction(kind="withdraw") as withdraw, Swap() as sale] if (
            repay.underlying == ETH
            and withdraw.underlying in lsts
            and sale.pool.base == withdraw.underlying
            and sale.pool.quote == ETH
            and not sale.buy
        ):
            if orders[1].quantity == orders[2].quantity:
                lst = lsts[withdraw.underlying]
                return RepayAndSell(lst, sale.pool, withdraw.token, repay.token, *orders)
    shape = ", ".join(f"{_describe(s)} {o.quantity}" for s, o in zip(steps, orders, strict=True))
    raise ExecutionRejected(
        f"ATOMIC_SHAPE: the executor runs [mint LST q, supply LST q, borrow ETH] or "
        f"[repay ETH, withdraw LST q, sell LST q for ETH]; this list is [{shape}]"
    )
