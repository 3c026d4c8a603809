"""Liquidation, which Nautilus 1.231 never does for a MARGIN account.

When a perp bar's adverse extreme (high for shorts, low for longs) takes the margin balance to
maintenance, the position is closed at the crossing price (the open on a gap) by an
exchange-originated order shaped as the live adapter reports that venue's liquidation
(:mod:`adapters.cex.liquidation_fills`: its client order id and the ``VENUE`` tag), so whoever
watches fills recognises it as live; a liquidation fee is forfeited and negative collateral (the
futures wallet, or a unified account's cash and coins at their collateral ratios) is reset to zero
by the insurance fund, both booked on the position at the fill's instant. The
simulation keeps its own record of each one (a :class:`~adapters.events.LiquidationEvent`,
also published for its tests and diagnostics); nothing the run attributes depends on it.
"""

from __future__ import annotations

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import LiquiditySide, OrderSide, PositionAdjustmentType
from nautilus_trader.model.identifiers import InstrumentId, VenueOrderId
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.orders import MarketOrder
from nautilus_trader.model.position import Position

from adapters.cex.liquidation_fills import VENUE_TAG, liquidation_client_order_id
from adapters.cex.margin import base_qty, liquidation_price, notional_of, position_pnl
from adapters.events import LIQUIDATION_TOPIC, LiquidationEvent


class Liquidation:
    """Liquidation of :class:`~adapters.cex.venue.CexVenueModule` (a mixin: it uses the module's
    exchange, wallets, trigger cache and booking)."""

    def _liquidation_trigger(self, instrument_id: InstrumentId) -> float | None:
        """The perp's liquidation price, cached while the venue holds just this one perp and no
        collateral coin of another base (then only a fill, funding, a fee or a transfer can move
        it, and each of those clears the cache; a unified account's coins of the perp's own base
        are taken to move with its price, so only the spot/perp spread, a fraction of a percent,
        ages the cached price)."""
        if instrument_id in self._triggers:
            return self._triggers[instrument_id]
        wallets = self.wallets()
        perp = next(p for p in wallets.perps if p.instrument_id == instrument_id)
        trigger = liquidation_price(wallets, perp)
        others = [s for s in wallets.spots if s.collateral_ratio > 0 and s.base != perp.base]
        if len(wallets.perps) == 1 and not others:
            self._triggers[instrument_id] = trigger
        return trigger

    def _check_liquidation(self, instrument: CryptoPerpetual, bar: Bar) -> None:
        positions = self.exchange.cache.positions_open(venue=None, instrument_id=instrument.id)
        if not positions:
            return
        trigger = self._liquidation_trigger(instrument.id)
        if trigger is None:
            return
        short = positions[0].signed_qty < 0
        extreme = bar.high.as_double() if short else bar.low.as_double()
        if (short and extreme < trigger) or (not short and extreme > trigger):
            return
        opened = bar.open.as_double()
        fill = max(trigger, opened) if short else min(trigger, opened)  # a gap fills at the open
        self._liquidate(instrument, positions[0], fill, bar)

    def _liquidate(
        self, instrument: CryptoPerpetual, position: Position, fill_price: float, bar: Bar
    ) -> None:
        ts = bar.ts_event
        qty = base_qty(instrument, position.signed_qty)
        price = instrument.make_price(fill_price)
        inverse = instrument.is_inverse
        notional = notional_of(qty, price.as_double(), inverse)
        taker = notional * float(instrument.taker_fee)
        wallets = self.wallets()
        pnl = position_pnl(qty, position.avg_px_open, price.as_double(), inverse)
        margin_after_close = wallets.collateral + pnl - taker
        fee = min(notional * self.venue_config.liquidation_fee_rate, max(0.0, margin_after_close))
        if fee > 0:
            self._book(position, -fee, PositionAdjustmentType.COMMISSION, "liquidation fee", ts)
        order = MarketOrder(
            position.trader_id,
            position.strategy_id,
            instrument.id,
            liquidation_client_order_id(self.venue, ts),
            OrderSide.BUY if qty < 0 else OrderSide.SELL,
            position.quantity,
            UUID4(),
            ts,
            reduce_only=True,
            tags=[VENUE_TAG],
        )
        cache = self.exchange.cache
        cache.add_order(order, position_id=position.id)
        client = self.exchange.exec_client
        client.generate_order_submitted(order.strategy_id, order.instrument_id, order.client_order_id, ts)
        client.generate_order_accepted(
            order.strategy_id,
            order.instrument_id,
            order.client_order_id,
            VenueOrderId(order.client_order_id.value),
            ts,
        )
        engine = self.exchange.get_matching_engine(instrument.id)
        engine.apply_fills(order, [(price, position.quantity)], LiquiditySide.TAKER, position.id, position)
        shortfall = -self.wallets().collateral
        insurance = shortfall if shortfall > 1e-6 else 0.0  # ignore float dust around zero
        if insurance > 0:
            self._book(
                position, insurance, PositionAdjustmentType.COMMISSION, "insurance fund covers bankruptcy", ts
            )
        event = LiquidationEvent(
            self.venue,
            str(instrument.id),
            qty,
            price.as_double(),
            bar.close.as_double(),
            fee,
            insurance,
            ts,
            usdt_per_unit=price.as_double() if inverse else 1.0,
        )
        self.liquidations.append(event)
        self.msgbus.publish(LIQUIDATION_TOPIC, event)
