"""The on-chain wallet's value and where its change comes from, token by token.

The wallet holds many tokens (USDT, ETH, LSTs, aTokens, negative debt tokens, queue ETH, reward
tokens), each valued in USDT by :class:`~adapters.defi.valuation.WalletValuation`. Between two
samples its value changes by

    Σ q_prev × (P_new − P_prev)   (revaluation of what was held)
  + Σ Δq × P_new                 (quantities that changed)

exactly. The first term is price P&L, except the part of an LST's move that is its protocol rate
growing — that is staking yield. The second is split by what changed the quantity, as reported by
the venue's events: interest (Aave accrual), rewards, gas, flash-loan fees, Aave liquidations,
trading fees, and trades — whose value at the marks is their slippage (a fill at the mark is
worth zero; an LST sold on a DEX below its protocol rate is not) — when a trade happened at other
prices than the sample's (a bar inside the hour), the move from there to the sample is price P&L.
Transfers and investor flows
move value in or out of the wallet at par and are not P&L. A token without a price yet is valued
at zero throughout, so it reconciles and shows up as price P&L once its market opens.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.cex.margin import last_price
from adapters.defi.valuation import WalletValuation
from adapters.events import (
    AaveLiquidated,
    FlashLoanFee,
    GasCharged,
    InterestAccrued,
    RewardCredited,
    WithdrawalFinalised,
)

ESTIMATED_REWARDS = "restaking_rewards_estimated"
"""The part of ``restaking_rewards`` from programs whose amounts are estimates (ranges)."""


@dataclass(frozen=True)
class WalletSample:
    value: float
    """USDT value of every token."""
    eth_linked: float
    """ETH held directly or through staking / Aave (debt negative): the wallet's ETH delta."""
    amounts: dict[str, float]
    """USDT attribution of the change since the previous sample, by category."""
    unpriced: tuple[str, ...]


class WalletBook:
    """Values the wallet and attributes its change (see the module docstring)."""

    def __init__(self, valuation: WalletValuation, venue: Venue) -> None:
        self.valuation = valuation
        self.venue = venue
        self._changes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._traded: list[tuple[str, float, float]] = []
        """(token, quantity change, its price at the fill) of every wallet trade since the sample."""
        self._prev_qty: dict[str, float] = {}
        self._prev_prices: dict[str, float] = {}
        self._prev_rates: dict[str, float] = {}
        self.unpriced_seen: set[str] = set()
        self._staking: dict[str, tuple[InstrumentId, str] | None] = {}
        self._eth_linked = {
            code: valuation.is_eth_linked(code) for code in (*valuation.rules, valuation.share_class)
        }

    # -- quantity changes reported by the venue ----------------------------------------------

    def _change(self, category: str, code: str, amount: float) -> None:
        self._changes[category][code] += amount

    def on_fill(self, fill: OrderFilled, base: str, quote: str, cache: Cache) -> None:
        qty = fill.last_qty.as_double()
        sign = 1.0 if fill.order_side == OrderSide.BUY else -1.0
        changes = ((base, sign * qty), (quote, -sign * qty * fill.last_px.as_double()))
        marks = self.valuation.prices((base, quote), cache)
        for code, change in changes:
            self._change("slippage", code, change)
            if (mark := marks[code]) is not None:
                self._traded.append((code, change, mark))
        if fill.commission is not None:
            self._change("trading_fees", fill.commission.currency.code, -fill.commission.as_double())

    def on_event(self, event: object) -> None:
        match event:
            case InterestAccrued(token=token, amount=amount, borrowed=borrowed):
                category = "borrow_interest" if borrowed else "supply_interest"
                self._change(category, token, amount)
            case RewardCredited(token=token, amount=amount, estimated=estimated):
                self._change("restaking_rewards", token, amount)
                if estimated:
                    self._change(ESTIMATED_REWARDS, token, amount)
            case FlashLoanFee(fee=fee):
                self._change("flash_loan_fees", "ETH", -fee)
            case AaveLiquidated():
                self._change("liquidation_losses", event.debt_token, event.repaid)
                self._change("liquidation_losses", event.collateral_token, -event.seized)
            case WithdrawalFinalised(amount=amount):  # queue ETH → ETH: worth the same
                self._change("slippage", "WQETH", -amount)
                self._change("slippage", "ETH", amount)

    def on_gas(self, event: GasCharged) -> None:
        self._change("gas", "ETH", -event.eth)

    # -- sampling ----------------------------------------------------------------------------

    def sample(self, balances: dict[str, float], cache: Cache) -> WalletSample:
        balances = {c: q for c, q in balances.items() if q}  # most wallet currencies are never held
        codes = {"ETH", *balances, *self._prev_qty}  # ETH: the unit of the wallet's delta
        if self._changes:
            codes.update(self._pending_codes())
        prices = self.valuation.prices(codes, cache)
        unpriced = tuple(c for c, p in prices.items() if p is None and c in balances)
        if unpriced:
            self.unpriced_seen.update(unpriced)
        now = {c: p or 0.0 for c, p in prices.items()}
        rates = self._rates(codes, cache)
        amounts: dict[str, float] = defaultdict(float)
        for code, q in self._prev_qty.items():
            move = q * (now[code] - self._prev_prices.get(code, 0.0))
            staking = 0.0
            if code in rates and self._prev_rates.get(code) and now[code]:
                staking = q * now[code] * (1 - self._prev_rates[code] / rates[code])
            amounts["staking_yield"] += staking
            amounts["price_pnl"] += move - staking
        for category, changes in self._changes.items():
            amounts[category] += sum(q * now[code] for code, q in changes.items())
        for code, change, mark in self._traded:  # traded at a mark other than now: a price move
            move = change * (now[code] - mark)
            amounts["slippage"] -= move
            amounts["price_pnl"] += move
        self._changes.clear()
        self._traded.clear()
        eth_price = now.get("ETH") or 0.0
        eth_linked = sum(
            q * now[c] / eth_price for c, q in balances.items() if eth_price and self._eth_linked.get(c)
        )
        self._prev_qty, self._prev_prices, self._prev_rates = dict(balances), now, rates
        value = sum(q * now[c] for c, q in balances.items())
        return WalletSample(value, eth_linked, dict(amounts), unpriced)

    def _pending_codes(self) -> set[str]:
        """Tokens changed since the last sample (a token sold out within the hour still needs a price)."""
        return {code for changes in self._changes.values() for code in changes}

    def _rates(self, codes: set[str], cache: Cache) -> dict[str, float]:
        """The protocol rate behind each LST-linked token (its growth is staking yield)."""
        out = {}
        for code in codes:
            if code not in self._staking:
                self._staking[code] = self.valuation.staking_rate(code)
            found = self._staking[code]
            if found is not None and (rate := last_price(cache, found[0])) is not None:
                out[code] = rate
        return out
