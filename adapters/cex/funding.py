"""Perpetual funding settlement, which Nautilus 1.231's simulated exchange does not do.

At each ``FundingRateUpdate`` print (a rate stamped at its funding time; the rate a live stream
quotes for the *next* funding time, with ``next_funding_ns``, is not one) every open perp
position receives ``−signed_qty × mark × rate`` (mark = the perp bar close at the print; a
coin-margined perp pays ``−qty / mark × rate`` in the coin), booked to the account and the
position's realized PnL, once per print, and published as a
:class:`~adapters.events.FundingSettled`.
"""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import PositionAdjustmentType
from nautilus_trader.model.instruments import CryptoPerpetual

from adapters.bars import bar_type_for
from adapters.cex.margin import base_qty
from adapters.events import FUNDING_TOPIC, FundingSettled
from adapters.hours import closing_hour


@dataclass
class FundingState:
    instrument: CryptoPerpetual
    last_settled_ns: int = 0
    last_bar_ns: int = 0


class FundingSettlement:
    """Funding of :class:`~adapters.cex.venue.CexVenueModule` (a mixin: it uses the module's
    exchange, clock, message bus and booking)."""

    def _settle_funding(self, state: FundingState, up_to_ns: int, incoming: Bar | None = None) -> None:
        """Settle the latest print if it is stamped at or before ``up_to_ns`` and not yet settled.

        The mark is the perp close at the print's time (``incoming`` when that bar is the one being
        processed; a bar closing in the print's hour, as Binance stamps it a millisecond before);
        without one, the last close before it, and the print is flagged stale.
        """
        update = self.exchange.cache.funding_rate(state.instrument.id)
        if update is None or update.next_funding_ns is not None:
            return  # nothing yet, or a live stream's rate for the next funding time: not a print
        if update.ts_event <= state.last_settled_ns or update.ts_event > up_to_ns:
            return
        state.last_settled_ns = update.ts_event
        if incoming is not None and closing_hour(incoming.ts_event) == update.ts_event:
            mark_bar = incoming
        else:
            mark_bar = self._bar_at_or_before(bar_type_for(state.instrument.id), update.ts_event)
        positions = self.exchange.cache.positions_open(venue=None, instrument_id=state.instrument.id)
        if mark_bar is None or not positions:
            return
        on_time = closing_hour(mark_bar.ts_event) == update.ts_event
        mark = mark_bar.close.as_double()
        rate = float(update.rate)
        self.funding_prints += 1
        self.stale_marks += 0 if on_time else 1
        now = self.clock.timestamp_ns()
        inverse = state.instrument.is_inverse
        for position in positions:
            qty = base_qty(state.instrument, position.signed_qty)
            signed_notional = qty / mark if inverse else qty * mark  # in the settlement currency
            payment = -signed_notional * rate
            self._book(position, payment, PositionAdjustmentType.FUNDING, "funding", now)
            self.funding_paid += payment
            event = FundingSettled(
                self.venue,
                str(state.instrument.id),
                rate,
                mark,
                qty,
                payment,
                update.ts_event,
                not on_time,
                usdt_per_unit=mark if inverse else 1.0,
            )
            self.msgbus.publish(FUNDING_TOPIC, event)

    def _bar_at_or_before(self, bar_type, ts: int) -> Bar | None:
        """The latest cached bar stamped at or before ``ts`` (the mark in force at that instant)."""
        cache = self.exchange.cache
        for index in range(cache.bar_count(bar_type)):
            bar = cache.bar(bar_type, index)
            if bar.ts_event <= ts:
                return bar
        return None
