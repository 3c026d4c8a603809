"""Notional caps on CEX orders: a guard against a sizing error reaching a venue.

Both the strategy (every world) and, live, Nautilus' risk engine (per order) enforce them; the
defaults are far above what the modes send at their default capital (the largest CEX order over
the full window is ≈ 110,000 USD, the directional mode's whole equity) and far below what a
mis-sized order would ask, so a larger book raises them on purpose in its mode YAML.
"""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.instruments import Instrument

DEFAULT_MAX_ORDER_USD = 250_000.0
DEFAULT_MAX_POSITION_USD = 500_000.0


def usd_notional(instrument: Instrument, contracts: float, price: float) -> float:
    """Notional in the quote currency (USDT or USD): contracts × multiplier × price, or for an
    inverse perp contracts × multiplier (its contracts are USD face value)."""
    face = abs(contracts) * instrument.multiplier.as_double()
    return face if getattr(instrument, "is_inverse", False) else face * price


@dataclass(frozen=True)
class OrderCaps:
    max_order_usd: float = DEFAULT_MAX_ORDER_USD
    max_position_usd: float = DEFAULT_MAX_POSITION_USD

    def breach(
        self, instrument: Instrument, side: OrderSide, contracts: float, held: float, price: float
    ) -> str | None:
        """Why an order of ``contracts`` on ``side`` is refused with ``held`` contracts (signed)
        already held, or None. Orders that only reduce the position pass the position cap."""
        order = usd_notional(instrument, contracts, price)
        if order > self.max_order_usd:
            return (
                f"order of {order:,.0f} USD notional on {instrument.id} exceeds max_order_notional_usd "
                f"{self.max_order_usd:,.0f} (mode YAML)"
            )
        after = held + (contracts if side == OrderSide.BUY else -contracts)
        position = usd_notional(instrument, after, price)
        if abs(after) > abs(held) and position > self.max_position_usd:
            return (
                f"order would leave a {position:,.0f} USD position on {instrument.id}, beyond "
                f"max_position_notional_usd {self.max_position_usd:,.0f} (mode YAML)"
            )
        return None
