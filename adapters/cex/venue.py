"""Exchange-side simulation of one CEX venue: funding, wallets, margin checks, liquidation.

NautilusTrader 1.231's simulated exchange settles no perpetual funding and never liquidates a
MARGIN account, and does not know that a venue's spot and futures wallets are separate. This
module, loaded into the venue's ``SimulatedExchange``, adds exactly those behaviours:

- funding: at each ``FundingRateUpdate`` print every open perp position receives
  ``−signed_qty × mark × rate`` (mark = perp bar close at the print), booked to the account and
  to the position's realized PnL, once per print;
- wallets: the spot/futures split of the account (:mod:`adapters.cex.margin`) and the transfer
  ledger that defines it;
- pre-trade checks (called by :class:`~adapters.execution.CheckedExecClient`): spot
  buys need spot cash, spot sells need the coins, perp orders that add exposure need initial
  margin in the futures wallet;
- liquidation: when a perp bar's adverse extreme (high for shorts, low for longs) takes the
  margin balance to maintenance, the position is closed at the crossing price by an
  exchange-originated ``LIQUIDATION`` order, a liquidation fee is forfeited and a negative
  futures wallet is reset to zero by the insurance fund.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderType, PositionAdjustmentType
from nautilus_trader.model.events import PositionAdjusted
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, VenueOrderId
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Currency, Money
from nautilus_trader.model.orders import MarketOrder, Order
from nautilus_trader.model.position import Position

from adapters.bars import bar_type_for
from adapters.cex.config import CexVenueConfig
from adapters.cex.margin import (
    VenueWalletReader,
    VenueWallets,
    base_qty,
    last_price,
    liquidation_price,
    notional_of,
    position_pnl,
    wallet_reader_endpoint,
)
from adapters.events import (
    FUNDING_TOPIC,
    LIQUIDATION_TOPIC,
    FundingSettled,
    LiquidationEvent,
    TransferKind,
    VenueLedger,
)


class CexVenueModuleConfig(SimulationModuleConfig, frozen=True):
    venue: str


@dataclass
class _FundingState:
    instrument: CryptoPerpetual
    last_settled_ns: int = 0
    last_bar_ns: int = 0


class CexVenueModule(SimulationModule):
    """Funding, wallet split, margin checks and liquidation for one simulated CEX venue."""

    def __init__(self, venue_config: CexVenueConfig, settlement: Currency = USDT) -> None:
        super().__init__(
            CexVenueModuleConfig(venue=venue_config.venue, component_id=f"CexVenue-{venue_config.venue}")
        )
        self.venue_config = venue_config
        self.venue = venue_config.venue
        self.ledger = VenueLedger()
        self.settlement = settlement
        """Currency of balances, margin, funding and P&L (a coin for a coin-margined venue)."""
        self._reader = VenueWalletReader(self.venue)
        self._funding: dict[InstrumentId, _FundingState] = {}
        self._perp_bars: dict[BarType, _FundingState] = {}
        self._triggers: dict[InstrumentId, float | None] = {}
        """Cached liquidation prices; valid while nothing but prices moves on a one-perp venue."""
        self._processed_ns = 0
        self.funding_paid = 0.0
        self.funding_prints = 0
        self.stale_marks = 0
        self.liquidations: list[LiquidationEvent] = []

    # -- wiring ------------------------------------------------------------------------------

    def register_venue(self, exchange) -> None:
        super().register_venue(exchange)
        self.msgbus.register(wallet_reader_endpoint(self.venue), lambda reply: reply(self._reader))

    def add_perp(self, instrument: CryptoPerpetual) -> None:
        """Settle funding for and watch ``instrument`` (call for every perp added to this venue)."""
        self._funding[instrument.id] = _FundingState(instrument)
        self._perp_bars[bar_type_for(instrument.id)] = self._funding[instrument.id]
        self.msgbus.subscribe(f"events.fills.{instrument.id}", lambda _: self._triggers.clear())

    # -- wallets -----------------------------------------------------------------------------

    def wallets(self) -> VenueWallets:
        return self._reader.read(self.exchange.cache, self.portfolio, self.ledger)

    def apply_transfer(self, kind: TransferKind, amount: float) -> str | None:
        """Book a transfer touching this venue's wallets; return a rejection reason or None.

        Deposits credit and withdrawals debit the spot wallet (the account balance moves);
        internal transfers only move the spot/futures boundary.
        """
        self._triggers.clear()
        if amount <= 0:
            return f"transfer amount must be positive, got {amount}"
        if kind == TransferKind.DEPOSIT:
            self.exchange.adjust_account(Money(amount, USDT))
            self.ledger = VenueLedger(self.ledger.deposited + amount, self.ledger.to_futures)
            return None
        wallets = self.wallets()
        if kind in (TransferKind.WITHDRAWAL, TransferKind.TO_FUTURES):
            if amount > wallets.spot_cash + 1e-9:
                return (
                    f"{self.venue} spot wallet holds {wallets.spot_cash:.2f} USDT, {kind} needs {amount:.2f}"
                )
            if kind == TransferKind.WITHDRAWAL:
                self.exchange.adjust_account(Money(-amount, USDT))
                self.ledger = VenueLedger(self.ledger.deposited - amount, self.ledger.to_futures)
            else:
                self.ledger = VenueLedger(self.ledger.deposited, self.ledger.to_futures + amount)
            return None
        if amount > wallets.transferable_from_futures + 1e-9:
            return (
                f"{self.venue} futures wallet can release {wallets.transferable_from_futures:.2f} USDT "
                f"(initial margin and unrealized losses stay), transfer needs {amount:.2f}"
            )
        self.ledger = VenueLedger(self.ledger.deposited, self.ledger.to_futures - amount)
        return None

    def withdraw_spot(self, instrument_id: InstrumentId, qty: float, ts: int) -> str | None:
        """Take ``qty`` base units of a spot holding off the venue (an on-chain withdrawal of the
        asset); return a rejection reason or None.

        The holding is a position on the MARGIN account, so the quantity leaves through a
        quantity adjustment (no fill: nothing is traded) and its cost basis leaves the account
        balance, which keeps the spot wallet's cash unchanged.
        """
        instrument = self.exchange.cache.instrument(instrument_id)
        quantity = instrument.make_qty(qty)  # the caller rounds to the size step
        positions = self.exchange.cache.positions_open(venue=None, instrument_id=instrument_id)
        held = sum(p.signed_qty for p in positions)
        if quantity.as_double() <= 0 or quantity.as_double() > held + 1e-12:
            return f"{self.venue} spot wallet holds {held:.6f} of {instrument_id}, withdrawal needs {qty:.6f}"
        position = positions[0]
        self._adjust(
            position,
            -quantity.as_double() * position.avg_px_open,
            PositionAdjustmentType.COMMISSION,
            "withdrawal to the on-chain wallet",
            ts,
            quantity_change=-quantity.as_decimal(),
        )
        return None

    # -- pre-trade checks --------------------------------------------------------------------

    def check_order(self, order: Order) -> str | None:
        """Reason the venue would reject ``order`` for lack of balance or margin, or None."""
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
            cost = qty * price * (1 + float(instrument.taker_fee))
            if cost > wallets.spot_cash + 1e-9:
                return (
                    f"INSUFFICIENT_BALANCE: {self.venue} spot wallet holds {wallets.spot_cash:.2f} USDT, "
                    f"buying {qty} {instrument.id} needs {cost:.2f}"
                )
            return None
        held = next((s.qty for s in wallets.spots if s.instrument_id == instrument.id), 0.0)
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
                f"INSUFFICIENT_MARGIN: {self.venue} futures margin balance {balance:.8g} {unit} "
                f"(after fee {fee:.8g}) < initial margin {required:.8g} for {after:+.6f} {instrument.id}"
            )
        return None

    # -- SimulationModule --------------------------------------------------------------------

    def pre_process(self, data) -> None:
        """A perp bar stamped T is about to trade: first the path inside the hour (liquidation at
        its adverse extreme), then the funding print stamped T, marked at this bar's close — both
        before any strategy sees the bar, so funding at T is paid on the position held into T."""
        if type(data) is not Bar:
            return
        state = self._perp_bars.get(data.bar_type)
        if state is not None:
            state.last_bar_ns = data.ts_event
            self._check_liquidation(state.instrument, data)
            self._settle_funding(state, data.ts_event, incoming=data)
            self._stop_before_target(state.instrument, data)

    def _stop_before_target(self, instrument: CryptoPerpetual, bar: Bar) -> None:
        """When one bar reaches both a position's stop and its take-profit, the stop trades.

        An hourly bar does not say which extreme came first; Nautilus' bar replay visits the high
        before the low, which would let a long's target win every such bar. The conservative rule
        (DOMAIN.md: SL is checked before TP) is applied here, on the venue, by cancelling the
        take-profit of such a pair before the bar is replayed.
        """
        orders = self.exchange.cache.orders_open(venue=None, instrument_id=instrument.id)
        stops = [o for o in orders if o.order_type == OrderType.STOP_MARKET and o.is_reduce_only]
        targets = [o for o in orders if o.order_type == OrderType.LIMIT and o.is_reduce_only]
        if not stops or not targets:
            return
        high, low = bar.high.as_double(), bar.low.as_double()

        def reached(order: Order, price: float) -> bool:
            upward = (order.side == OrderSide.BUY) == (order.order_type == OrderType.STOP_MARKET)
            return high >= price if upward else low <= price

        if not any(reached(stop, stop.trigger_price.as_double()) for stop in stops):
            return
        engine = self.exchange.get_matching_engine(instrument.id)
        for target in targets:
            if reached(target, target.price.as_double()):
                engine.cancel_order(target, cancel_contingencies=False)

    def process(self, ts_now: int) -> None:
        """Settle prints whose perp bar never came (a hole) once the clock has passed them."""
        if ts_now == self._processed_ns:
            return  # the engine calls after every data point; the outcome only depends on the time
        self._processed_ns = ts_now
        for state in self._funding.values():
            if state.last_bar_ns < ts_now:  # with a bar at ts_now, pre_process has settled already
                self._settle_funding(state, ts_now - 1)

    def log_diagnostics(self, logger) -> None:
        logger.info(
            f"{self.venue}: funding {self.funding_paid:+.8g} {self.settlement} over "
            f"{self.funding_prints} prints ({self.stale_marks} with a stale mark), "
            f"{len(self.liquidations)} liquidations",
        )

    def reset(self) -> None:
        self.ledger = VenueLedger()
        for state in self._funding.values():
            state.last_settled_ns = state.last_bar_ns = 0
        self.funding_paid = 0.0
        self.funding_prints = 0
        self.stale_marks = 0
        self.liquidations = []

    # -- funding -----------------------------------------------------------------------------

    def _settle_funding(self, state: _FundingState, up_to_ns: int, incoming: Bar | None = None) -> None:
        """Settle the latest print if it is stamped at or before ``up_to_ns`` and not yet settled.

        The mark is the perp close stamped at the print (``incoming`` when that bar is the one
        being processed); without one, the last close before it, and the print is flagged stale.
        """
        update = self.exchange.cache.funding_rate(state.instrument.id)
        if update is None or update.ts_event <= state.last_settled_ns or update.ts_event > up_to_ns:
            return
        state.last_settled_ns = update.ts_event
        if incoming is not None and incoming.ts_event == update.ts_event:
            mark_bar = incoming
        else:
            mark_bar = self._bar_at_or_before(bar_type_for(state.instrument.id), update.ts_event)
        positions = self.exchange.cache.positions_open(venue=None, instrument_id=state.instrument.id)
        if mark_bar is None or not positions:
            return
        on_time = mark_bar.ts_event == update.ts_event
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

    def _book(
        self, position: Position, amount: float, kind: PositionAdjustmentType, reason: str, ts: int
    ) -> None:
        """Credit ``amount`` (settlement currency) to the account and to the position's realized PnL."""
        self._adjust(position, amount, kind, reason, ts, pnl_change=Money(amount, self.settlement))

    def _adjust(
        self,
        position: Position,
        cash: float,
        kind: PositionAdjustmentType,
        reason: str,
        ts: int,
        *,
        quantity_change: Decimal | None = None,
        pnl_change: Money | None = None,
    ) -> None:
        """Move ``cash`` (settlement currency) on the account and adjust the position outside a fill."""
        self._triggers.clear()
        self.exchange.adjust_account(Money(cash, self.settlement))
        position.apply_adjustment(
            PositionAdjusted(
                position.trader_id,
                position.strategy_id,
                position.instrument_id,
                position.id,
                position.account_id,
                kind,
                quantity_change,
                pnl_change,
                reason,
                UUID4(),
                ts,
                ts,
            ),
        )

    # -- liquidation -------------------------------------------------------------------------

    def _liquidation_trigger(self, instrument_id: InstrumentId) -> float | None:
        """The perp's liquidation price, cached while the venue holds just this one perp (then only
        a fill, funding, a fee or a transfer can move it, and each of those clears the cache)."""
        if instrument_id in self._triggers:
            return self._triggers[instrument_id]
        wallets = self.wallets()
        perp = next(p for p in wallets.perps if p.instrument_id == instrument_id)
        trigger = liquidation_price(wallets, perp)
        if len(wallets.perps) == 1:
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
        margin_after_close = wallets.futures_wallet + pnl - taker
        fee = min(notional * self.venue_config.liquidation_fee_rate, max(0.0, margin_after_close))
        if fee > 0:
            self._book(position, -fee, PositionAdjustmentType.COMMISSION, "liquidation fee", ts)
        order = MarketOrder(
            position.trader_id,
            position.strategy_id,
            instrument.id,
            ClientOrderId(f"LIQ-{self.venue}-{ts}"),
            OrderSide.BUY if qty < 0 else OrderSide.SELL,
            position.quantity,
            UUID4(),
            ts,
            reduce_only=True,
            tags=["LIQUIDATION"],
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
        shortfall = -self.wallets().futures_wallet
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
