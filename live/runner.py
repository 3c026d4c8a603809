"""Run a mode in paper mode: the same strategy, config, venues, accounting and results folder as
``run_backtest.py``, inside a live ``TradingNode`` fed by a replay of the catalog."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.config import (
    LiveDataEngineConfig,
    LiveExecEngineConfig,
    LiveRiskEngineConfig,
    LoggingConfig,
    TradingNodeConfig,
)
from nautilus_trader.core.data import Data
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import StrategyId, TraderId
from nautilus_trader.trading.config import ImportableControllerConfig

from adapters.halt import HALT_TOPIC, HaltRequest
from backtesting.config import RunConfig
from backtesting.engine import (
    Backtest,
    RunPlan,
    accounting_config,
    add_venues,
    plan_run,
    read_data,
    report_keys,
)
from backtesting.runner import Progress, RunResult, finish_run
from live.checkpoint import CheckpointError, PaperCheckpoint, discard
from live.halt import STOP_SIGNALS, HaltSwitch, HaltSwitchConfig, clear_halt
from live.health import STATUS_FILE, HealthMonitor, write_status
from live.journal import (
    EXEC_ENDPOINT,
    RISK_ENDPOINT,
    CommandJournal,
    DeliveryTracker,
    JournalMismatch,
    JournalPlayer,
)
from live.local_chain import LocalChain
from live.paper import PaperHost, Replay, ReplayDataClient
from portfolio.accounting import AccountingActor
from strategies.base import YieldStrategy

RUNTIME_CONTROLLER = ImportableControllerConfig(
    controller_path="nautilus_trader.trading.controller:Controller",
    config_path="nautilus_trader.common.config:ActorConfig",
    config={},
)


class StopRequest:
    """A signal handler: the first signal asks the replay to stop where the strategy is at rest
    and save the state; a second stops at once, saving nothing."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self.requested = False
        self.forced = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            self.forced = True
            return
        self.requested = True
        self._progress(
            "stop requested: stopping once no plan is in progress and saving the state "
            "(signal again to stop at once, without saving)"
        )


class PaperRunInterrupted(RuntimeError):
    """The replay was stopped before the end of the window: no results are written; ``state_dir``
    holds what ``--resume`` carries on from, when it could be saved."""

    def __init__(self, message: str, state_dir: Path | None = None) -> None:
        super().__init__(message)
        self.state_dir = state_dir


class PaperRunHalted(PaperRunInterrupted):
    """The kill switch halted the run: the strategy is HALTED, its orders cancelled (its CEX
    positions closed when asked); the state, saved as on a stop, resumes HALTED."""

    def __init__(self, message: str, state_dir: Path | None, status: dict | None) -> None:
        super().__init__(message, state_dir)
        self.status = status
        """The node's status once the venues answered the halt (``status.json``)."""


def _node(log_level: str, resuming: bool) -> TradingNode:
    config = TradingNodeConfig(
        trader_id=TraderId("PAPER-001"),
        # resuming, the strategy joins the running trader once the venues are rebuilt: Nautilus
        # adds strategies to a running trader only under a controller
        controller=RUNTIME_CONTROLLER if resuming else None,
        logging=LoggingConfig(log_level=log_level),
        # an exception in a handler stops the node (the replay then raises) instead of os._exit
        data_engine=LiveDataEngineConfig(graceful_shutdown_on_exception=True),
        risk_engine=LiveRiskEngineConfig(graceful_shutdown_on_exception=True),
        exec_engine=LiveExecEngineConfig(
            reconciliation=False, inflight_check_interval_ms=0, graceful_shutdown_on_exception=True
        ),
        timeout_connection=10.0,
        timeout_portfolio=10.0,
        timeout_disconnection=2.0,
        timeout_post_stop=0.0,
    )
    loop = asyncio.new_event_loop()  # a node's dispose closes its loop: every run gets its own
    asyncio.set_event_loop(loop)
    node = TradingNode(config=config, loop=loop)
    node.build()
    return node


def run_paper(
    run: RunConfig,
    catalog_dir: Path,
    out_dir: Path,
    progress: Progress = lambda _: None,
    speed: float = 0.0,
    log_level: str = "ERROR",
    state_dir: Path | None = None,
    resume: bool = False,
    health_minutes: float = 5.0,
    chain: LocalChain | None = None,
) -> RunResult:
    """Replay ``run``'s window through a ``TradingNode`` (``speed`` × real time; 0 = as fast as the
    node consumes it) and write the results folder.

    With a ``chain`` the wallet venue's orders are transactions on that local chain, funded with
    the run's capital and stepped to the recorded market (:mod:`live.local_chain`); a chain's
    state is not saved, so such a run does not resume.

    Stopped by SIGINT/SIGTERM, the run saves its state in ``state_dir`` (when given) once the
    strategy is at rest; ``resume`` carries on from there and ends as an uninterrupted run would.
    With a ``state_dir`` (the run's folder while it runs) the node also watches it for a halt
    request (``live.halt``) and keeps ``status.json`` there, with a health line every
    ``health_minutes`` of data time (``live.health``); the last status goes into the results.
    """
    started = time.perf_counter()
    plan = plan_run(run, catalog_dir)
    checkpoint = None
    if resume:
        if state_dir is None:
            raise CheckpointError("resuming needs the state folder of the stopped run")
        checkpoint = PaperCheckpoint.load(state_dir)
        checkpoint.check_run(run.identity(), state_dir)
        if chain is not None:
            raise CheckpointError("a paper run on a local chain does not resume (the chain is not saved)")
    with _signal_handlers_kept(), chain.environment() if chain is not None else nullcontext():
        if chain is not None:
            chain.fund(run.share_class, 0.0 if plan.strategy.capital_venues() else run.file.capital)
        node = _node(log_level, resuming=checkpoint is not None)
        result = _run_in_node(
            node,
            plan,
            out_dir,
            catalog_dir,
            progress,
            speed,
            started,
            state_dir,
            checkpoint,
            health_minutes,
            chain,
        )
    if state_dir is not None:
        discard(state_dir)
    return result


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _run_in_node(
    node: TradingNode,
    plan: RunPlan,
    out_dir: Path,
    catalog_dir: Path,
    progress: Progress,
    speed: float,
    started: float,
    state_dir: Path | None,
    checkpoint: PaperCheckpoint | None,
    health_minutes: float,
    chain: LocalChain | None,
) -> RunResult:
    run, strategy, kernel = plan.run, plan.strategy, node.kernel
    host = PaperHost(node)
    strategy.use_venue_time(host.clock.timestamp_ns)  # the node's clock runs ahead of the replay
    venues = add_venues(host, plan)
    data = read_data(plan)
    client = ReplayDataClient(node)
    kernel.data_engine.register_client(client)
    kernel.data_engine.register_default_client(client)
    accounting = AccountingActor(accounting_config(plan))
    accounting.progress = progress
    node.trader.add_actor(accounting)
    if checkpoint is None:
        node.trader.add_strategy(strategy)
        strategy_id = strategy.id
    else:
        strategy_id = StrategyId(checkpoint.strategy_id)
    tracker = DeliveryTracker(kernel.msgbus, strategy_id)
    endpoints = {
        RISK_ENDPOINT: kernel.risk_engine.execute,
        EXEC_ENDPOINT: kernel.exec_engine.execute,
        **venues.wallet.service_endpoints(),
    }
    journal = CommandJournal(
        kernel.msgbus, tracker, strategy_id, endpoints, checkpoint.journal if checkpoint else None
    )
    replay = Replay(node, host, client, speed)
    if chain is not None:
        chain.attach(host, venues.wallet, replay, run.strategy.send_limits)
    halts: list[HaltRequest] = []
    monitor = None
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)  # the run's folder: --halt writes here
        node.trader.add_actor(HaltSwitch(HaltSwitchConfig(state_dir=str(state_dir))))
        kernel.msgbus.subscribe(HALT_TOPIC, halts.append)
        status_path = state_dir / STATUS_FILE
        monitor = HealthMonitor(run.mode, strategy, accounting, status_path, progress, health_minutes)
    stop = StopRequest(progress)
    for sig in STOP_SIGNALS:
        # The node's loop handlers would stop it under the replay: silenced, and a plain handler
        # (which also sees a signal that arrives before the loop runs) stops the replay instead.
        kernel.loop.add_signal_handler(sig, lambda: None)
        signal.signal(sig, stop)
    progress(
        f"{run.mode} (paper): {data.points:,} data points, {run.start:%Y-%m-%d} → {run.end:%Y-%m-%d}, "
        f"replaying{'' if speed <= 0 else f' at {speed:g}x real time'}…"
    )
    stream = iter(data.stream())
    end_ns = run.end.value + 1

    def at_stop(points: int) -> bool:
        return stop.forced or (stop.requested and strategy.at_rest) or bool(halts)

    saved: list[PaperCheckpoint] = []

    async def main() -> None:
        try:
            await kernel.start_async()
            if not kernel.trader.is_running:
                raise RuntimeError("the paper node did not start (see its log)")
            if checkpoint is not None:
                await _rebuild_venues(replay, stream, end_ns, tracker, journal, checkpoint, progress)
                _rejoin(node, strategy, checkpoint)
            tracker.move_to_end()  # after the strategy's own subscriptions
            if monitor is not None:  # from the strategy's start (a resume: once it has rejoined)
                replay.observers.append(monitor.poll)
            await replay.run(stream, end_ns, at_stop)
            if halts:
                await replay.settle()  # the venues answer the halt's cancels and closing orders
            if monitor is not None:
                monitor.emit(replay.last_ns)
            if halts or (stop.requested and not stop.forced and strategy.at_rest):
                # taken before the node stops: the strategy's on_stop (cancelling its orders) is
                # not part of the venues' history a resume rebuilds
                saved.append(
                    PaperCheckpoint(
                        run=run.identity(),
                        strategy_id=strategy.id.value,
                        points=replay.points,
                        deliveries=tracker.count,
                        stopped_at_ns=replay.last_ns,
                        strategy=strategy.save(),
                        journal=list(journal.entries),
                    )
                )
        finally:
            await kernel.stop_async()

    try:
        _run_loop(node, main())
    except BaseException:
        node.dispose()
        raise
    if halts or stop.requested:
        saved_in = saved[0].save(state_dir).parent if saved and state_dir is not None else None
        node.dispose()
        if halts:
            assert state_dir is not None and monitor is not None  # only a watched run halts
            clear_halt(state_dir)  # answered: the saved strategy resumes HALTED
            raise PaperRunHalted(_halt_message(run.mode, halts[0], monitor.last), saved_in, monitor.last)
        raise PaperRunInterrupted(f"{run.mode}: paper run interrupted", saved_in)
    paper = Backtest(
        run,
        node,
        strategy,
        accounting,
        venues.cex_modules,
        venues.wallet,
        plan.series_keys,
        report_keys(plan.needs, plan.series_keys, plan.manifest),
        plan.manifest,
        data.points,
        data.stressed,
    )
    result = finish_run(paper, catalog_dir, out_dir, time.perf_counter() - started)
    if monitor is not None and monitor.last is not None:
        write_status(out_dir / STATUS_FILE, monitor.last)
        monitor.status_path.unlink(missing_ok=True)  # the run folder's copy: the results have it
    return result


def _halt_message(mode: str, request: HaltRequest, status: dict | None) -> str:
    """What the console says of a halted run: when, who asked, and what is left open."""
    assert status is not None
    positions = ", ".join(f"{p['instrument']} {p['side']} {p['quantity']:g}" for p in status["positions"])
    return (
        f"{mode} (paper): HALTED at {status['time'][:16].replace('T', ' ')} (data time) on request by "
        f"{request.describe()}: open orders {status['open_orders']}, positions "
        f"{positions or 'none'}{' (flattened)' if request.flatten else ' (kept)'}"
    )


def _run_loop(node: TradingNode, main: Coroutine[Any, Any, None]) -> None:
    loop = node.kernel.loop
    loop.run_until_complete(main)
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]  # e.g. executor workers
    for task in leftovers:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


async def _rebuild_venues(
    replay: Replay,
    stream: Iterator[Data],
    end_ns: int,
    tracker: DeliveryTracker,
    journal: CommandJournal,
    checkpoint: PaperCheckpoint,
    progress: Progress,
) -> None:
    """Replay the stopped run's points with its journaled commands: the venues, the cache and the
    accounting come back as they were when it stopped."""
    progress(
        f"resuming at {pd.Timestamp(checkpoint.stopped_at_ns, tz='UTC'):%Y-%m-%d %H:%M}: rebuilding the "
        f"venues from {checkpoint.points:,} data points and {len(checkpoint.journal):,} journaled commands…"
    )
    journal.recording = False
    player = JournalPlayer(replay.msgbus, replay.cache, tracker, checkpoint.journal)
    await replay.run(stream, end_ns, lambda points: points >= checkpoint.points or player.error is not None)
    player.check_done(tracker.count)
    if replay.points != checkpoint.points or tracker.count != checkpoint.deliveries:
        raise JournalMismatch(
            f"the rebuilt run replayed {replay.points:,} points / {tracker.count:,} deliveries where the "
            f"stopped one had {checkpoint.points:,} / {checkpoint.deliveries:,} (the catalog changed?)"
        )
    tracker.on_dispatched = lambda delivery, what: None
    journal.recording = True


def _rejoin(node: TradingNode, strategy: YieldStrategy, checkpoint: PaperCheckpoint) -> None:
    """The strategy joins the running trader with its saved state, under the id it traded with."""
    node.trader.add_strategy(strategy)
    if strategy.id.value != checkpoint.strategy_id:
        raise JournalMismatch(
            f"the strategy rejoined as {strategy.id}, it traded as {checkpoint.strategy_id}"
        )
    strategy.load(checkpoint.strategy)
    node.trader.start_strategy(strategy.id)
