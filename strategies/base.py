"""What every mode shares: capital flows, the five actions, transfers, gas reserve, decision ticks.

A mode subclasses :class:`YieldStrategy` and supplies its legs (the instruments it trades) and
three plans: deploy new capital, raise cash for a withdrawal, and rebalance. The base turns
investor flows into the five actions of DOMAIN.md:

- ``entry_full``: the first deployment of the starting capital;
- ``entry_partial``: deploying a later deposit;
- ``exit_partial``: raising and paying out a withdrawal;
- ``exit_full``: unwinding everything and paying it all out;
- ``sell_dust``: selling leftover tokens (e.g. ETH beyond the gas reserve) above a threshold.

Decisions happen on a *tick*: once per data hour, when every leg's bar for the hour has arrived
(:mod:`strategies.hour_gate`); the strategy's time (:attr:`YieldStrategy.hour`) is the closing hour
of the data it last acted on. Multi-step actions run as plans (:mod:`strategies.plan`) that
advance on fills and transfer events; transfers (:mod:`strategies.transfers`) and the wallet's gas
and dust (:mod:`strategies.wallet_upkeep`) are mixed in. Capital is counted in the share-class
currency (USDT or ETH).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd
from nautilus_trader.config import StrategyConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.data import Bar, DataType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderDenied, OrderEvent, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import ClientId, ClientOrderId, InstrumentId, PositionId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.orders import Order, OrderList
from nautilus_trader.trading.strategy import Strategy

from adapters.bars import bar_type_for
from adapters.cex.instruments import exchange_of
from adapters.cex.liquidation_fills import is_liquidation_fill
from adapters.cex.margin import VenueWalletReader, VenueWallets, last_price, shared_wallet_reader
from adapters.defi.aave_params import EModeParams
from adapters.defi.config import load_wallet_venue
from adapters.defi.currencies import account_balances, currency
from adapters.defi.data import AaveReserveSnapshot, GasPrice
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.valuation import WalletValuation
from adapters.defi.web3.limits import DEFAULT_MAX_DAILY_GAS_ETH, DEFAULT_MAX_TX_VALUE_USD, SendLimits
from adapters.events import (
    CAPITAL_TOPIC,
    PAYOUT_ENDPOINT,
    TRANSFER_TOPIC,
    CapitalFlow,
    CapitalFlowKind,
    PayoutRequest,
    TransferBook,
)
from adapters.halt import HALT_TOPIC, HaltRequest
from adapters.hours import HOUR_NS, closing_hour
from adapters.signals import SignalPrediction
from strategies.book_check import Book, book_differences, held_book
from strategies.feed_watch import DAY_NS, FUNDING_INTERVAL_NS, FeedWatch, StaleFeed
from strategies.fill_reports import ACCOUNT_TOPIC, FillReports
from strategies.hour_gate import HourGate
from strategies.needs import DataNeeds
from strategies.order_caps import DEFAULT_MAX_ORDER_USD, DEFAULT_MAX_POSITION_USD, OrderCaps
from strategies.order_rate import DEFAULT_MAX_ORDERS_PER_MINUTE, OrderRateCap
from strategies.plan import Decision, Phase, PlanRunner, PlanTimeouts
from strategies.sizing import round_down
from strategies.transfers import TransferActions
from strategies.wallet_upkeep import WalletUpkeep

WALLET_CAPITAL = "wallet"
VENUES_CAPITAL = "venues"


class YieldStrategyConfig(StrategyConfig, frozen=True):
    """Settings every mode shares (amounts in the share-class currency unless stated)."""

    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("USDT",)
    """Share classes the mode supports."""
    CAPITAL_SOURCES: ClassVar[tuple[str, ...]] = (WALLET_CAPITAL,)
    """Where the mode's capital may start (the first is the default)."""

    share_class: str = "USDT"
    capital_source: str | None = None
    """Where the capital starts: ``wallet`` (the on-chain wallet; the strategy sends it to the
    venues and pays their transfers' gas) or ``venues`` (already on the CEX venues, split by the
    mode's allocation, in each exchange's deposit account: no on-chain action, no gas reserve, no
    capital flows). None: the mode's default (``CAPITAL_SOURCES[0]``)."""
    wallet_venue: str = "ETHEREUM"
    dex_pool: str = "ETHUSDT-UNIV3.ETHEREUM"
    """ETH/USDT pool the wallet buys its gas ETH from."""
    gas_reserve_eth: float = 0.05
    """ETH bought at entry and kept in the wallet to pay gas (ETH)."""
    gas_reserve_min_eth: float = 0.01
    """Top the reserve back up to ``gas_reserve_eth`` when it falls below this (ETH)."""
    dust_threshold_usd: float = 25.0
    """sell_dust sells a stray token only when it is worth more than this (USD)."""
    missing_leg_wait_secs: float = 120.0
    """With ``missing_leg_action: act``, how long after an hour's first leg bar the others may take
    before the strategy acts without them (s)."""
    missing_leg_action: str = "skip"
    """An hour whose legs did not all arrive: ``skip`` it (when the next hour's data arrives), or
    ``act`` on the last prices after ``missing_leg_wait_secs``."""
    fill_report_wait_secs: float = 10.0
    """Live, how long a filled order waits for its venue's report of the balances it changed
    before the plan goes on without it (s; ``strategies/fill_reports.py``)."""
    order_timeout_hours: float = 2.0
    """A plan gives up when its orders have not closed after this long (hours of data time)."""
    transfer_timeout_hours: float = 48.0
    """A plan gives up when its transfers have not landed after this long (hours of data time)."""
    flatten_on_stop: bool = False
    """On stop, close the CEX positions with market orders (open orders are always cancelled)."""
    max_order_notional_usd: float = DEFAULT_MAX_ORDER_USD
    """Largest CEX order the strategy sends (USD notional); a larger one is refused and reported
    (live, Nautilus' risk engine enforces it too). Raise it on purpose for a larger book."""
    max_position_notional_usd: float = DEFAULT_MAX_POSITION_USD
    """Largest CEX position (USD notional, per instrument) an order may build."""
    max_orders_per_minute: int = DEFAULT_MAX_ORDERS_PER_MINUTE
    """Most orders (an order list counts as one) the strategy sends in any minute; more are refused
    and reported (live, Nautilus' risk engine enforces it too)."""
    max_tx_value_usd: float = DEFAULT_MAX_TX_VALUE_USD
    """Most one on-chain transaction may move (USD at the Aave oracle's prices: a swap's input, an
    Aave amount, a stake, a loop's flash + own ETH, a deposit to a CEX); the web3 backend refuses
    a larger one unsent (:mod:`adapters.defi.web3.limits`)."""
    max_daily_gas_eth: float = DEFAULT_MAX_DAILY_GAS_ETH
    """Most gas the web3 backend pays in any 24 hours (ETH); beyond it a transaction is refused."""
    stale_after_intervals: float = 3.0
    """A feed silent for longer than this many of its intervals (bars 1 h, funding 8 h, gas and
    model calls 1 h, Aave snapshots 1 day) is stale: no new entries until it speaks again."""
    restart_tolerance: float = 0.01
    """At a restart, a CEX holding may differ from the one saved by this fraction (and one size
    increment) before the strategy starts HALTED, reporting the difference
    (:mod:`strategies.book_check`)."""

    def __post_init__(self) -> None:
        if self.share_class not in self.SHARE_CLASSES:
            raise ValueError(
                f"share_class {self.share_class!r} is not supported by this mode "
                f"(supported: {', '.join(self.SHARE_CLASSES)})"
            )
        if self.capital_source is not None and self.capital_source not in self.capital_sources():
            raise ValueError(
                f"capital_source {self.capital_source!r} is not supported by this mode "
                f"(supported: {', '.join(self.capital_sources())})"
            )
        if not 0 <= self.gas_reserve_min_eth <= self.gas_reserve_eth:
            raise ValueError(
                f"need 0 <= gas_reserve_min_eth <= gas_reserve_eth, got {self.gas_reserve_min_eth} and "
                f"{self.gas_reserve_eth}",
            )
        if self.dust_threshold_usd < 0:
            raise ValueError("dust_threshold_usd must be >= 0")
        if self.missing_leg_action not in ("skip", "act"):
            raise ValueError(f"missing_leg_action must be 'skip' or 'act', got {self.missing_leg_action!r}")
        if not self.missing_leg_wait_secs > 0:
            raise ValueError(f"missing_leg_wait_secs must be > 0, got {self.missing_leg_wait_secs}")
        if not self.fill_report_wait_secs > 0:
            raise ValueError(f"fill_report_wait_secs must be > 0, got {self.fill_report_wait_secs}")
        if not (self.max_order_notional_usd > 0 and self.max_position_notional_usd > 0):
            raise ValueError(
                f"max_order_notional_usd and max_position_notional_usd must be > 0, got "
                f"{self.max_order_notional_usd} and {self.max_position_notional_usd}"
            )
        self.send_limits  # noqa: B018 -- validates max_tx_value_usd and max_daily_gas_eth
        if self.max_orders_per_minute < 1:
            raise ValueError(f"max_orders_per_minute must be >= 1, got {self.max_orders_per_minute}")
        if not 0 <= self.restart_tolerance < 1:
            raise ValueError(f"restart_tolerance must be in [0, 1), got {self.restart_tolerance}")
        if not self.stale_after_intervals >= 1:
            raise ValueError(f"stale_after_intervals must be >= 1, got {self.stale_after_intervals}")
        if not (self.order_timeout_hours > 0 and self.transfer_timeout_hours > 0):
            raise ValueError(
                f"order_timeout_hours and transfer_timeout_hours must be > 0, got "
                f"{self.order_timeout_hours} and {self.transfer_timeout_hours}"
            )

    @property
    def send_limits(self) -> SendLimits:
        """The limits the web3 backend enforces on this mode's on-chain sends."""
        return SendLimits(self.max_tx_value_usd, self.max_daily_gas_eth)

    def capital_sources(self) -> tuple[str, ...]:
        """Where this config's capital may start, the default first."""
        return self.CAPITAL_SOURCES

    @property
    def prefunded(self) -> bool:
        """The capital starts on the venues: the strategy never acts on-chain."""
        return (self.capital_source or self.capital_sources()[0]) == VENUES_CAPITAL


class YieldStrategy(TransferActions, WalletUpkeep, Strategy):
    """Base of every mode: see the module docstring."""

    OPENING_ACTIONS: ClassVar[frozenset[str]] = frozenset({"entry_full", "entry_partial"})
    """Plans that open new positions: held back while a feed is stale (the rest reduce risk or
    keep the book within its tolerances)."""

    def __init__(self, config: YieldStrategyConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.share = config.share_class
        self.wallet_venue = Venue(config.wallet_venue)
        self.pool_id = InstrumentId.from_str(config.dex_pool)
        self.wallet_config = load_wallet_venue()
        self.caps = OrderCaps(config.max_order_notional_usd, config.max_position_notional_usd)
        self.rate_cap = OrderRateCap(config.max_orders_per_minute)
        self.feeds = FeedWatch(config.stale_after_intervals)
        self.stale_feeds: list[StaleFeed] = []
        """Feeds stale at the last tick: while any is, nothing new is opened."""
        self.halted: str | None = None
        """Why the strategy is HALTED (kill switch, restart gate), or None: halted, it starts no plan."""
        self._saved_book: Book | None = None
        """The CEX book at the last save, checked against the venues' on the restart's start."""
        self._venue_time: Callable[[], int] | None = None
        self.valuation = WalletValuation(self.wallet_config, config.share_class)
        self.gate = HourGate(
            self.log,
            lambda hour, ts: self.on_tick(),
            config.missing_leg_wait_secs,
            config.missing_leg_action,
        )
        self.plans = PlanRunner(
            self.log,
            now=lambda: self.hour,
            timeouts=PlanTimeouts(
                order_ns=int(config.order_timeout_hours * HOUR_NS),
                transfer_ns=int(config.transfer_timeout_hours * HOUR_NS),
            ),
            on_rest=self._plan_ended,
        )
        self.fill_reports = FillReports(self.log, self.plans.order_closed, config.fill_report_wait_secs)
        self.transfers = TransferBook()
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
        self._withdrawal_fees: dict[str, float] = {}
        self._priced: list[InstrumentId] = []
        self._transfer_count = 0
        self._dust_events = -1
        self._dust: list[tuple[str, float]] = []

    # -- to implement per mode ---------------------------------------------------------------

    def legs(self) -> list[InstrumentId]:
        """Instruments that must all have a bar at a timestamp before the strategy acts on it."""
        raise NotImplementedError

    def data_needs(self) -> DataNeeds:
        """The catalog data a run needs: by default the legs, and the gas-ETH pool and the gas
        price when the strategy acts on-chain."""
        if self.cfg.prefunded:
            return DataNeeds(required=tuple(self.legs()), gas=False)
        return DataNeeds(required=(*self.legs(), self.pool_id))

    def report(self, nav: pd.DataFrame) -> dict[str, Any]:
        """Mode-specific figures for ``summary.json``, from the run's hourly ``nav`` frame."""
        return {}

    def capital_venues(self) -> dict[str, float]:
        """How a pre-funded capital is split between the CEX accounts, by Nautilus venue (an
        exchange's spot account is its spot venue, ``BINANCE_SPOT``), as weights summing to 1;
        empty when it starts in the on-chain wallet."""
        if self.cfg.prefunded:
            raise NotImplementedError(f"{type(self).__name__} names no venues for its capital")
        return {}

    def check_protocol_params(self, emode: EModeParams) -> None:
        """Raise ``ValueError`` when the config cannot work under the protocol's e-mode parameters.

        Pure (it sets nothing): a run checks its config with it before starting, and a strategy
        that needs the parameters applies the same check to those it receives as data.
        """

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
        missing = [
            str(i)
            for i in dict.fromkeys([*needs.required, *needs.trades])
            if self.cache.instrument(i) is None
        ]
        if missing:
            self.log.error(
                f"instruments {', '.join(missing)} are not loaded: the strategy cannot trade; stopping"
            )
            self.stop()
            return
        self._priced = list(dict.fromkeys(needs.required))
        self.gate.watch(self._priced, lambda i: last_price(self.cache, i) is not None, self.clock)
        self.fill_reports.watch(self.cache, self.clock)
        self.msgbus.subscribe(ACCOUNT_TOPIC, self.fill_reports.on_account_state)
        for instrument_id in dict.fromkeys([*needs.required, *needs.optional]):
            self.subscribe_bars(bar_type_for(instrument_id))
        self._watch_feeds(needs)
        self.msgbus.subscribe(TRANSFER_TOPIC, self._on_transfer_event)
        self.msgbus.subscribe(CAPITAL_TOPIC, self._on_capital_flow)
        # every fill, not just this strategy's: live, a liquidation is the venue's own order
        self.msgbus.subscribe("events.fills.*", self._on_liquidation)
        self.msgbus.subscribe(HALT_TOPIC, self._on_halt_request)
        self._check_restart_book()

    def _check_restart_book(self) -> None:
        """Restarted from a saved state, the venues (reconciled by the node) must hold what the
        strategy left; otherwise HALTED, touching nothing (:mod:`strategies.book_check`)."""
        if self._saved_book is None:
            return
        differences = book_differences(
            self._saved_book, self._held_book(), self.cfg.restart_tolerance, self._size_steps()
        )
        self._saved_book = None
        if differences:
            why = f"the venues' book differs from the saved state: {'; '.join(differences)}"
            self.halt(why, cancel=False)

    def _cex_exchanges(self) -> list[str]:
        return sorted({exchange_of(leg) for leg in self.legs() if leg.venue != self.wallet_venue})

    def _held_book(self) -> Book:
        return held_book(self.venue_wallets(venue) for venue in self._cex_exchanges())

    def _size_steps(self) -> dict[str, float]:
        """One size increment of each CEX leg, in the units of the book."""
        steps = {}
        for leg in self.legs():
            instrument = self.cache.instrument(leg)
            if leg.venue != self.wallet_venue and instrument is not None:
                steps[str(leg)] = instrument.size_increment.as_double() * instrument.multiplier.as_double()
        return steps

    def _watch_feeds(self, needs: DataNeeds) -> None:
        """Expect every feed the decisions read at its interval (:mod:`strategies.feed_watch`)."""
        self._bar_feeds = {i: f"bars {i}" for i in needs.required}
        for feed in self._bar_feeds.values():
            self.feeds.expect(feed, HOUR_NS)
        for instrument_id in needs.required:
            if isinstance(self.cache.instrument(instrument_id), CryptoPerpetual):
                feed = f"funding {instrument_id}"
                self.feeds.expect(feed, FUNDING_INTERVAL_NS)
                self._subscribe_feed(feed, f"data.funding_rates.{instrument_id.venue}.{instrument_id.symbol}")
        if needs.gas:
            self.feeds.expect("gas price", HOUR_NS)
            self._subscribe_feed("gas price", f"data.{DataType(GasPrice).topic}")
        if needs.predictions:
            self.feeds.expect("model calls", HOUR_NS)
            self._subscribe_feed("model calls", f"data.{DataType(SignalPrediction).topic}*")
        if needs.aave_reserves:
            self.feeds.expect("Aave snapshots", DAY_NS)
            self._subscribe_feed("Aave snapshots", f"data.{DataType(AaveReserveSnapshot).topic}*")

    def _subscribe_feed(self, feed: str, topic: str) -> None:
        self.msgbus.subscribe(topic, lambda data: self.feeds.seen(feed, data.ts_event))

    def on_stop(self) -> None:
        self.clock.cancel_timers()  # the hour gate's waits for missing legs
        if self.plans.current is not None:
            self.log.warning(f"stopped while plan {self.plans.current.name!r} was in progress")
        self._cancel_open_orders()
        if self.cfg.flatten_on_stop:
            self._flatten_cex()
            self.log.warning("flatten_on_stop: CEX positions closed; on-chain positions need exit_full")

    def halt(self, why: str, flatten: bool = False, cancel: bool = True) -> None:
        """HALTED: no plan starts any more, the one in progress is given up; the kill switch also
        cancels every open order (``cancel``) and closes the CEX positions when ``flatten`` is
        asked for."""
        if self.halted is None:
            self.halted = why
            if self.plans.current is not None:
                self.plans.abandon(f"halted: {why}")
        cancelled = self._cancel_open_orders() if cancel else 0
        if flatten:
            self._flatten_cex()
        self.log.warning(
            f"HALTED ({why}): {cancelled} open order(s) cancelled; CEX positions "
            f"{'being flattened' if flatten else 'kept'}; no new plans"
        )

    def clear_halt(self) -> None:
        """The operator's go-ahead after a halt (``run_live.py --clear-halt``): no longer HALTED,
        and the venues' book as it is now is the strategy's (the restart gate is not applied)."""
        if self.halted is not None:
            self.log.warning(f"HALTED cleared by the operator (it was: {self.halted})")
        self.halted = None
        self._saved_book = None

    def _on_halt_request(self, request: HaltRequest) -> None:
        self.halt(f"requested by {request.describe()}", request.flatten)

    def _cancel_open_orders(self) -> int:
        """Cancel every open order on the strategy's instruments; how many were open."""
        count = len(self.cache.orders_open(strategy_id=self.id))
        for instrument_id in self._priced:
            self.cancel_all_orders(instrument_id)
        return count

    def _flatten_cex(self) -> None:
        for instrument_id in self._priced:
            if instrument_id.venue != self.wallet_venue:
                self._flatten(instrument_id)

    def _flatten(self, instrument_id: InstrumentId) -> None:
        """Close a CEX leg: a perp's position, or the spot coins the venue holds (on a spot
        account the fills' position goes stale once coins are withdrawn)."""
        instrument = self.cache.instrument(instrument_id)
        if isinstance(instrument, CryptoPerpetual):
            self.close_all_positions(instrument_id)
            return
        held = self.venue_wallets(exchange_of(instrument_id)).spot_qty(instrument_id)
        if held > 0:
            self.submit_market(instrument, OrderSide.SELL, held)

    @property
    def at_rest(self) -> bool:
        """No plan in progress: a stop here loses nothing a restart needs (a plan's next steps are
        code, not state; transfers in flight are in the saved transfer book)."""
        return not self.plans.busy

    def _checkpoint(self) -> None:
        """Write :meth:`on_save`'s state to the node's cache database now (without one, as in a
        backtest, Nautilus writes nothing).

        Nautilus saves a strategy's state only on a graceful stop: a node killed outright (SIGKILL,
        a crash, the host lost) would restart from the state of its last stop, or none, and could
        deploy its capital a second time. So the strategy also saves at every tick it starts at
        rest, before deciding, and as soon as a plan ends (:meth:`_plan_ended`): a kill loses at
        most the plan in flight; the venues then hold more or less than the saved book and the
        restart gate starts HALTED naming the difference: never an order sent twice. A halted
        strategy no longer saves, so its saved book stays the one the venues were checked
        against."""
        self.cache.update_strategy(self)

    def _plan_ended(self) -> None:
        """A plan ended (the strategy is at rest again): save its outcome now, not at the next
        tick. What the plan did — the venues' new book, and what a mode derives from its fills,
        such as the directional long's stop-loss and take-profit, placed when the entry fills — is
        otherwise saved only at the next hour's tick, and a node killed in between would restart
        from the state before the plan: HALTED by the restart gate (the book differs), or
        forgetting the orders it placed."""
        if self.halted is None:
            self._checkpoint()

    def on_save(self) -> dict[str, bytes]:
        """What a restart needs to carry on: the decision state, flows awaited, transfers in flight,
        the venues' transfer ledgers and the run's record so far (the balances are the venues')."""
        state = {
            "entered": self.entered,
            "gate": self.gate.to_json(),
            "actions": self.actions,
            "action_log": self.action_log,
            "rejections": self.rejections,
            "aborted_plans": self.plans.failures,
            "pending_deposits": self._pending_deposits,
            "pending_withdrawal": self._pending_withdrawal,
            "transfers": self.transfers.to_json(),
            "transfer_count": self._transfer_count,
            "plan_in_progress": self.plans.current.name if self.plans.current is not None else None,
            "halted": self.halted,
            "feeds": self.feeds.to_json(),
            "book": self._held_book(),
        }
        return {"yield_strategy": json.dumps(state).encode()}

    def on_load(self, state: dict[str, bytes]) -> None:
        saved = state.get("yield_strategy")
        if saved is None:
            return
        values = json.loads(saved)
        self.entered = values["entered"]
        self.gate.load_json(values["gate"])
        self.actions.update(values["actions"])
        self.action_log = [(ts, action, why) for ts, action, why in values["action_log"]]
        self.rejections = list(values["rejections"])
        self.plans.failures = list(values["aborted_plans"])
        self._pending_deposits = values["pending_deposits"]
        self._pending_withdrawal = values["pending_withdrawal"]
        self.transfers.load_json(values["transfers"])
        self._transfer_count = values["transfer_count"]
        self.halted = values["halted"]
        self.feeds.load_json(values["feeds"])
        self._saved_book = values.get("book")  # absent from a state saved before the restart gate
        if self.halted is not None:
            self.log.warning(f"restarted HALTED ({self.halted}): no new plans")
        if values["plan_in_progress"] is not None:
            self.log.warning(
                f"restarted while plan {values['plan_in_progress']!r} was in progress: re-planning from "
                "the balances the venues report"
            )

    def on_bar(self, bar: Bar) -> None:
        feed = self._bar_feeds.get(bar.bar_type.instrument_id)
        if feed is not None:
            self.feeds.seen(feed, bar.ts_event)
        self.gate.on_bar(bar.bar_type.instrument_id, bar.ts_event)

    def use_venue_time(self, now_ns: Callable[[], int]) -> None:
        """Read the venues' time from ``now_ns`` instead of the node's clock: a paper replay's
        data time (its node keeps a live clock that runs ahead of the replayed data)."""
        self._venue_time = now_ns

    def venue_time_ns(self) -> int:
        """The venues' time: what the order-rate cap and the feeds' ages are measured on."""
        return self._venue_time() if self._venue_time is not None else self.clock.timestamp_ns()

    def _check_feeds(self) -> None:
        """Note feeds going stale and coming back, in the log (entries wait while any is stale)."""
        now = self.venue_time_ns()
        self.feeds.start(now)
        stale = self.feeds.stale(now)
        before = {s.feed for s in self.stale_feeds}
        silent = {s.feed for s in stale}
        for feed in stale:
            if feed.feed not in before:
                self.log.warning(f"stale data: {feed.describe()}: no new entries until it resumes")
        for feed in sorted(before - silent):
            self.log.warning(f"data resumed: {feed}" + ("" if silent else ": entries allowed again"))
        self.stale_feeds = stale

    def _held_back(self, action: str) -> bool:
        """Whether ``action`` opens positions while a feed is stale (then it waits, and says so)."""
        if action not in self.OPENING_ACTIONS or not self.stale_feeds:
            return False
        feeds = "; ".join(s.describe() for s in self.stale_feeds)
        self.log.warning(f"stale data: {action} held back ({feeds})")
        return True

    @property
    def hour(self) -> int:
        """Closing hour (ns) of the data the strategy last acted on: its notion of now."""
        return self.gate.hour

    @property
    def tick_ns(self) -> int:
        """Stamp of the bar that completed the hour acted on (the action log's time)."""
        return self.gate.tick_ns

    def on_tick(self) -> None:
        """Every leg is priced at this timestamp: act on flows first, then rebalance (halted:
        nothing; a stale feed: nothing that opens positions)."""
        if self.halted is not None:
            return
        if self.at_rest:
            self._checkpoint()
        self._check_feeds()
        if self.plans.busy:
            self.plans.resume()
            return
        if not self.entered:
            if self._holds_capital() and not self._held_back("entry_full"):  # idle after an exit_full
                self.entered = True  # from now on rebalancing deploys whatever an interrupted entry left
                self._pending_deposits = 0.0
                where = "on the venues" if self.cfg.prefunded else "in the wallet"
                why = f"{self.nav_estimate():,.6g} {self.share} {where}, nothing deployed yet"
                self._start_plan("entry_full", [*self._gas_reserve_phases(), *self.deploy_phases()], why=why)
            self._pending_withdrawal = 0.0  # nothing deployed: a withdrawal request has nothing to raise
        elif self._pending_withdrawal > 0:
            self._start_withdrawal()
        elif self._pending_deposits > 0 and not self._held_back("entry_partial"):
            why = f"investor deposit of {self._pending_deposits:,.6g} {self.share}"
            self._pending_deposits = 0.0
            self._start_plan("entry_partial", [*self._gas_reserve_phases(), *self.deploy_phases()], why=why)
        elif not self.cfg.prefunded and (eth := self.wallet_balance("ETH")) < self.cfg.gas_reserve_min_eth:
            why = f"wallet ETH {eth:.6g} < gas_reserve_min_eth {self.cfg.gas_reserve_min_eth:g}"
            self._start_plan("gas_top_up", self.gas_top_up_phases(), why=why)
        elif (decision := self.rebalance_plan()) is not None and not self._held_back(decision.action):
            self._start_plan(decision.action, decision.phases, why=decision.why)
        elif dust := self.dust_phases():
            why = f"stray tokens worth > dust_threshold_usd {self.cfg.dust_threshold_usd:g}"
            self._start_plan("sell_dust", dust, why=why)

    def _start_plan(
        self, action: str, phases: list[Phase], on_done: Callable[[], None] | None = None, why: str = ""
    ) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1
        self.action_log.append((self.tick_ns, action, why))
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

    def priced_this_hour(self, instrument_id: InstrumentId) -> bool:
        """Whether ``instrument_id`` has a bar closing in the hour acted on (optional prices, such
        as an exit pool's, have holes: a sale waits rather than trade on an old price)."""
        bar = self.cache.bar(bar_type_for(instrument_id))
        return bar is not None and closing_hour(bar.ts_event) == self.hour

    def wallet_id(self, symbol: str) -> InstrumentId:
        return wallet_instrument_id(self.wallet_config, symbol)

    def wallet_instrument(self, symbol: str) -> Instrument:
        return self.cache.instrument(self.wallet_id(symbol))

    def venue_wallets(self, venue: str) -> VenueWallets:
        reader = self._readers.get(venue)
        if reader is None:
            reader = self._readers[venue] = shared_wallet_reader(self.msgbus, venue)
        return reader.read(self.cache, self.portfolio, self.transfers.ledger(venue))

    def nav_estimate(self) -> float:
        """The book as the accounting values it, in the share class, at the latest prices: the
        wallet's tokens, what is in flight between the wallet and a venue, every venue's equity."""
        prices = self.valuation.prices([*self.wallet_balances(), "ETH"], self.cache)
        share_price = prices.get(self.share) or self.valuation.numeraire_price(self.share, self.cache)
        wallet = sum(q * (prices[c] or 0.0) for c, q in self.wallet_balances().items())
        in_flight = self.transfers.in_transit_usdt(prices["ETH"] or 0.0)
        on_venues = 0.0
        for venue in self._cex_exchanges():
            wallets = self.venue_wallets(venue)
            on_venues += wallets.equity * wallets.settlement_price
        return (wallet + in_flight + on_venues) / share_price

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
        if instrument.id.venue != self.wallet_venue and self.breaches_caps(instrument, side, contracts):
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

    def breaches_caps(self, instrument: Instrument, side: OrderSide, contracts: float) -> bool:
        """Whether a CEX order breaks the notional caps (then it is reported, not sent)."""
        if isinstance(instrument, CryptoPerpetual):
            held = sum(p.signed_qty for p in self.cache.positions_open(instrument_id=instrument.id))
        else:  # spot coins as the venue holds them (a withdrawal leaves the fills' position behind)
            held = self.venue_wallets(exchange_of(instrument.id)).spot_qty(instrument.id)
        reason = self.caps.breach(instrument, side, contracts, held, self.price(instrument.id))
        if reason is not None:
            self.log.error(f"refused: {reason}")
            self.rejections.append(reason)
        return reason is not None

    def submit_order(
        self,
        order: Order,
        position_id: PositionId | None = None,
        client_id: ClientId | None = None,
        params: dict[str, object] | None = None,
    ) -> None:
        """Nautilus' submit, behind the order-rate cap (every order the strategy sends passes here,
        Nautilus' own ``close_all_positions`` included)."""
        reason = self.rate_cap.admit(self.venue_time_ns())
        if reason is not None:
            self._refuse([order], reason)
            return
        super().submit_order(order, position_id, client_id, params)

    def submit_order_list(
        self,
        order_list: OrderList,
        position_id: PositionId | None = None,
        client_id: ClientId | None = None,
        params: dict[str, object] | None = None,
    ) -> None:
        """Nautilus' submit of a list (one transaction: one submission), behind the rate cap."""
        reason = self.rate_cap.admit(self.venue_time_ns())
        if reason is not None:
            self._refuse(order_list.orders, reason)
            return
        super().submit_order_list(order_list, position_id, client_id, params)

    def _refuse(self, orders: list[Order], reason: str) -> None:
        """Deny orders as Nautilus' risk engine would (``OrderDenied`` on the strategy's order
        events): the plan waiting for them gives up and the run reports them."""
        self.log.error(f"refused: {reason}")
        for order in orders:
            if not self.cache.order_exists(order.client_order_id):
                self.cache.add_order(order)
            denied = OrderDenied(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                reason=reason,
                event_id=UUID4(),
                ts_init=self.clock.timestamp_ns(),
            )
            order.apply(denied)
            self.cache.update_order(order)
            self.msgbus.publish(f"events.order.{order.strategy_id}", denied)

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
        if isinstance(event, OrderFilled):
            self.fill_reports.filled(event)  # done once the venue has reported its balances
            return
        reason = getattr(event, "reason", type(event).__name__)
        failure = f"order {event.client_order_id} on {event.instrument_id} closed unfilled: {reason}"
        if isinstance(event, OrderRejected | OrderDenied):  # a cancel is the strategy's own choice
            self.rejections.append(failure)
        self.plans.order_closed(event.client_order_id, failure)

    def _on_liquidation(self, fill: OrderFilled) -> None:
        if not is_liquidation_fill(fill, self.cache.order(fill.client_order_id)):
            return
        self.log.warning(
            f"LIQUIDATION on {fill.instrument_id.venue}: {fill.order_side.name} {fill.last_qty} "
            f"{fill.instrument_id} at {fill.last_px} (commission {fill.commission})",
        )
