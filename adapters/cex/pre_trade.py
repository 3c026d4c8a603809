"""The venue's pre-trade checks: what a real CEX would refuse for lack of balance or margin, or
while it is down (a stress scenario's outage).

Nautilus 1.231's risk engine skips balance checks for MARGIN accounts (and, with bars only, for
market orders on CASH ones); the venue's :class:`~adapters.execution.CheckedExecClient` asks these
checks before an order reaches the matching engine: spot buys need spot cash (on a unified
account: cash its margin does not need), spot sells need the coins, perp orders that add exposure
need initial margin in the margin balance (the futures wallet, or a unified account's cash and
coins at their collateral ratios).
"""

from __future__ import annotations

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.orders import Order

from adapters.cex.margin import VenueWallets, base_qty, last_price, notional_of
from adapters.hours import closing_hour


class PreTradeChecks:
    """Pre-trade checks of :class:`~adapters.cex.venue.CexVenueModule` (a mixin: it reads the
    module's exchange, venue name and config, wallets, clock and outages)."""

    def check_order(self, order: Order) -> str | None:
        """Reason the venue would reject ``order`` (down, or lacking balance or margin), or None."""
        hour = closing_hour(self.clock.timestamp_ns())
        if any(start < hour <= end for start, end in self.outages):
            return f"VENUE_OUTAGE: {self.venue} is down (stress scenario)"
        instrument = self.exchange.cache.instrument(order.instrument_id)
        price = last_price(self.exchange.cache, order.instrument_id)
        if price is None:
            return f"no market price for {order.instrument_id}"
        qty = base_qty(instrument, order.quantity.as_double())
        if not order.is_reduce_only and instrument.min_notional is not None:
            minimum = instrument.min_notional.as_double()
            if qty * price < minimum:
                return f"MIN_NOTIONAL: {qty * price:.2f} USDT < {minimum:.2f} USDT for {instrument.id}"
        wallets = self.wallets()
        if not isinstance(instrument, CryptoPerpetual):
            return self._check_spot(order, instrument, qty, price, wallets)
        return self._check_perp(order, instrument, qty, price, wallets)

    def _check_spot(
        self, order: Order, instrument: Instrument, qty: float, price: float, wallets: VenueWallets
    ) -> str | None:
        if order.side == OrderSide.BUY:
            # a fee taken from the coins bought (``spot_fee_currency: received``) costs no cash
            fee = float(instrument.taker_fee) if self.venue_config.spot_fee_currency == "quote" else 0.0
            cost = qty * price * (1 + fee)
            if cost > wallets.free_cash + 1e-9:
                return (
                    f"INSUFFICIENT_BALANCE: {self.venue} spot wallet holds {wallets.free_cash:.2f} USDT, "
                    f"buying {qty} {instrument.id} needs {cost:.2f}"
                )
            return None
        held = wallets.spot_qty(instrument.id)
        if qty > held + 1e-12:
            return f"INSUFFICIENT_BALANCE: selling {qty} of {instrument.id} but the spot wallet holds {held}"
        return None

    def _check_perp(
        self, order: Order, instrument: CryptoPerpetual, qty: float, price: float, wallets: VenueWallets
    ) -> str | None:
        if order.is_reduce_only:
            return None  # never adds exposure (a bracket's stop and target, closes)
        current = next((p.signed_qty for p in wallets.perps if p.instrument_id == instrument.id), 0.0)
        signed = qty if order.side == OrderSide.BUY else -qty
        after = current + signed
        if abs(after) <= abs(current) and current * after >= 0:
            return None  # reduces exposure: always allowed
        inverse = instrument.is_inverse
        other_initial = sum(p.initial for p in wallets.perps if p.instrument_id != instrument.id)
        required = other_initial + notional_of(after, price, inverse) * float(instrument.margin_init)
        fee = notional_of(qty, price, inverse) * float(instrument.taker_fee)
        available = wallets.margin_balance - fee
        if required > available + 1e-12:
            unit, balance = wallets.settlement, wallets.margin_balance
            return (
                f"INSUFFICIENT_MARGIN: {self.venue} margin balance {balance:.8g} {unit} "
                f"(after fee {fee:.8g}) < initial margin {required:.8g} for {after:+.6f} {instrument.id}"
            )
        return None
