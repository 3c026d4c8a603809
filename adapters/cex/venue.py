"""Exchange-side simulation of one CEX venue: the module loaded into its ``SimulatedExchange``.

NautilusTrader 1.231's simulated exchange settles no perpetual funding and never liquidates a
MARGIN account, and does not know that a venue's spot and futures wallets are separate. This
module adds exactly those behaviours, each in its own module: funding
(:mod:`adapters.cex.funding`), pre-trade checks (:mod:`adapters.cex.pre_trade`), liquidation
(:mod:`adapters.cex.liquidation`); here are the wiring, the spot/futures wallets with the
transfer ledger that defines them (:mod:`adapters.cex.margin`), the stop-before-target rule and
the booking every part shares.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, OrderType, PositionAdjustmentType
from nautilus_trader.model.events import PositionAdjusted
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.objects import Currency, Money
from nautilus_trader.model.orders import Order
from nautilus_trader.model.position import Position

from adapters.bars import bar_type_for
from adapters.cex.config import CexVenueConfig
from adapters.cex.funding import FundingSettlement, FundingState
from adapters.cex.liquidation import Liquidation
from adapters.cex.margin import (
    VenueWalletReader,
    VenueWallets,
    wallet_reader_endpoint,
)
from adapters.cex.pre_trade import PreTradeChecks
from adapters.events import (
    LiquidationEvent,
    TransferKind,
    VenueLedger,
)
from adapters.hours import closing_hour


class CexVenueModuleConfig(SimulationModuleConfig, frozen=True):
    venue: str


class CexVenueModule(FundingSettlement, Liquidation, PreTradeChecks, SimulationModule):
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
        self._reader = VenueWalletReader(self.venue, venue_config)
        self._funding: dict[InstrumentId, FundingState] = {}
        self._perp_bars: dict[BarType, FundingState] = {}
        self._triggers: dict[InstrumentId, float | None] = {}
        """Cached liquidation prices; valid while nothing but prices moves on a one-perp venue."""
        self._processed_ns = 0
        self.spot_exchange = None
        """The exchange's spot account (a CASH venue, :mod:`adapters.cex.spot_account`), when spot
        is not held on this MARGIN account."""
        self.funding_paid = 0.0
        self.funding_prints = 0
        self.stale_marks = 0
        self.liquidations: list[LiquidationEvent] = []
        self.outages: list[tuple[int, int]] = []
        """Hours (start, end] the exchange is down and refuses orders (a stress scenario's outage)."""

    # -- wiring ------------------------------------------------------------------------------

    def register_venue(self, exchange) -> None:
        super().register_venue(exchange)
        self.msgbus.register(wallet_reader_endpoint(self.venue), lambda reply: reply(self._reader))

    def add_perp(self, instrument: CryptoPerpetual) -> None:
        """Settle funding for and watch ``instrument`` (call for every perp added to this venue)."""
        self._funding[instrument.id] = FundingState(instrument)
        self._perp_bars[bar_type_for(instrument.id)] = self._funding[instrument.id]
        self.msgbus.subscribe(f"events.fills.{instrument.id}", lambda _: self._triggers.clear())

    # -- wallets -----------------------------------------------------------------------------

    def wallets(self) -> VenueWallets:
        return self._reader.read(self.exchange.cache, self.portfolio, self.ledger)

    def apply_transfer(self, kind: TransferKind, amount: float) -> str | None:
        """Book a transfer touching this exchange's wallets; return a rejection reason or None.

        Deposits credit and withdrawals debit the spot wallet. Internal transfers move cash
        between the spot and the futures account, or, when one MARGIN account holds both, only
        the boundary between them (the ledger). A unified account has no such boundary: it refuses
        internal transfers, and a withdrawal may take only the cash its margin does not need.
        """
        self._triggers.clear()
        if amount <= 0:
            return f"transfer amount must be positive, got {amount}"
        spot = self.spot_exchange or self.exchange
        if kind == TransferKind.DEPOSIT:
            spot.adjust_account(Money(amount, USDT))
            self.ledger = VenueLedger(self.ledger.deposited + amount, self.ledger.to_futures)
            return None
        wallets = self.wallets()
        if wallets.unified and kind in (TransferKind.TO_FUTURES, TransferKind.TO_SPOT):
            return f"{self.venue} is a unified account: spot and futures share one wallet, no {kind}"
        if kind in (TransferKind.WITHDRAWAL, TransferKind.TO_FUTURES):
            if amount > wallets.free_cash + 1e-9:
                wallet = "unified account can release" if wallets.unified else "spot wallet holds"
                return f"{self.venue} {wallet} {wallets.free_cash:.2f} USDT, {kind} needs {amount:.2f}"
            if kind == TransferKind.WITHDRAWAL:
                spot.adjust_account(Money(-amount, USDT))
                self.ledger = VenueLedger(self.ledger.deposited - amount, self.ledger.to_futures)
            else:
                self._move_between_accounts(-amount)
                self.ledger = VenueLedger(self.ledger.deposited, self.ledger.to_futures + amount)
            return None
        if amount > wallets.transferable_from_futures + 1e-9:
            return (
                f"{self.venue} futures wallet can release {wallets.transferable_from_futures:.2f} USDT "
                f"(initial margin and unrealized losses stay), transfer needs {amount:.2f}"
            )
        self._move_between_accounts(amount)
        self.ledger = VenueLedger(self.ledger.deposited, self.ledger.to_futures - amount)
        return None

    def _move_between_accounts(self, to_spot: float) -> None:
        """Move ``to_spot`` USDT from the futures to the spot account (negative: the other way)."""
        if self.spot_exchange is not None:
            self.spot_exchange.adjust_account(Money(to_spot, USDT))
            self.exchange.adjust_account(Money(-to_spot, USDT))

    def withdraw_spot(self, instrument_id: InstrumentId, qty: float, ts: int) -> str | None:
        """Take ``qty`` base units of a spot holding off the exchange (an on-chain withdrawal of
        the asset); return a rejection reason or None.

        On a spot account the coins are a balance and leave as one. When the holding is a
        position on the MARGIN account, the quantity leaves through a quantity adjustment (no
        fill: nothing is traded) and its cost basis leaves the account balance, which keeps the
        spot wallet's cash unchanged. On a unified account the coins are margin: they may leave
        only as far as the margin they provide is not in use.
        """
        instrument = self.exchange.cache.instrument(instrument_id)
        quantity = instrument.make_qty(qty)  # the caller rounds to the size step
        wallets = self.wallets()
        held = wallets.spot_qty(instrument_id)
        if quantity.as_double() <= 0 or quantity.as_double() > held + 1e-12:
            return f"{self.venue} spot wallet holds {held:.6f} of {instrument_id}, withdrawal needs {qty:.6f}"
        spot = next((s for s in wallets.spots if s.instrument_id == instrument_id), None)
        if wallets.unified and spot is not None:
            released = quantity.as_double() * spot.price * spot.collateral_ratio
            if released > wallets.margin_available + 1e-9:
                return (
                    f"{self.venue} unified account: withdrawing {qty:.6f} of {instrument_id} takes "
                    f"{released:.2f} USDT of margin, {wallets.margin_available:.2f} is available"
                )
        if self.spot_exchange is not None:
            self._triggers.clear()
            self.spot_exchange.adjust_account(Money(-quantity.as_double(), instrument.base_currency))
            return None
        position = self.exchange.cache.positions_open(venue=None, instrument_id=instrument_id)[0]
        self._adjust(
            position,
            -quantity.as_double() * position.avg_px_open,
            PositionAdjustmentType.COMMISSION,
            "withdrawal to the on-chain wallet",
            ts,
            quantity_change=-quantity.as_decimal(),
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
            self._settle_funding(state, closing_hour(data.ts_event), incoming=data)
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

    # -- booking ----------------------------------------------------------------------------

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
