"""What an order on each wallet-venue instrument does, in one place for every backend.

The instrument's symbol and the order's side name one protocol action: a pool swap, an LST mint,
a withdrawal-queue request, or an Aave supply / withdraw / borrow / repay. The simulated backend
prices these actions; the web3 backend sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.orders import Order

from adapters.defi.config import PoolSpec, StakingSpec, WalletVenueConfig


class ActionError(ValueError):
    """The order names no action the protocol has (unknown instrument, a side it does not take)."""


@dataclass(frozen=True)
class Swap:
    gas_operation: ClassVar[str] = "token_swap"
    pool: PoolSpec
    buy: bool
    """Buy the pool's base with its quote (or sell the base for the quote)."""


@dataclass(frozen=True)
class Stake:
    """Mint the LST with ETH at the protocol's rate."""

    gas_operation: ClassVar[str] = "stake"
    lst: StakingSpec


@dataclass(frozen=True)
class QueueRequest:
    """Hand the LST to the protocol's withdrawal queue for ETH paid later."""

    gas_operation: ClassVar[str] = "unstake_request"
    lst: StakingSpec


@dataclass(frozen=True)
class AaveAction:
    kind: str
    """``supply`` / ``withdraw`` (aToken buy / sell) or ``repay`` / ``borrow`` (debt token buy / sell)."""
    token: str
    """The aToken or debt token's currency code."""
    underlying: str
    is_debt: bool

    @property
    def gas_operation(self) -> str:
        return f"aave_{self.kind}"


type Action = Swap | Stake | QueueRequest | AaveAction


class WalletActions:
    """Resolves orders on the wallet venue's instruments (``config``) to protocol actions."""

    def __init__(self, config: WalletVenueConfig) -> None:
        self.pools = {p.symbol: p for p in config.pools}
        self.mints = {s.mint_symbol: s for s in config.staking}
        self.queues = {s.queue_symbol: s for s in config.staking}
        self.aave_tokens: dict[str, tuple[str, str, bool]] = {}
        """Instrument symbol → (token, underlying, is it a debt token)."""
        for reserve in config.aave.reserves:
            self.aave_tokens[f"{reserve.a_token}-AAVE"] = (reserve.a_token, reserve.underlying, False)
            if reserve.debt_token:
                debt = (reserve.debt_token, reserve.underlying, True)
                self.aave_tokens[f"{reserve.debt_token}-AAVE"] = debt
        self.debt_tokens = {code for code, _, is_debt in self.aave_tokens.values() if is_debt}
        """Tokens whose balance is negative by design (Aave debt)."""

    def of(self, order: Order) -> Action:
        symbol, buying = order.instrument_id.symbol.value, order.side == OrderSide.BUY
        if symbol in self.pools:
            return Swap(self.pools[symbol], buying)
        if symbol in self.mints:
            lst = self.mints[symbol]
            if not buying:
                exits = f"redeem through {lst.queue_symbol} or sell on {lst.market_pool}"
                raise ActionError(f"{lst.mint_symbol} only mints; {exits}")
            return Stake(lst)
        if symbol in self.queues:
            lst = self.queues[symbol]
            if buying:
                raise ActionError(f"{lst.queue_symbol} only takes withdrawal requests (sell)")
            return QueueRequest(lst)
        if symbol in self.aave_tokens:
            token, underlying, is_debt = self.aave_tokens[symbol]
            kinds = ("repay", "borrow") if is_debt else ("supply", "withdraw")
            kind = kinds[0] if buying else kinds[1]
            return AaveAction(kind, token, underlying, is_debt)
        raise ActionError(f"{order.instrument_id} is not a wallet-venue instrument")
