"""A mode live: its strategy in a ``TradingNode`` with Nautilus' venue clients, state in Redis.

The node is the one ``--check`` describes (``live/node_config.py``): a data client per venue the
strategy reads, an execution client per venue it trades (in sandbox, the project's simulations:
``live/sandbox.py``), the funding feed. Beside them it runs
what a backtest gets from its data and engine: the hour clock (``HourClosed``), the model's
predictor for the ML modes, and the accounting actor (NAV and attribution from the start of the
run); and the safety layer: the kill switch watching the state folder (``live/halt.py``: the
strategy goes HALTED, the node keeps running; SIGINT/SIGTERM halt it and stop the node) and the
health line with
``status.json`` (``live/health.py``). The node's cache and the strategy's ``on_save`` state live
in Redis, reloaded by the next node with the same trader id; Nautilus reconciles its cache with
the venues' reports at start.

Live, a mode's capital is on the venues (``capital_source: venues``), or, for the on-chain modes
(wallet capital, no CEX venue), in the wallet on a real chain (``chain``: ``live/chain_live.py``:
the wallet venue on the web3 backend, the chain data feed as its data, its books started from the
wallet's holdings).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pandas as pd
from nautilus_trader.common.config import ImportableActorConfig
from nautilus_trader.config import TradingNodeConfig
from nautilus_trader.live.node import TradingNode

from adapters.cex.instruments import cex_instrument_id, exchange_of
from adapters.cex.margin import last_price
from adapters.config import ConfigError
from adapters.defi.web3.chain_data import ChainDataFeed, ChainDataFeedConfig
from adapters.events import FUNDING_TOPIC, TRANSFER_TOPIC
from adapters.halt import HALT_TOPIC, HaltRequest
from adapters.hours import HOUR_NS
from backtesting.config import RunConfig
from live.chain_live import ChainLive, ChainWallet
from live.halt import STOP_SIGNALS, HaltSwitch, HaltSwitchConfig
from live.health import STATUS_FILE, HealthMonitor, HealthReporter
from live.hour_clock import HourClock, HourClockConfig
from live.node_config import add_client_factories, node_config
from live.redis_state import RedisAddress, cache_config
from live.sandbox import SandboxVenues
from live.transfers.config import TRANSFERS_CONFIG
from live.transfers.services import LiveCexServices, build_live_cex_services
from live.venues import LivePlan
from portfolio.accounting import AccountingActor, AccountingConfig
from signals.paths import saved_model_dir
from signals.predictor import PredictorConfig, SignalPredictor
from strategies.base import YieldStrategy
from strategies.needs import DataNeeds

LIVE_END = pd.Timestamp("2100-01-01", tz="UTC")
"""The accounting's window end for a run that ends when it is stopped."""


@dataclass
class LiveNode:
    node: TradingNode
    strategy: YieldStrategy
    accounting: AccountingActor
    services: LiveCexServices | None
    """The venues' transfers and funding paid (None in sandbox: the simulations serve them)."""
    wallet: ChainWallet | None = None
    """The on-chain wallet venue (a wallet-capital mode on ``--chain``)."""


def trader_id(run: RunConfig, plan: LivePlan) -> str:
    """One trader per mode and environment: the key of its state in Redis."""
    return f"{run.mode.upper()}-{plan.env.value.upper()}"


def check_live_run(run: RunConfig, plan: LivePlan | None = None, on_chain: bool = False) -> None:
    """Refuse what cannot run live yet, before anything connects: a wallet-capital mode without a
    chain (``--chain``), a chain for a mode whose capital is on the venues, and a wallet-capital
    mode that also trades on CEX venues (its capital would move between the wallet and the
    exchanges: the transfer service's on-chain leg is not wired into the live node)."""
    if not run.strategy.prefunded and not on_chain:
        raise ConfigError(
            f"{run.source}: {run.mode} starts its capital in the on-chain wallet: live, give the chain it "
            "trades on with --chain CHAIN.yaml (--env testnet or mainnet), or set `capital_source: venues` "
            "in the strategy section (or replay its history as configured with --env paper)"
        )
    if run.strategy.prefunded and on_chain:
        raise ConfigError(
            f"{run.source}: {run.mode}'s capital is on the venues (capital_source: venues): no --chain"
        )
    if on_chain and plan is not None and plan.venues:
        venues = ", ".join(v.venue for v in plan.venues)
        raise ConfigError(
            f"{run.mode} trades on {venues} as well as on chain: its capital moves between the wallet and "
            "the exchanges, and the live node does not wire the on-chain leg of those transfers yet. "
            "Live on chain: the wallet-only modes (pure_lending_usdt, pure_lending_eth, eth_staking_only, "
            "eth_leveraged); this one runs with --env paper"
        )
    if run.flows:
        raise ConfigError(f"{run.source}: capital_flows are a backtest schedule; live, flows are the venues'")


def _importable(actor: type, config: msgspec.Struct) -> ImportableActorConfig:
    return ImportableActorConfig(
        actor_path=f"{actor.__module__}:{actor.__name__}",
        config_path=f"{type(config).__module__}:{type(config).__name__}",
        config=msgspec.to_builtins(config),
    )


def live_node_config(
    run: RunConfig,
    plan: LivePlan,
    needs: DataNeeds,
    redis: RedisAddress,
    catalog_dir: Path,
    log_level: str,
    state_dir: Path,
    chain: ChainLive | None = None,
) -> TradingNodeConfig:
    """``node_config``'s clients, funding feed and risk caps, with Redis as the cache, the
    strategy's state saved and loaded, the hour clock, the kill switch watching ``state_dir``, for
    the ML modes the predictor with the saved model, and on a ``chain`` its data feed (the
    wallet's own Aave health included)."""
    config = node_config(
        plan,
        run.strategy.max_order_notional_usd,
        trader_id(run, plan),
        log_level,
        max_orders_per_minute=run.strategy.max_orders_per_minute,
    )
    actors = [
        *config.actors,
        _importable(HourClock, HourClockConfig()),
        _importable(HaltSwitch, HaltSwitchConfig(state_dir=str(state_dir))),
    ]
    if chain is not None:
        feed = ChainDataFeedConfig(
            chain_config_path=str(chain.config_path),
            account=chain.connection.address,
            interval_secs=chain.poll_secs,
            max_backoff_secs=max(300.0, chain.poll_secs),
        )
        actors.append(_importable(ChainDataFeed, feed))
    for instrument_id in needs.predictions:
        model_dir = saved_model_dir(catalog_dir, str(instrument_id))
        if not (model_dir / "manifest.json").exists():
            raise ConfigError(
                f"{run.mode} trades the model's calls: no saved model in {model_dir} "
                "(python -m signals build writes it)"
            )
        predictor = PredictorConfig(model_dir=str(model_dir), instrument_id=str(instrument_id))
        actors.append(_importable(SignalPredictor, predictor))
    # a sandbox's venues are simulations that start afresh: so does its state
    fresh = not (plan.env.trades_on_venues or chain is not None)
    cache = msgspec.structs.replace(cache_config(redis), flush_on_start=fresh)
    return msgspec.structs.replace(config, cache=cache, load_state=not fresh, save_state=True, actors=actors)


def accounting_config(
    run: RunConfig, plan: LivePlan, needs: DataNeeds, start_ns: int, aave_params: dict | None = None
) -> AccountingConfig:
    """The accounting of a live run: every CEX exchange traded, sampled hourly from ``start_ns``
    (``aave_params``: the chain's, for a wallet holding Aave positions)."""
    return AccountingConfig(
        cex_venues=tuple(dict.fromkeys(exchange_of(i) for v in plan.venues for i in v.instruments)),
        start_ns=start_ns,
        end_ns=LIVE_END.value,
        wallet_venue=plan.wallet_venue,
        share_class=run.share_class,
        share_price_instrument=str(needs.share_price) if needs.share_price is not None else None,
        aave_params=aave_params,
    )


def build_live_node(
    run: RunConfig,
    plan: LivePlan,
    redis: RedisAddress,
    catalog_dir: Path,
    state_dir: Path,
    log_level: str = "INFO",
    transfers_config: Path = TRANSFERS_CONFIG,
    health_minutes: float = 5.0,
    print_line: Callable[[str], None] = print,
    loop: asyncio.AbstractEventLoop | None = None,
    clear_halt: bool = False,
    chain: ChainLive | None = None,
) -> LiveNode:
    """The node of ``run`` on ``plan``'s venues, built (clients created) but not started. Its run
    folder ``state_dir`` receives ``status.json`` and ``run_live.py --halt``'s requests, and keeps
    the transfer service's requests. ``clear_halt``: the operator's go-ahead after a halt
    (:meth:`~strategies.base.YieldStrategy.clear_halt`). ``chain``: a wallet-capital mode's
    wallet on that chain (:mod:`live.chain_live`)."""
    check_live_run(run, plan, on_chain=chain is not None)
    strategy = run.spec.strategy(run.strategy)
    needs = strategy.data_needs()
    config = live_node_config(run, plan, needs, redis, catalog_dir, log_level, state_dir, chain)
    if loop is None:  # a node's dispose closes its loop: each node gets its own
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    node = TradingNode(config=config, loop=loop)
    add_client_factories(node, plan)
    node.build()
    now = node.kernel.clock.timestamp_ns()
    wallet = ChainWallet(node, run, strategy, chain, state_dir) if chain is not None else None
    aave_params = wallet.aave_params if wallet is not None else None
    start_ns = now // HOUR_NS * HOUR_NS + HOUR_NS
    accounting = AccountingActor(accounting_config(run, plan, needs, start_ns, aave_params))
    node.trader.add_actor(accounting)
    services = None
    if plan.env.trades_on_venues and plan.venues:
        services = _venue_services(node, plan, accounting.acfg, state_dir, transfers_config)
    elif not plan.env.trades_on_venues:
        SandboxVenues(node, run, plan, strategy)
    node.trader.add_strategy(strategy)
    if config.load_state:  # the kernel loads state at build, for strategies built from config only
        node.kernel.cache.load_strategy(strategy)
    if clear_halt:
        strategy.clear_halt()
    status = state_dir / STATUS_FILE
    node.trader.add_actor(
        HealthReporter(HealthMonitor(run.mode, strategy, accounting, status, print_line, health_minutes))
    )
    return LiveNode(node, strategy, accounting, services, wallet)


def _venue_services(
    node: TradingNode, plan: LivePlan, accounting: AccountingConfig, state_dir: Path, transfers_config: Path
) -> LiveCexServices:
    """The ccxt transfer service at the endpoint strategies send transfers to, and the funding the
    venues paid on the topic the accounting books it from."""
    kernel = node.kernel
    exchanges = list(accounting.cex_venues)

    def usdt_price(exchange: str, asset: str) -> float | None:
        return last_price(kernel.cache, cex_instrument_id(exchange, asset, "spot"))

    services = build_live_cex_services(
        exchanges,
        plan.env,
        state_dir / "cex_services.sqlite",
        publish_transfer=lambda event: kernel.msgbus.publish(TRANSFER_TOPIC, event),
        publish_funding=lambda event: kernel.msgbus.publish(FUNDING_TOPIC, event),
        funding_start_ms=accounting.start_ns // 1_000_000,
        usdt_price=usdt_price,
        config_path=transfers_config,
        log=kernel.logger.info,
    )
    for endpoint, handler in services.service_endpoints().items():
        kernel.msgbus.register(endpoint, handler)
    return services


def run_node(live: LiveNode) -> signal.Signals | None:
    """Run the node until SIGINT/SIGTERM, then release its clients and loop; the signal that
    stopped it (None when it stopped on its own).

    A signal is the kill switch: the strategy goes HALTED (the plan in progress given up, every
    open order cancelled, nothing flattened) before the node stops and saves its state, so the
    next start stays HALTED until the operator's ``--clear-halt``. It replaces Nautilus' own
    handlers, which would only stop the node."""
    kernel = live.node.kernel
    loop = kernel.loop
    received: list[signal.Signals] = []

    def halt_and_stop(sig: signal.Signals) -> None:
        if received:
            return  # the stop is under way
        received.append(sig)
        requested_at = pd.Timestamp.now(tz="UTC").isoformat()
        kernel.msgbus.publish(HALT_TOPIC, HaltRequest(False, requested_at, sig.name))
        live.node.stop()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, halt_and_stop, sig)
    polling = loop.create_task(live.services.run()) if live.services is not None else None
    try:
        live.node.run(raise_exception=True)
    finally:
        if polling is not None and not loop.is_closed():
            polling.cancel()
            loop.run_until_complete(asyncio.gather(polling, return_exceptions=True))
            loop.run_until_complete(live.services.close())
        live.node.dispose()
    return received[0] if received else None
