"""ML directional BTC: trade a Binance BTC perpetual on the signal model's calls (DOMAIN modes 9, 10).

Each hour the model (``python -m signals build``, walk-forward, no look-ahead) publishes a call
for the bar that just closed: long / short / neutral, a confidence and ``sd``, the forecast
volatility of the return over its horizon. The strategy

- acts only on a call made in the hour of the bar just closed with confidence ≥ ``confidence_threshold``;
- holds when the call matches the position, goes flat on a confident neutral, and otherwise
  closes what it holds and opens the called side with its whole equity as notional (1×);
- protects every position, once its entry has filled, with two reduce-only orders resting on the
  venue: a stop-market at entry × (1 ∓ ``stop_loss_sd``·sd) and a take-profit limit at
  entry × (1 ± ``take_profit_sd``·sd); the first to fill cancels the other. When one hourly bar
  reaches both, the venue simulation lets the stop trade first (the conservative reading
  DOMAIN.md prescribes: SL is checked before TP).

Separate orders rather than a bracket list: Binance refuses OTO/OCO lists, and a bracket's
children, released by the venue within the entry's own fill, would be checked as reduce-only
against a position a live node has not booked yet (a backtest books it in the same call).

``ml_btc_directional_usdt_margin`` trades the linear ``BTCUSDT-PERP`` with USDT sent from the
wallet (NAV in USDT); ``ml_btc_directional_btc_margin`` the inverse coin-margined ``BTCUSD-PERP``
(100 USD contracts, margin and P&L in BTC) with BTC pre-funded on the venue (NAV in BTC).
Funding is settled on both by the venue simulation.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, ClassVar

import pandas as pd
from nautilus_trader.model.data import DataType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.orders import Order

from adapters.hours import closing_hour
from adapters.signals import SignalPrediction
from strategies.base import VENUES_CAPITAL, WALLET_CAPITAL, YieldStrategy, YieldStrategyConfig
from strategies.basis import CENT_BUFFER
from strategies.needs import DataNeeds
from strategies.plan import Decision, Phase
from strategies.sizing import round_down

LINEAR_PERP = "BTCUSDT-PERP.BINANCE"
INVERSE_PERP = "BTCUSD-PERP.BINANCE"
VENUE = "BINANCE"
SIDES = {1: "long", -1: "short", 0: "flat"}


class DirectionalConfig(YieldStrategyConfig, frozen=True):
    """ML directional settings (fractions; prices in the instrument's quote)."""

    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("USDT", "BTC")

    signal_instrument: str = LINEAR_PERP
    """Whose predictions to trade (the model is trained on the linear perp's bars)."""
    confidence_threshold: float = 0.8
    """Act only on calls whose confidence is at least this."""
    stop_loss_sd: float = 2.0
    """Stop-loss distance from entry, in forecast sd."""
    take_profit_sd: float = 3.0
    """Take-profit distance from entry, in forecast sd."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.confidence_threshold <= 1:
            raise ValueError(f"confidence_threshold must be in (0, 1], got {self.confidence_threshold}")
        if self.stop_loss_sd <= 0 or self.take_profit_sd <= 0:
            raise ValueError(
                f"stop_loss_sd and take_profit_sd must be > 0, got {self.stop_loss_sd}, {self.take_profit_sd}"
            )
        InstrumentId.from_str(self.signal_instrument)

    def capital_sources(self) -> tuple[str, ...]:
        # coin-margined, the capital is the venue's BTC collateral (DOMAIN.md mode 10)
        return (VENUES_CAPITAL,) if self.share_class == "BTC" else (WALLET_CAPITAL, VENUES_CAPITAL)


def bracket_levels(
    side: int, entry: float, sd: float, stop_loss_sd: float, take_profit_sd: float
) -> tuple[float, float]:
    """(stop-loss trigger, take-profit limit) for a position of ``side`` (+1 long, −1 short)."""
    if side not in (1, -1):
        raise ValueError(f"side must be +1 or -1, got {side}")
    if sd <= 0 or entry <= 0:
        raise ValueError(f"entry and sd must be positive, got {entry}, {sd}")
    return entry * (1 - side * stop_loss_sd * sd), entry * (1 + side * take_profit_sd * sd)


def target_side(call: SignalPrediction | None, hour_ns: int, threshold: float) -> int | None:
    """The side a call asks for (+1, −1, 0), or None when there is no confident call made in the
    hour ``hour_ns`` closes (the bar just acted on: an older call is stale)."""
    if call is None or closing_hour(call.ts_event) != hour_ns or call.confidence < threshold:
        return None
    if call.signal not in (1, 0, -1):
        raise ValueError(f"prediction at {call.ts_event} has signal {call.signal}, expected -1, 0 or 1")
    return call.signal


class DirectionalStrategy(YieldStrategy):
    """See the module docstring."""

    OPENING_ACTIONS = YieldStrategy.OPENING_ACTIONS | {"go_long", "go_short"}

    def __init__(self, config: DirectionalConfig) -> None:
        super().__init__(config)
        self.dir = config
        self.perp_id = InstrumentId.from_str(INVERSE_PERP if config.share_class == "BTC" else LINEAR_PERP)
        self.signal_id = InstrumentId.from_str(config.signal_instrument)
        if self.share == "BTC":
            self.valuation.price_by(self.share, self.perp_id)  # BTC in USDT: the perp's own price
        self.call: SignalPrediction | None = None
        self.calls_seen = 0
        self.confident_calls = 0
        self._protective: dict[ClientOrderId, str] = {}
        """Open protective orders: client order id → ``stop_loss`` / ``take_profit``."""
        self._entry: tuple[ClientOrderId, float, float] | None = None
        """The entry sent and not yet filled, with its stop and target levels."""

    # -- setup -------------------------------------------------------------------------------

    def capital_venues(self) -> dict[str, float]:
        """The futures wallet the perp trades on (USDT-M margin, or COIN-M collateral)."""
        return {VENUE: 1.0} if self.cfg.prefunded else {}

    def legs(self) -> list[InstrumentId]:
        return [self.perp_id]

    def data_needs(self) -> DataNeeds:
        return replace(
            super().data_needs(),
            predictions=(self.signal_id,),
            share_price=self.perp_id if self.share == "BTC" else None,
        )

    def on_start(self) -> None:
        super().on_start()
        self.msgbus.subscribe(f"data.{DataType(SignalPrediction).topic}*", self._on_prediction)

    def on_save(self) -> dict[str, bytes]:
        state = super().on_save()
        values = {
            "call": SignalPrediction.to_dict(self.call) if self.call is not None else None,
            "calls_seen": self.calls_seen,
            "confident_calls": self.confident_calls,
            "protective": {str(coid): kind for coid, kind in self._protective.items()},
            "entry": [str(self._entry[0]), *self._entry[1:]] if self._entry is not None else None,
        }
        state["directional"] = json.dumps(values).encode()
        return state

    def on_load(self, state: dict[str, bytes]) -> None:
        super().on_load(state)
        saved = state.get("directional")
        if saved is None:
            return
        values = json.loads(saved)
        self.call = SignalPrediction.from_dict(values["call"]) if values["call"] is not None else None
        self.calls_seen, self.confident_calls = values["calls_seen"], values["confident_calls"]
        self._protective = {ClientOrderId(coid): kind for coid, kind in values["protective"].items()}
        entry = values["entry"]
        self._entry = (ClientOrderId(entry[0]), entry[1], entry[2]) if entry is not None else None

    def _on_prediction(self, call: SignalPrediction) -> None:
        """Keep the call; a call for the hour already acted on is acted on now. Replayed (backtest,
        paper) a call stamped t arrives before the bar stamped t and the bar's tick reads it;
        live, the predictor makes it from that bar, so it arrives after the tick, which found no
        call of its hour and did nothing."""
        if call.instrument_id != self.signal_id:
            return
        self.call = call
        self.calls_seen += 1
        self.confident_calls += call.confidence >= self.dir.confidence_threshold
        if self.entered and closing_hour(call.ts_event) == self.hour:
            self.on_tick()

    def report(self, nav: pd.DataFrame) -> dict[str, Any]:
        """Trades, time in the market and the calls seen, beside the returns."""
        held = nav[f"perp_notional_{VENUE.lower()}"].iloc[1:] > 0
        count = self.actions.get
        return {
            "trades": {
                "entries": count("go_long", 0) + count("go_short", 0),
                "long": count("go_long", 0),
                "short": count("go_short", 0),
                "flat_on_neutral": count("go_flat", 0),
                "stop_loss_exits": count("stop_loss", 0),
                "take_profit_exits": count("take_profit", 0),
            },
            "exposure_time": float(held.mean()) if len(held) else 0.0,
            "calls": {
                "seen": self.calls_seen,
                "confident": self.confident_calls,
                "threshold": self.dir.confidence_threshold,
            },
        }

    # -- the book ----------------------------------------------------------------------------

    def position(self) -> float:
        """Signed position in contracts (linear: BTC; inverse: 100-USD contracts)."""
        return sum(p.signed_qty for p in self.cache.positions_open(instrument_id=self.perp_id))

    def side(self) -> int:
        qty = self.position()
        return 0 if qty == 0 else (1 if qty > 0 else -1)

    def equity(self) -> float:
        """The venue's margin balance in its settlement currency (USDT, or BTC when inverse)."""
        return self.venue_wallets(VENUE).margin_balance

    # -- the five actions --------------------------------------------------------------------

    def deploy_phases(self) -> list[Phase]:
        if self.cfg.prefunded:
            return []  # the capital is the futures wallet's margin (or COIN-M collateral) already
        return [
            lambda: self.deposit_to_venues({VENUE: self.wallet_balance("USDT")}),
            lambda: self.sweep_to_futures([VENUE]),
        ]

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        if self.cfg.prefunded:
            return []  # capital flows are refused at config time: the capital is on the venue
        held = self.wallet_balance("USDT")
        if amount != float("inf") and amount <= held:
            return []
        equity = max(0.0, self.venue_wallets(VENUE).equity)
        need = amount - held + self.withdrawal_fee(VENUE) + CENT_BUFFER  # transfers round down
        fraction = 1.0 if amount == float("inf") or equity <= 0 else min(1.0, need / equity)
        withdraw = float("inf") if fraction >= 1.0 else need
        return [
            lambda: self._shrink(fraction),
            lambda: self.move_to_spot({VENUE: withdraw}),
            lambda: self.withdraw_to_wallet({VENUE: withdraw}),
        ]

    def rebalance_plan(self) -> Decision | None:
        target = target_side(self.call, self.hour, self.dir.confidence_threshold)
        if target is None or target == self.side():
            return None
        assert self.call is not None
        why = f"call {SIDES[target]} at confidence {self.call.confidence:.3f}, sd {self.call.sd:.4f}"
        phases: list[Phase] = [self._close] if self.side() != 0 else []
        if target != 0:
            phases.append(lambda: self._open(target))
        return Decision(f"go_{SIDES[target]}", phases, why)

    # -- orders ------------------------------------------------------------------------------

    def _close(self) -> None:
        self.cancel_all_orders(self.perp_id)
        self._protective.clear()
        self._reduce(abs(self.position()))

    def _shrink(self, fraction: float) -> None:
        """Close ``fraction`` of the position; the bracket follows the smaller size."""
        if fraction >= 1.0:
            self._close()
            return
        held = abs(self.position())
        instrument = self.cache.instrument(self.perp_id)
        cut = round_down(held * fraction, instrument.size_increment.as_double())
        if cut <= 0:
            return
        self._reduce(cut)
        for order in self.cache.orders_open(instrument_id=self.perp_id):
            self.modify_order(order, quantity=instrument.make_qty(held - cut))

    def _reduce(self, contracts: float) -> None:
        if contracts <= 0:
            return
        instrument = self.cache.instrument(self.perp_id)
        side = OrderSide.SELL if self.position() > 0 else OrderSide.BUY
        order = self.order_factory.market(
            self.perp_id,
            side,
            instrument.make_qty(contracts),
            time_in_force=TimeInForce.GTC,
            reduce_only=True,
        )
        self.plans.expect_order(order.client_order_id)
        self.submit_order(order)

    def _open(self, side: int) -> None:
        """Open ``side`` with the whole equity as notional; SL and TP follow once it has filled."""
        assert self.call is not None
        instrument: CryptoPerpetual = self.cache.instrument(self.perp_id)
        price = self.price(self.perp_id)
        fee = float(instrument.taker_fee)
        equity = self.equity() / (1 + 2 * fee)  # the entry's and the exit's fee stay covered
        # linear: BTC = USDT / price; inverse: contracts of `multiplier` USD = BTC × price / multiplier
        size = equity * price if instrument.is_inverse else equity / price
        contracts = round_down(
            size / instrument.multiplier.as_double(), instrument.size_increment.as_double()
        )
        if contracts < instrument.size_increment.as_double():
            return
        entry_side = OrderSide.BUY if side > 0 else OrderSide.SELL
        if self.breaches_caps(instrument, entry_side, contracts):
            return
        stop, target = bracket_levels(
            side, price, self.call.sd, self.dir.stop_loss_sd, self.dir.take_profit_sd
        )
        entry = self.order_factory.market(
            self.perp_id,
            entry_side,
            instrument.make_qty(contracts),
            time_in_force=TimeInForce.GTC,
            tags=["ENTRY"],
        )
        self._entry = (entry.client_order_id, stop, target)
        self.plans.expect_order(entry.client_order_id)
        self.submit_order(entry)

    def _protect(self, entry: Order, stop: float, target: float) -> None:
        """The filled entry's stop-loss and take-profit: two reduce-only orders resting on the
        venue (Binance takes no OCO/bracket lists); whichever fills first cancels the other."""
        instrument = self.cache.instrument(self.perp_id)
        side = OrderSide.SELL if entry.side == OrderSide.BUY else OrderSide.BUY
        quantity = entry.filled_qty
        stop_loss = self.order_factory.stop_market(
            self.perp_id,
            side,
            quantity,
            trigger_price=instrument.make_price(stop),
            time_in_force=TimeInForce.GTC,
            reduce_only=True,
            tags=["STOP_LOSS"],
        )
        take_profit = self.order_factory.limit(
            self.perp_id,
            side,
            quantity,
            price=instrument.make_price(target),
            time_in_force=TimeInForce.GTC,
            reduce_only=True,
            tags=["TAKE_PROFIT"],
        )
        for order, kind in ((stop_loss, "stop_loss"), (take_profit, "take_profit")):
            self._protective[order.client_order_id] = kind
            self.submit_order(order)

    def on_order_filled(self, event: OrderFilled) -> None:
        if self._entry is not None and event.client_order_id == self._entry[0]:
            entry = self.cache.order(event.client_order_id)
            if entry.is_closed:  # all of it filled: protect what is held
                _, stop, target = self._entry
                self._entry = None
                self._protect(entry, stop, target)
            return
        kind = self._protective.pop(event.client_order_id, None)
        if kind is None:
            return
        for client_order_id in self._protective:  # one cancels the other
            other = self.cache.order(client_order_id)
            if other is not None and other.is_open:
                self.cancel_order(other)
        self._protective.clear()
        self.actions[kind] = self.actions.get(kind, 0) + 1
        self.action_log.append((event.ts_event, kind, f"filled at {event.last_px}"))
