"""Which fills are a venue liquidating a position: one rule, keyed by venue, for both worlds.

Live, a liquidation is an order the venue placed itself. Nautilus learns of it only from the
venue's order and fill reports and books it as an order it did not send: strategy ``EXTERNAL``,
tagged ``VENUE``, with whatever client order id the adapter parsed. What is left of the venue's
own mark depends on the adapter (Nautilus 1.231):

- Binance futures passes the venue's client order id through: ``autoclose-…`` for a
  liquidation, ``adl_autoclose…`` for auto-deleveraging (``settlement_autoclose-…``, a delisting
  settlement, is not one).
- Bybit (``createType`` ``CreateByLiq``/``CreateByTakeOver…``/``CreateByAdl…``, ``execType``
  ``BustTrade``/``AdlTrade``) and OKX (``category`` ``full_liquidation``/``partial_liquidation``/
  ``adl``) mark the order, but their parsers only log the mark; a liquidation order carries no
  client order id of the account's own, so the engine gives it a generated one. What remains is
  that the venue originated it: on these venues every venue-originated fill counts.

The venue simulation gives its liquidation orders the same shape
(:func:`liquidation_client_order_id`, :data:`VENUE_TAG`), so the accounting and the strategies
recognise a liquidation the same way in a backtest and live.
"""

from __future__ import annotations

import uuid

from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.model.orders import Order

VENUE_TAG = "VENUE"
"""Nautilus' tag on an order it learned of from the venue (one its strategies did not send)."""

_BINANCE_PREFIXES = ("autoclose-", "adl_autoclose")
_GENERATED_IDS = uuid.UUID("5f1d7c4e-3b1a-4c55-9a2e-6d0f1e7a8b90")
"""Namespace of the simulation's generated ids: the same venue and instant give the same id, so
runs stay deterministic where the live engine would draw a random UUID."""


def _is_binance(venue: str) -> bool:
    """Binance runs its spot, USDT-M and COIN-M accounts as separate venues (``BINANCE_…``)."""
    return venue == "BINANCE" or venue.startswith("BINANCE_")


def liquidation_client_order_id(venue: str, ts: int) -> ClientOrderId:
    """The client order id the live engine would hold for ``venue``'s liquidation at ``ts``."""
    if _is_binance(venue):
        return ClientOrderId(f"autoclose-{ts}")
    return ClientOrderId(str(uuid.uuid5(_GENERATED_IDS, f"{venue}-{ts}")))


def is_liquidation_fill(fill: OrderFilled, order: Order | None) -> bool:
    """True when ``fill`` is the venue closing a position by liquidation or auto-deleveraging.

    ``order`` is the fill's order from the cache (None when the cache does not hold it).
    """
    if _is_binance(fill.instrument_id.venue.value):
        return fill.client_order_id.value.startswith(_BINANCE_PREFIXES)
    return order is not None and VENUE_TAG in (order.tags or ())
