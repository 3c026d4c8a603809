"""What every mode shares: capital flows, the five actions, transfers, gas reserve, decision ticks.

A mode subclasses :class:`YieldStrategy` and supplies its legs (the instruments it trades) and
three plans: deploy new capital, raise cash for a withdrawal, and rebalance. The base turns
investor flows into the five actions of DOMAIN.md:

- ``entry_full``: the first deployment of the starting capital;
- ``entry_partial``: deploying a later deposit;
- ``exit_partial``: raising and paying out a withdrawal;
- ``exit_full``: unwinding everything and paying it all out;
- ``sell_dust``: selling leftover tokens (e.g. ETH beyond the gas reserve) above a threshold.

Decisions happen on a *tick*: the moment every leg has a bar stamped at the same time, so no
order is ever placed on a stale or missing price.

Capital is counted in the share-class currency (USDT or ETH). The wallet always keeps ETH for
gas: a USDT share class buys it on the ETH/USDT pool, an ETH share class keeps
``gas_reserve_eth`` of its capital aside; either tops it back up when it runs low.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import pandas as pd
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderDenied, OrderEvent, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.trading.strategy import Strategy

from adapters.cex.config import load_cex_venue
from adapters.cex.margin import VenueWalletReader, VenueWallets, last_price, shared_wallet_reader
from adapters.defi.config import load_wallet_venue
from adapters.defi.currencies import account_balances, currency
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.valuation import WalletValuation
from adapters.events import (
    CAPITAL_TOPIC,
    LIQUIDATION_TOPIC,
    PAYOUT_ENDPOINT,
    TRANSFER_ENDPOINT,
    TRANSFER_TOPIC,
    CapitalFlow,
    CapitalFlowKind,
    LiquidationEvent,
    PayoutRequest,
    TransferEvent,
    TransferKind,
    TransferRequest,
    TransferStatus,
    VenueLedger,
)
from data_catalog.bar_types import bar_type_for
from strategies.plan import PlanRunner
from strategies.sizing import round_down

Phase = Callable[[], None]


class Decision(NamedTuple):
    """A plan the strategy decided to start: its action name, phases and the reason (logged)."""

    action: str
    phases: list[Phase]
    why: str = ""


@dataclass(frozen=True)
class DataNeeds:
    """What a run of the strategy must load from the catalog."""

    required: tuple[InstrumentId, ...]
    """Instruments whose bars must cover the whole window (the legs among them gate decisions)."""
    optional: tuple[InstrumentId, ...] = ()
    """Instruments whose bars are loaded where they exist (exit pools, reward tokens' pools)."""
    aave_reserves: tuple[str, ...] = ()
    """Aave reserves used, by aToken instrument symbol (``AWEETH-AAVE``)."""
    rewards: bool = False
    """Whether EtherFi reward payouts are credited."""
    trades: tuple[InstrumentId, ...] = ()
    """Wallet-venue instruments traded without a price series of their own (Aave tokens, LST queues)."""
    gas: bool = True
    """Whether the run acts on-chain (and so needs the gas price over its whole window)."""
    share_price: InstrumentId | None = None
    """What prices the share-class currency in USDT when the wallet has no market for it (BTC)."""
    predictions: tuple[InstrumentId, ...] = ()
    """Instruments whose model predictions (``SignalPrediction``, ``python -m signals build``) are loaded."""

    def wallet_instruments(self, venue: Venue) -> set[InstrumentId]:
        """The wallet-venue instruments a run registers: the ones it prices or trades."""
        return {i for i in (*self.required, *self.optional, *self.trades) if i.venue == venue}


class YieldStrategyConfig(StrategyConfig, frozen=True):
    """Settings every mode shares (amounts in the share-class currency unless stated)."""

    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("USDT",)
    """Share classes the mode supports."""

    share_class: str = "USDT"
    wallet_venue: str = "ETHEREUM"
    dex_pool: str = "ETHUSDT-UNIV3.ETHEREUM"
    """ETH/USDT pool the wallet buys its gas ETH from."""
    gas_reserve_eth: float = 0.05
    """ETH bought at entry and kept in the wallet to pay gas (ETH)."""
    gas_reserve_min_eth: float = 0.01
    """Top the reserve back up to ``gas_reserve_eth`` when it falls below this (ETH)."""
    dust_threshold_usd: float = 25.0
    """sell_dust sells a stray token only when it is worth more than this (USD)."""

    def __post_init__(self) -> None:
        if self.share_class not in self.SHARE_CLASSES:
            raise ValueError(
                f"share_class {self.share_class!r} is not supported by this mode "
                f"(supported: {', '.join(self.SHARE_CLASSES)})"
            )
        if not 0 <= self.gas_reserve_min_eth <= self.gas_reserve_eth:
            raise ValueError(
                f"need 0 <= gas_reserve_min_eth <= gas_reserve_eth, got {self.gas_reserve_min_eth} and "
                f"{self.gas_reserve_eth}",
            )
        if self.dust_threshold_usd < 0:
            raise ValueError("dust_threshold_usd must be >= 0")


class YieldStrategy(Strategy):
    """Base of every mode: see the module docstring."""

    def __init__(self, config: YieldStrategyConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.share = config.share_class
        self.wallet_venue = Venue(config.wallet_venue)
        self.pool_id = InstrumentId.from_str(config.dex_pool)
        self.wallet_config = load_wallet_venue()
        self.valuation = WalletValuation(self.wallet_config, config.share_class)
        self.plans = PlanRunner(self.log, can_advance=self._prices_current)
        self.ledgers: dict[str, VenueLedger] = {}
        self._readers: dict[str, VenueWalletReader] = {}
        self.entered = False
        self.actions: dict[str, int] = dict.fromkeys(
            (
                "entry_full",
                "entry_partial",
                "exit_full",
                "exit_partial",
                "sell_dust",
                "rebalance",
                "gas_top_up",
            ),
            0,
        )
        self.rejections: list[str] = []
        self.action_log: list[tuple[int, str, str]] = []
        """(ts, action, why) of every plan started: the run's ``actions.csv``."""
        self._pending_deposits = 0.0
        self._pending_withdrawal = 0.0
        self._in_transit: dict[str, tuple[str, float]] = {}
        self._withdrawal_fees: dict[str, float] = {}
        self._priced: list[InstrumentId] = []
        self._priced_set: set[InstrumentId] = set()
        self._bar_ts = 0
        self._legs_priced: set[InstrumentId] = set()
        self._last_tick = 0
        self._ids = itertools.count(1)
        self._dust_events = -1
        self._dust: list[tuple[str, float]] = []

    # -- to implement per mode ---------------------------------------------------------------

    def legs(self) -> list[InstrumentId]:
        """Instruments that must all have a bar at a timestamp before the strategy acts on it."""
        raise NotImplementedError

    def data_needs(self) -> DataNeeds:
        """The catalog data a run needs: by default the legs and the gas-ETH pool."""
        return DataNeeds(required=(*self.legs(), self.pool_id))

    def report(self, nav: pd.DataFrame) -> dict[str, Any]:
        """Mode-specific figures for ``summary.json``, from the run's hourly ``nav`` frame."""
        return {}

    def capital_venue(self) -> str | None:
        """Where the starting capital sits: None for the on-chain wallet, else a CEX venue."""
        return None

    def use_protocol_params(self, aave_params: dict[str, Any]) -> None:
        """Check the config against the protocols' real parameters (raise ``ValueError``)."""

    def deploy_phases(self) -> list[Phase]:
        """Phases putting all the wallet's free capital to work (entry_full / entry_partial)."""
        raise NotImplementedError

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        """Phases making ``amount`` of the share currency (``inf`` = everything) free in the wallet."""
        raise NotImplementedError

    def rebalance_phases(self) -> list[Phase] | None:
        """Phases restoring the targets, or None when the book is within its tolerances."""
        raise NotImplementedError

    def rebalance_plan(self) -> Decision | None:
        """The rebalance to start now, named for the action log; by default ``rebalance_phases``."""
        phases = self.rebalance_phases()
        return None if phases is None else Decision("rebalance", phases)

    def gas_top_up_phases(self) -> list[Phase]:
        """Phases refilling the wallet's gas ETH: raise its cost in the share currency, then buy it."""
        return [*self.raise_cash_phases(self._gas_top_up_cost()), *self._gas_reserve_phases()]

    # -- lifecycle ---------------------------------------------------------------------------

    def on_start(self) -> None:
        needs = self.data_needs()
        self._priced = list(dict.fromkeys(needs.required))
        self._priced_set = set(self._priced)
        for instrument_id in dict.fromkeys([*needs.required, *needs.optional]):
            self.subscribe_bars(bar_type_for(instrument_id))
        self.msgbus.subscribe(TRANSFER_TOPIC, self._on_transfer_event)
        self.msgbus.subscribe(CAPITAL_TOPIC, self._on_capital_flow)
        self.msgbus.subscribe(LIQUIDATION_TOPIC, self._on_liquidation)

    def on_stop(self) -> None:
        if self.plans.current is not None:
            self.log.warning(f"run ended while plan {self.plans.current.name!r} was in progress")

    def on_bar(self, bar: Bar) -> None:
        """Count the legs priced at this bar's time; the last one to arrive triggers the tick."""
        instrument_id = bar.bar_type.instrument_id
        if instrument_id not in self._priced_set:
            return  # an optional price (exit pools, reward tokens): read when needed, never gates
        ts = bar.ts_event
        if ts != self._bar_ts:
            self._bar_ts, self._legs_priced = ts, set()
        self._legs_priced.add(instrument_id)
        if ts != self._last_tick and len(self._legs_priced) == len(self._priced):
            self._last_tick = ts
            self.on_tick()

    def _prices_current(self) -> bool:
        return self._last_tick == self.clock.timestamp_ns()

    def on_tick(self) -> None:
        """Every leg is priced at this timestamp: act on flows first, then rebalance."""
        if self.plans.busy:
            self.plans.resume()
            return
        if not self.entered:
            if self._holds_capital():  # after an exit_full the strategy idles until a deposit
                self.entered = True  # from now on rebalancing deploys whatever an interrupted entry left
                self._pending_deposits = 0.0
                why = f"{self.nav_estimate():,.6g} {self.share} in the wallet, nothing deployed yet"
                self._start_plan("entry_full", [*self._gas_reserve_phases(), *self.deploy_phases()], why=why)
            self._pending_withdrawal = 0.0  # nothing deployed: a withdrawal request has nothing to raise
        elif self._pending_withdrawal > 0:
            self._start_withdrawal()
        elif self._pending_deposits > 0:
            why = f"investor deposit of {self._pending_deposits:,.6g} {self.share}"
            self._pending_deposits = 0.0
            self._start_plan("entry_partial", [*self._gas_reserve_phases(), *self.deploy_phases()], why=why)
        elif (eth := self.wallet_balance("ETH")) < self.cfg.gas_reserve_min_eth:
            why = f"wallet ETH {eth:.6g} < gas_reserve_min_eth {self.cfg.gas_reserve_min_eth:g}"
            self._start_plan("gas_top_up", self.gas_top_up_phases(), why=why)
        elif (decision := self.rebalance_plan()) is not None:
            self._start_plan(decision.action, decision.phases, why=decision.why)
        elif dust := self.dust_phases():
            why = f"stray tokens worth > dust_threshold_usd {self.cfg.dust_threshold_usd:g}"
            self._start_plan("sell_dust", dust, why=why)

    def _start_plan(
        self, action: str, phases: list[Phase], on_done: Callable[[], None] | None = None, why: str = ""
    ) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1
        self.action_log.append((self.clock.timestamp_ns(), action, why))
        self.log.info(f"{action}: starting {why}".rstrip())
        self.plans.start(action, phases, on_done)

    # -- investor flows ----------------------------------------------------------------------

    def _on_capital_flow(self, flow: CapitalFlow) -> None:
        if flow.kind == CapitalFlowKind.DEPOSIT:
            self._pending_deposits += flow.amount
        elif flow.kind == CapitalFlowKind.WITHDRAWAL_REQUESTED:
            self._pending_withdrawal += flow.amount

    def _start_withdrawal(self) -> None:
        amount = self._pending_withdrawal
        self._pending_withdrawal = 0.0
        full = amount == float("inf") or amount >= 0.999 * self.nav_estimate()
        action = "exit_full" if full else "exit_partial"
        target = float("inf") if full else amount
        phases = [*self.raise_cash_phases(target)]
        if full:
            phases.append(self._sell_all_eth)
        phases.append(lambda: self._payout(target))
        why = "investor withdrawal of " + ("all" if amount == float("inf") else f"{amount:,.6g} {self.share}")
        self._start_plan(action, phases, self._after_exit if full else None, why=why)

    def _after_exit(self) -> None:
        self.entered = self._holds_capital()

    def _holds_capital(self) -> bool:
        """Whether the book, beyond the gas money an exit leaves, is worth more than dust (USD):
        otherwise there is nothing to manage (and no gas to keep topping up)."""
        usd = self.nav_estimate() * self.valuation.numeraire_price(self.share, self.cache)
        gas = min(self.wallet_balance("ETH"), self.cfg.gas_reserve_eth)
        if gas > 0:
            usd -= gas * self.valuation.numeraire_price("ETH", self.cache)
        return usd > self.cfg.dust_threshold_usd

    def _payout(self, amount: float) -> None:
        self.msgbus.send(PAYOUT_ENDPOINT, PayoutRequest(min(amount, self.payable())))

    # -- wallets and prices ------------------------------------------------------------------

    def price(self, instrument_id: InstrumentId) -> float:
        value = last_price(self.cache, instrument_id)
        if value is None:
            raise RuntimeError(f"no price for {instrument_id} at a tick (legs must be priced)")
        return value

    def wallet_balances(self) -> dict[str, float]:
        """Every token balance of the on-chain wallet (debt tokens negative)."""
        return account_balances(self.cache, self.wallet_venue)

    def wallet_balance(self, code: str) -> float:
        account = self.cache.account_for_venue(self.wallet_venue)
        money = account.balance_total(currency(code)) if account is not None else None
        return money.as_double() if money is not None else 0.0

    def free_capital(self) -> float:
        """Share currency in the wallet that can be deployed (an ETH class keeps its gas reserve)."""
        held = self.wallet_balance(self.share)
        return held - self.cfg.gas_reserve_eth if self.share == "ETH" else held

    def payable(self) -> float:
        """Share currency the investor can be paid now (the wallet keeps its minimum gas)."""
        held = self.wallet_balance(self.share)
        return max(0.0, held - self.cfg.gas_reserve_min_eth if self.share == "ETH" else held)

    def priced_now(self, instrument_id: InstrumentId) -> bool:
        """Whether ``instrument_id`` has a bar stamped now (optional prices arrive before the legs')."""
        bar = self.cache.bar(bar_type_for(instrument_id))
        return bar is not None and bar.ts_event == self.clock.timestamp_ns()

    def wallet_id(self, symbol: str) -> InstrumentId:
        return wallet_instrument_id(self.wallet_config, symbol)

    def wallet_instrument(self, symbol: str) -> Instrument:
        return self.cache.instrument(self.wallet_id(symbol))

    def venue_wallets(self, venue: str) -> VenueWallets:
        reader = self._readers.get(venue)
        if reader is None:
            reader = self._readers[venue] = shared_wallet_reader(self.msgbus, venue)
        return reader.read(self.cache, self.portfolio, self.ledgers.get(venue, VenueLedger()))

    def nav_estimate(self) -> float:
        """Wallet plus every traded venue's equity, in the share class (for decisions, not reporting)."""
        prices = self.valuation.prices(list(self.wallet_balances()), self.cache)
        share_price = prices.get(self.share) or self.valuation.numeraire_price(self.share, self.cache)
        wallet = sum(q * (prices[c] or 0.0) for c, q in self.wallet_balances().items())
        venues = {leg.venue.value for leg in self.legs() if leg.venue != self.wallet_venue}
        on_venues = 0.0
        for venue in venues:
            wallets = self.venue_wallets(venue)
            on_venues += wallets.equity * wallets.settlement_price
        return (wallet + on_venues) / share_price

    # -- orders ------------------------------------------------------------------------------

    def submit_market(
        self, instrument: Instrument, side: OrderSide, base_qty: float, *, reduce_only: bool = False
    ) -> ClientOrderId | None:
        """Submit a market order for ``base_qty`` base units; skip (None) when below the venue's minimum."""
        step = instrument.size_increment.as_double()
        contracts = round_down(base_qty / instrument.multiplier.as_double(), step)
        if contracts < step:
            return None
        quantity = instrument.make_qty(contracts)
        if not reduce_only and instrument.min_notional is not None:
            notional = quantity.as_double() * instrument.multiplier.as_double() * self.price(instrument.id)
            if notional < instrument.min_notional.as_double():
                return None
        order = self.order_factory.market(
            instrument.id,
            side,
            quantity,
            time_in_force=TimeInForce.GTC,
            reduce_only=reduce_only,
        )
        self.plans.expect_order(order.client_order_id)
        self.submit_order(order)
        return order.client_order_id

    def submit_transaction(self, steps: list[tuple[Instrument, OrderSide, float]]) -> bool:
        """Submit wallet-venue orders as one atomic transaction (an ``OrderList``): all fill or none.

        Quantities are rounded down to each instrument's size step; steps that round to zero are
        dropped. Returns False when nothing was left to submit.
        """
        orders = []
        for instrument, side, qty in steps:
            step = instrument.size_increment.as_double()
            rounded = round_down(qty, step)
            if rounded >= step:
                orders.append(
                    self.order_factory.market(
                        instrument.id, side, instrument.make_qty(rounded), time_in_force=TimeInForce.GTC
                    )
                )
        if not orders:
            return False
        for order in orders:
            self.plans.expect_order(order.client_order_id)
        self.submit_order_list(self.order_factory.create_list(orders))
        return True

    def on_order_event(self, event: OrderEvent) -> None:
        order = self.cache.order(event.client_order_id)
        if order is None or not order.is_closed:
            return
        failure = None
        if not isinstance(event, OrderFilled):
            reason = getattr(event, "reason", type(event).__name__)
            failure = f"order {event.client_order_id} on {event.instrument_id} closed unfilled: {reason}"
            if isinstance(event, OrderRejected | OrderDenied):  # a cancel is the strategy's own choice
                self.rejections.append(failure)
        self.plans.order_closed(event.client_order_id, failure)

    # -- transfers ---------------------------------------------------------------------------

    def request_transfer(
        self, kind: TransferKind, venue: str, amount: float, asset: str = "USDT"
    ) -> str | None:
        """Ask for a transfer of ``amount`` of ``asset``: USDT is rounded down to the cent and
        skipped under one; other assets arrive rounded by the caller."""
        if asset == "USDT":
            amount = math.floor(amount * 100) / 100
        if amount < (0.01 if asset == "USDT" else 1e-9):
            return None
        request_id = f"{self.id}-T{next(self._ids)}"
        self.plans.expect_transfer(request_id)
        self.msgbus.send(TRANSFER_ENDPOINT, TransferRequest(request_id, kind, venue, amount, asset))
        return request_id

    def withdrawal_fee(self, venue: str) -> float:
        """The venue's flat USDT withdrawal fee."""
        fee = self._withdrawal_fees.get(venue)
        if fee is None:
            fee = self._withdrawal_fees[venue] = load_cex_venue(venue).transfers.withdrawal_fee_usdt
        return fee

    def deposit_to_venues(self, amounts: dict[str, float]) -> None:
        """Deposit ``amounts`` USDT on CEX venues (pro rata when the wallet holds less than their sum)."""
        total, held = sum(amounts.values()), self.wallet_balance("USDT")
        scale = min(1.0, held / total) if total > 0 else 0.0
        for venue, amount in amounts.items():
            self.request_transfer(TransferKind.DEPOSIT, venue, amount * scale)

    def sweep_to_futures(self, venues: list[str]) -> None:
        """Move each venue's spot cash into its futures wallet (margin)."""
        for venue in venues:
            self.request_transfer(TransferKind.TO_FUTURES, venue, self.venue_wallets(venue).spot_cash)

    def move_to_spot(self, amounts: dict[str, float]) -> None:
        """Make ``amounts`` (``inf`` = all that may leave) spot cash, from the futures wallets."""
        for venue, amount in amounts.items():
            wallets = self.venue_wallets(venue)
            need = min(amount - wallets.spot_cash, wallets.transferable_from_futures)
            if need > 0:
                self.request_transfer(TransferKind.TO_SPOT, venue, need)

    def withdraw_to_wallet(self, amounts: dict[str, float]) -> None:
        """Withdraw ``amounts`` (arriving; ``inf`` = the whole spot wallet) to the on-chain wallet."""
        for venue, amount in amounts.items():
            available = self.venue_wallets(venue).spot_cash - self.withdrawal_fee(venue)
            self.request_transfer(TransferKind.WITHDRAWAL, venue, min(amount, available))

    def in_transit(self, asset: str) -> float:
        """``asset`` sent between the wallet and a CEX and not yet arrived."""
        return sum(amount for code, amount in self._in_transit.values() if code == asset)

    def _on_transfer_event(self, event: TransferEvent) -> None:
        if event.kind in (TransferKind.DEPOSIT, TransferKind.WITHDRAWAL):
            if event.status == TransferStatus.SENT:
                self._in_transit[event.request_id] = (event.asset, event.amount)
            else:
                self._in_transit.pop(event.request_id, None)
        if event.ledger is not None:
            self.ledgers[event.venue] = event.ledger
        if event.status == TransferStatus.REJECTED:
            self.rejections.append(
                f"transfer {event.request_id} ({event.kind} {event.amount:.2f} {event.venue}): {event.reason}"
            )
            self.plans.transfer_done(event.request_id, event.reason)
        elif event.status == TransferStatus.ARRIVED:
            self.plans.transfer_done(event.request_id)

    def _on_liquidation(self, event: LiquidationEvent) -> None:
        self.log.warning(
            f"LIQUIDATION on {event.venue}: {event.signed_base_qty:+.6f} {event.instrument_id} closed at "
            f"{event.price:.2f} (fee {event.fee:.2f} USDT)",
        )

    # -- gas reserve and dust ----------------------------------------------------------------

    def _gas_top_up_cost(self) -> float:
        """Share currency to free for refilling the gas reserve."""
        missing = self.cfg.gas_reserve_eth - self.wallet_balance("ETH")
        if self.share == "ETH":
            return 0.0  # free_capital already nets the reserve: raising 0 free ETH refills it
        pool = self.cache.instrument(self.pool_id)
        return missing * self.price(self.pool_id) * (1 + float(pool.taker_fee)) * 1.01

    def _gas_reserve_phases(self) -> list[Phase]:
        if self.share == "ETH":
            return []  # the reserve is part of the capital, never deployed

        def top_up() -> None:
            held = self.wallet_balance("ETH")
            if held >= self.cfg.gas_reserve_min_eth:
                return
            pool = self.cache.instrument(self.pool_id)
            price = self.price(self.pool_id) * (1 + float(pool.taker_fee))
            affordable = self.wallet_balance("USDT") / price
            self.submit_market(pool, OrderSide.BUY, min(self.cfg.gas_reserve_eth - held, affordable))

        return [top_up]

    def position_tokens(self) -> set[str]:
        """Wallet tokens the mode holds on purpose (never sold as dust)."""
        return set()

    def _dust_candidates(self) -> list[tuple[str, float]]:
        """Wallet tokens held beyond what the mode keeps (re-read only after an account event)."""
        account = self.cache.account_for_venue(self.wallet_venue)
        events = account.event_count if account is not None else 0
        if events != self._dust_events:
            kept = {self.share, *self.position_tokens()}
            self._dust_events = events
            self._dust = [(c, q) for c, q in self.wallet_balances().items() if q > 0 and c not in kept]
        return self._dust

    def dust_phases(self) -> list[Phase]:
        """Sell stray tokens (rewards, ETH beyond the gas reserve of a USDT class) worth enough."""
        phases: list[Phase] = []
        for code, held in self._dust_candidates():
            amount = held - self.cfg.gas_reserve_eth if code == "ETH" else held
            pool = next((p for p in self.wallet_config.pools if p.base == code), None)
            if pool is None or amount <= 0:
                continue
            try:
                value = amount * self.valuation.numeraire_price(code, self.cache)
            except LookupError:
                continue  # no market yet: keep it
            if value > self.cfg.dust_threshold_usd:
                phases.append(self._sell_phase(self.wallet_instrument(pool.symbol), amount))
        return phases

    def _sell_phase(self, instrument: Instrument, amount: float) -> Phase:
        return lambda: self.submit_market(instrument, OrderSide.SELL, amount)

    def _sell_all_eth(self) -> None:
        """exit_full of a USDT class: sell the gas reserve down to its minimum (gas money stays)."""
        if self.share == "ETH":
            return
        amount = self.wallet_balance("ETH") - self.cfg.gas_reserve_min_eth
        if amount * self.price(self.pool_id) > self.cfg.dust_threshold_usd:
            self.submit_market(self.cache.instrument(self.pool_id), OrderSide.SELL, amount)
