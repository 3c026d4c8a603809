"""A CEX liquidation as the run reports it, read from the venue's own fill and the cache.

A venue reports a liquidation only as a fill of an order it placed itself
(:func:`adapters.cex.liquidation_fills.is_liquidation_fill`). What the accounting needs beyond the
fill comes from what both worlds keep in the cache:

- the mark: the close of the hourly bar the fill happened in (the first bar stamped at or after
  it), which is what every holding is valued at; the venue liquidates before that bar reaches
  the cache, so the row can only be completed once it has;
- the liquidation fee and the insurance fund's cover: the venue's charges booked on the
  liquidated position at the fill's instant (commission-type adjustments; a venue that books
  them elsewhere leaves both zero here).
"""

from __future__ import annotations

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.enums import OrderSide, PositionAdjustmentType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.position import Position

from adapters.bars import bar_type_for
from adapters.cex.instruments import exchange_of
from adapters.cex.margin import base_qty
from adapters.events import LiquidationEvent


def mark_at(cache: Cache, fill: OrderFilled) -> float | None:
    """Close of the first cached hourly bar stamped at or after the fill; None before it arrives."""
    mark = None
    for bar in cache.bars(bar_type_for(fill.instrument_id)):  # newest first
        if bar.ts_event < fill.ts_event:
            break
        mark = bar.close.as_double()
    return mark


def venue_charges(position: Position | None, fill: OrderFilled) -> tuple[float, float]:
    """``(fee, insurance_credit)`` booked on the liquidated position at the fill's instant."""
    fee = insurance = 0.0
    for adjustment in position.adjustments if position is not None else ():
        if (
            adjustment.ts_event != fill.ts_event
            or adjustment.adjustment_type != PositionAdjustmentType.COMMISSION
            or adjustment.pnl_change is None
        ):
            continue
        amount = adjustment.pnl_change.as_double()
        if amount < 0:
            fee -= amount
        else:
            insurance += amount
    return fee, insurance


def liquidation_record(
    fill: OrderFilled, instrument: Instrument, position: Position | None, mark: float
) -> LiquidationEvent:
    """The liquidations.csv row of ``fill`` (``position``: the position it closed, held from the
    fill on, since a netting venue reopens the same position id as a new object)."""
    side = 1 if fill.order_side == OrderSide.BUY else -1
    price = fill.last_px.as_double()
    fee, insurance = venue_charges(position, fill)
    return LiquidationEvent(
        exchange_of(fill.instrument_id),
        str(fill.instrument_id),
        -side * base_qty(instrument, fill.last_qty.as_double()),
        price,
        mark,
        fee,
        insurance,
        fill.ts_event,
        usdt_per_unit=price if instrument.is_inverse else 1.0,
    )
