"""Run a mode in paper mode: the same strategy, config, venues, accounting and results folder as
``run_backtest.py``, inside a live ``TradingNode`` fed by a replay of the catalog."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nautilus_trader.config import LiveExecEngineConfig, LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import TraderId

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
from live.paper import PaperHost, Replay, ReplayDataClient
from portfolio.accounting import AccountingActor

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Stop the replay (nothing is written); outside a run the caller's handlers apply."""


class StopRequest:
    """A signal handler that asks the replay to stop at the next data point."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True


class PaperRunInterrupted(RuntimeError):
    """The replay was stopped (SIGINT/SIGTERM) before the end of the window: nothing is written."""


def _node(log_level: str) -> TradingNode:
    config = TradingNodeConfig(
        trader_id=TraderId("PAPER-001"),
        logging=LoggingConfig(log_level=log_level),
        exec_engine=LiveExecEngineConfig(reconciliation=False, inflight_check_interval_ms=0),
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
) -> RunResult:
    """Replay ``run``'s window through a ``TradingNode`` (``speed`` × real time; 0 = as fast as the
    node consumes it) and write the results folder."""
    started = time.perf_counter()
    plan = plan_run(run, catalog_dir)
    with _signal_handlers_kept():  # the node installs its own on its loop
        node = _node(log_level)
        return _run_in_node(node, plan, out_dir, catalog_dir, progress, speed, started)


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
) -> RunResult:
    run = plan.run
    host = PaperHost(node)
    venues = add_venues(host, plan)
    data = read_data(plan)
    client = ReplayDataClient(node)
    node.kernel.data_engine.register_client(client)
    node.kernel.data_engine.register_default_client(client)
    accounting = AccountingActor(accounting_config(plan))
    accounting.progress = progress
    node.trader.add_strategy(plan.strategy)
    node.trader.add_actor(accounting)
    replay = Replay(node, host, client, speed)
    loop = node.kernel.loop
    stop = StopRequest()
    # The node's loop handlers would stop it under the replay; Nautilus 1.231 has no public hook,
    # so its signal callback is pointed at the replay's stop. The plain handlers also catch a
    # signal that arrives before the loop runs.
    node.kernel._loop_sig_callback = lambda sig: stop(sig, None)
    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    progress(
        f"{run.mode} (paper): {data.points:,} data points, {run.start:%Y-%m-%d} → {run.end:%Y-%m-%d}, "
        f"replaying{'' if speed <= 0 else f' at {speed:g}x real time'}…"
    )

    async def main() -> None:
        try:
            await node.kernel.start_async()
            if not node.kernel.trader.is_running:
                raise RuntimeError("the paper node did not start (see its log)")
            await replay.run(data.stream(), run.end.value + 1, lambda: stop.requested)
        finally:
            await node.kernel.stop_async()

    loop.run_until_complete(main())
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]  # e.g. executor workers
    for task in leftovers:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    if stop.requested:
        node.dispose()
        raise PaperRunInterrupted(f"{run.mode}: paper run interrupted")
    paper = Backtest(
        run,
        node,
        plan.strategy,
        accounting,
        venues.cex_modules,
        venues.wallet,
        plan.series_keys,
        report_keys(plan.needs, plan.series_keys, plan.manifest),
        plan.manifest,
        data.points,
    )
    return finish_run(paper, catalog_dir, out_dir, time.perf_counter() - started)
