"""A small synthetic backtest around the real venue simulation, for exact hand-checked tests.

It assembles what ``backtesting.engine.build_backtest`` assembles — CEX venues with their
``CexVenueModule`` and checked execution client, the ``ETHEREUM`` wallet venue with its
``WalletModule`` — but feeds hand-written bars, funding prints and gas prices, and drives it
with a :class:`ScriptedStrategy` that performs given actions at given bar timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.core.data import Data
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import ClientId, InstrumentId, TraderId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Currency, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from adapters.bars import bar_type_for
from adapters.cex.config import CexVenueConfig, load_cex_venue
from adapters.cex.instruments import venue_instruments
from adapters.cex.venue import CexVenueModule
from adapters.defi.config import load_wallet_venue
from adapters.defi.data import GasPrice
from adapters.defi.instruments import wallet_instruments
from adapters.defi.wallet import ScheduledFlow, WalletModule
from adapters.events import (
    FUNDING_TOPIC,
    LIQUIDATION_TOPIC,
    TRANSFER_ENDPOINT,
    TRANSFER_TOPIC,
    TransferKind,
    TransferRequest,
)
from adapters.hours import HOUR_NS as HOUR
from backtesting.venues import BacktestHost, add_cex_venue, add_instruments, add_wallet_venue

T0 = pd.Timestamp("2024-06-01T00:00Z").value
"""First bar close of every synthetic run."""

Action = Callable[["ScriptedStrategy"], None]


def ts(hour: int) -> int:
    """Timestamp of the bar closing ``hour`` hours after T0."""
    return T0 + hour * HOUR


class ScriptedStrategy(Strategy):
    """Runs ``script[ts]`` actions on the first bar stamped ``ts`` and records every event."""

    def __init__(self, script: dict[int, list[Action]], instruments: list[InstrumentId]) -> None:
        super().__init__(StrategyConfig(strategy_id="Scripted-001"))
        self.script = {k: list(v) for k, v in script.items()}
        self.instrument_ids = instruments
        self.fills: list = []
        self.rejections: list[str] = []
        self.transfer_events: list = []
        self.funding_events: list = []
        self.liquidation_events: list = []

    def on_start(self) -> None:
        for instrument_id in self.instrument_ids:
            self.subscribe_bars(bar_type_for(instrument_id))
        self.msgbus.subscribe(TRANSFER_TOPIC, self.transfer_events.append)
        self.msgbus.subscribe(FUNDING_TOPIC, self.funding_events.append)
        self.msgbus.subscribe(LIQUIDATION_TOPIC, self.liquidation_events.append)

    def on_bar(self, bar: Bar) -> None:
        for action in self.script.pop(bar.ts_event, []):
            action(self)

    def on_order_filled(self, event) -> None:
        self.fills.append(event)

    def on_order_rejected(self, event) -> None:
        self.rejections.append(event.reason)

    # -- actions used by scripts -------------------------------------------------------------

    def market(
        self, instrument_id: InstrumentId, side: OrderSide, qty: str, reduce_only: bool = False
    ) -> None:
        order = self.order_factory.market(
            instrument_id, side, Quantity.from_str(qty), reduce_only=reduce_only
        )
        self.submit_order(order)

    def bracket(self, instrument_id: InstrumentId, side: OrderSide, qty: str, stop: str, target: str) -> None:
        """A market entry with a stop-market and a take-profit limit, one-cancels-the-other."""
        orders = self.order_factory.bracket(
            instrument_id,
            side,
            Quantity.from_str(qty),
            sl_trigger_price=Price.from_str(stop),
            tp_price=Price.from_str(target),
            tp_post_only=False,
        )
        self.submit_order_list(orders)

    def transaction(self, steps: list[tuple[str, OrderSide, str]]) -> None:
        """Submit ``(instrument id, side, qty)`` steps as one atomic order list."""
        orders = [
            self.order_factory.market(InstrumentId.from_str(i), side, Quantity.from_str(q))
            for i, side, q in steps
        ]
        self.submit_order_list(self.order_factory.create_list(orders))

    def transfer(
        self, kind: TransferKind, venue: str, amount: float, request_id: str = "", asset: str = "USDT"
    ) -> None:
        rid = request_id or f"T{len(self.transfer_events)}-{kind}-{venue}"
        self.msgbus.send(TRANSFER_ENDPOINT, TransferRequest(rid, kind, venue, amount, asset))


def do(fn: Callable[..., None], *args, **kwargs) -> Action:
    """An action calling ``fn(strategy, *args, **kwargs)``."""
    return lambda strategy: fn(strategy, *args, **kwargs)


@dataclass
class Sim:
    engine: BacktestEngine
    strategy: ScriptedStrategy
    cex: dict[str, CexVenueModule]
    wallet: WalletModule
    instruments: dict[str, Instrument] = field(default_factory=dict)

    def balance(self, venue: str, currency=USDT) -> float:
        account = self.engine.cache.account_for_venue(Venue(venue))
        money = account.balance_total(currency)
        return money.as_double() if money is not None else 0.0


def bar(
    instrument: Instrument, hour: int, o: float, h: float, lo: float, c: float, volume: float = 1000.0
) -> Bar:
    t = ts(hour)
    p = instrument.make_price
    return Bar(bar_type_for(instrument.id), p(o), p(h), p(lo), p(c), instrument.make_qty(volume), t, t)


def flat_bars(instrument: Instrument, hours: range, price: float) -> list[Bar]:
    return [bar(instrument, h, price, price, price, price) for h in hours]


def run_sim(
    *,
    venues: tuple[str, ...] = ("BINANCE",),
    bars: Callable[[dict[str, Instrument]], list[Bar]],
    funding: Callable[[dict[str, Instrument]], list[tuple]] = lambda _: [],
    script: dict[int, list[Action]] | None = None,
    capital: float = 100_000.0,
    wallet_eth: float = 1.0,
    balances: dict[str, float] | None = None,
    gas_gwei: float = 10.0,
    flows: list[ScheduledFlow] | None = None,
    flow_currency: str = "USDT",
    subscribe: tuple[str, ...] = (),
    aave_params: dict | None = None,
    chain_data: list[Data] | None = None,
    credit_rewards: bool = True,
    flash_provider: str | None = None,
    coin_margined: dict[str, tuple[str, float]] | None = None,
    venue_configs: dict[str, CexVenueConfig] | None = None,
) -> Sim:
    """Run a synthetic backtest; ``bars``/``funding`` get the instruments keyed by id string.

    ``balances`` (wallet starting balances) overrides ``capital`` USDT + ``wallet_eth`` ETH;
    ``chain_data`` adds custom data for the wallet venue (Aave snapshots, reward payouts);
    ``coin_margined`` makes venues coin-margined, pre-funded: ``{venue: (coin, balance)}``;
    ``venue_configs`` replaces a venue's YAML (e.g. another ``account_mode``).
    """
    engine = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("TESTER-001"), logging=LoggingConfig(log_level="ERROR")),
    )
    host = BacktestHost(engine)
    coins = coin_margined or {}
    configs = {v: (venue_configs or {}).get(v) or load_cex_venue(v) for v in venues}
    modules = {
        v: add_cex_venue(
            host, configs[v], *((Currency.from_str(coins[v][0]), coins[v][1]) if v in coins else ())
        )
        for v in venues
    }
    cex: dict[str, Instrument] = {}
    for module in modules.values():
        for iid, (_, instrument) in venue_instruments(module.venue_config).items():
            cex[str(iid)] = instrument
    wallet_config = load_wallet_venue()
    wallet = add_wallet_venue(
        host,
        wallet_config,
        modules,
        balances=balances if balances is not None else {"USDT": capital, "ETH": wallet_eth},
        flows=flows,
        flow_currency=flow_currency,
        aave_params=aave_params,
        credit_rewards=credit_rewards,
        flash_provider=flash_provider,
    )
    add_instruments(host, list(cex.values()), modules)
    instruments = {**cex, **{str(i.id): i for i in wallet_instruments(wallet_config)}}
    gas = [
        GasPrice(
            ts_event=ts(-2), ts_init=ts(-2), gwei=gas_gwei, base_fee_gwei=gas_gwei, priority_fee_gwei=0.0
        )
    ]
    chain = [CustomData(DataType(GasPrice), g) for g in gas]
    chain += [CustomData(DataType(type(d)), d) for d in chain_data or []]
    prints = [  # (id, t, rate) a print; (id, t, rate, next_funding_ns) a live quote of the next rate
        FundingRateUpdate(
            InstrumentId.from_str(iid),
            Decimal(str(rate)),
            t,
            t,
            next_funding_ns=next_ns[0] if next_ns else None,
        )
        for iid, t, rate, *next_ns in funding(instruments)
    ]
    # chain data and funding before the bars, as build_backtest adds them
    engine.add_data(chain, client_id=ClientId("ETHEREUM"), sort=False)
    if prints:
        engine.add_data(prints, sort=False)
    engine.add_data(bars(instruments), sort=False)
    engine.sort_data()
    subscribed = [InstrumentId.from_str(i) for i in subscribe] or [i.id for i in instruments.values()]
    strategy = ScriptedStrategy(script or {}, subscribed)
    engine.add_strategy(strategy)
    engine.run()
    return Sim(engine, strategy, modules, wallet, instruments)
