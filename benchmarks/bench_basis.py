#!/usr/bin/env python3
"""Speed and memory of the project against bare NautilusTrader, on the real catalog.

Usage::

    .venv/bin/python benchmarks/bench_basis.py [--catalog DIR] [--mode MODE] [--repeat N]
                                               [--json OUT] [--breakdown] [--floor] [--profile N]

Measures, each in a fresh subprocess (so peak RSS belongs to that measurement alone):

a. ``build``: the catalog built from every raw file, from scratch (``force=True``), into a temp dir.
b. ``mode``: ``btc_basis`` over the full window the catalog allows, through the project's real path
   (``load_run_config`` + ``run_backtest`` writing a results folder); ``build_backtest`` and
   ``engine.run`` are timed separately by wrapping them in the child (no source change).
c. ``bare``: the same venues, instruments and data (added by ``backtesting.engine``'s own
   ``read_data``: bars, funding prints, gas, Aave snapshots, reward payouts, predictions) in a plain
   ``BacktestEngine`` with a no-op strategy subscribed to the same bars: what Nautilus alone costs.
d. the overhead ratios b / c.

``--mode`` measures b, c and d for another mode (the targets are btc_basis's).

``--breakdown`` times the project's callbacks inside one b run (where the overhead goes),
``--floor`` runs b with its three largest hourly costs switched off (how low optimising them could
take it) and ``--profile N`` prints cProfile's top N functions of one b run. ``bench_modes.py``
runs every mode the same way as b (its children live here). BENCHMARKS.md explains the numbers.

Speed is measured here, never in timed tests: timings on shared CI machines are too noisy to assert.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODE = "btc_basis"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
MB = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0  # ru_maxrss: KiB on Linux, bytes on macOS
TARGET_BUILD_S = 60.0
TARGET_BASIS_S = 15.0
TARGET_RATIO = 2.0
Result = dict[str, Any]


# -- what the run needs (computed once, in the parent) -----------------------------------------


@dataclass(frozen=True)
class RunShape:
    """The mode and its full window, passed to the children as JSON so they run the same thing."""

    mode: str
    start: str
    end: str
    series_keys: list[str]
    """Series that must cover the window (the project's ``series_keys``)."""


def run_shape(catalog_dir: Path, mode: str = MODE) -> RunShape:
    """The mode's full window: the widest one ``check_window`` accepts.

    The series are the project's own ``series_keys`` (required bars, the perps' funding, the Aave
    reserves used, gas), read from the manifest: the window opens one step before the latest first
    row (``check_window`` allows that: bars are stamped at their close, so the bar closing at 01:00
    covers the hour from 00:00) and ends at the earliest last row.
    """
    from nautilus_trader.model.instruments import CryptoPerpetual
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    from adapters.defi.config import load_wallet_venue
    from adapters.defi.currencies import register_wallet_currencies
    from backtesting.config import load_run_config, mode_file_path
    from backtesting.engine import series_keys
    from data_catalog.manifest import CatalogManifest
    from data_catalog.validation import iso

    wallet = load_wallet_venue()
    register_wallet_currencies(wallet)
    run = load_run_config(mode_file_path(mode))
    needs = run.spec.strategy(run.strategy).data_needs()
    cex_ids = [str(i) for i in needs.required if i.venue.value != wallet.venue]
    instruments = ParquetDataCatalog(str(catalog_dir)).instruments(instrument_ids=cex_ids) if cex_ids else []
    if len(instruments) != len(cex_ids):
        raise SystemExit(f"{catalog_dir}: instruments of {mode} missing from the catalog; rebuild it")
    perps = [i.id for i in instruments if isinstance(i, CryptoPerpetual)]
    keys = series_keys(needs, perps, wallet)
    manifest = CatalogManifest(catalog_dir)
    coverages = [manifest.coverage(k) for k in keys]
    empty = [c.key for c in coverages if c.first is None or c.last is None]
    if empty:
        raise SystemExit(f"{catalog_dir}: series {empty} have no data; {mode} cannot run on this catalog")
    start = max(_ns(c.first) - c.step_ns for c in coverages)
    end = min(_ns(c.last) for c in coverages)
    return RunShape(mode=mode, start=iso(start), end=iso(end), series_keys=keys)


def _ns(text: str | None) -> int:
    import pandas as pd

    return int(pd.Timestamp(text).value)


def window_limits(catalog_dir: Path, shape: RunShape) -> list[str]:
    """Series whose first / last row sets the window (so the printed window can be explained)."""
    from data_catalog.manifest import CatalogManifest

    manifest = CatalogManifest(catalog_dir)
    covs = [manifest.coverage(k) for k in shape.series_keys]
    start, end = _ns(shape.start), _ns(shape.end)
    return [
        f"start set by {', '.join(c.key for c in covs if _ns(c.first) - c.step_ns == start)}",
        f"end set by {', '.join(c.key for c in covs if _ns(c.last) == end)}",
    ]


# -- children: one measurement each, in a fresh interpreter ------------------------------------


def peak_rss_mb() -> float:
    """Peak resident memory of this process: what the user's machine must hold."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB


def child_build(args: dict[str, Any]) -> Result:
    """a. Catalog from scratch: every raw file read, validated, proxied and written."""
    from data_catalog.builder import build_catalog
    from data_catalog.paths import resolve_data_dir

    started = time.perf_counter()
    result = build_catalog(resolve_data_dir(), Path(args["catalog"]), force=True)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "series": result.series, "peak_rss_mb": peak_rss_mb()}


class TimedEngine:
    """Delegates to a ``BacktestEngine``, timing ``run``.

    ``BacktestEngine`` is a Cython class: its methods cannot be patched, so the runner is handed
    this stand-in instead; every other attribute goes straight to the real engine.
    """

    def __init__(self, engine: Any, timings: Result) -> None:
        self._engine = engine
        self._timings = timings

    def run(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._engine.run(*args, **kwargs)
        finally:
            self._timings["engine_run_s"] = time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def timed_build(original: Callable[..., Any], timings: Result) -> Callable[..., Any]:
    """``build_backtest`` that records its own time and hands back a run-timed engine."""

    def build(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        bt = original(*args, **kwargs)
        timings["build_s"] = time.perf_counter() - started
        timings["data_points"] = bt.data_points
        timings["backtest"] = bt
        bt.engine = TimedEngine(bt.engine, timings)
        return bt

    return build


def child_mode(args: dict[str, Any]) -> Result:
    """b. The project's real path: load the mode file, ``run_backtest`` into a temp results dir."""
    import backtesting.runner as runner
    from backtesting.config import load_run_config, mode_file_path

    timings: Result = {}
    runner.build_backtest = timed_build(runner.build_backtest, timings)
    run = load_run_config(mode_file_path(args["mode"]), start=args["start"], end=args["end"])
    with tempfile.TemporaryDirectory(prefix="bench-results-") as out:
        started = time.perf_counter()
        result = runner.run_backtest(run, Path(args["catalog"]), Path(out))
        wall = time.perf_counter() - started
    bt = timings.pop("backtest")
    return {
        **timings,
        "wall_s": wall,
        "results_s": wall - timings["build_s"] - timings["engine_run_s"],
        "nav_samples": len(bt.accounting.rows),
        "actions": dict(bt.strategy.actions),
        "final_nav": result.summary.get("final_nav"),
        "apy": result.summary.get("apy"),
        "rejections": result.summary.get("rejection_count"),
        "peak_rss_mb": peak_rss_mb(),
    }


def noop_strategy(bar_types: list[str]) -> Any:
    """A strategy that only subscribes to the bars, so Nautilus routes them as it does for the mode."""
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.trading.strategy import Strategy

    class NoOpStrategy(Strategy):
        def on_start(self) -> None:
            for bar_type in bar_types:
                self.subscribe_bars(BarType.from_str(bar_type))

        def on_bar(self, bar: Bar) -> None:
            return None

    return NoOpStrategy()


def bare_engine(run: Any, catalog_dir: Path) -> tuple[Any, int]:
    """Plain ``BacktestEngine``: the mode's venues, accounts and instruments without the project's
    simulation modules, clients or checks, and the data ``build_backtest`` adds (its own
    ``read_data``: same queries, same order)."""
    from nautilus_trader.accounting.margin_models import StandardMarginModel
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USDT
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import TraderId, Venue
    from nautilus_trader.model.objects import Money

    from adapters.bars import bar_type_for
    from adapters.defi.currencies import currency, wallet_currency_codes
    from adapters.defi.instruments import wallet_instruments
    from backtesting.engine import add_run_data, plan_run, read_data

    plan = plan_run(run, catalog_dir)
    wallet, needs, instruments = plan.wallet_config, plan.needs, plan.instruments
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BACKTESTER-001"),
            logging=LoggingConfig(log_level="ERROR"),
            run_analysis=False,
        ),
    )
    for venue in sorted({i.id.venue.value for i in instruments}):
        engine.add_venue(
            Venue(venue),
            OmsType.NETTING,
            AccountType.MARGIN,
            [Money(0, USDT)],
            base_currency=USDT,
            margin_model=StandardMarginModel(),
        )
    balances = {run.share_class: run.file.capital}
    engine.add_venue(  # as add_wallet_venue: every wallet currency, borrowing allowed (Aave debt)
        Venue(wallet.venue),
        OmsType.NETTING,
        AccountType.CASH,
        [Money(balances.get(code, 0.0), currency(code)) for code in wallet_currency_codes(wallet)],
        allow_cash_borrowing=True,
    )
    used = needs.wallet_instruments(Venue(wallet.venue))
    for instrument in wallet_instruments(wallet):  # as add_wallet_venue: only the ones the run uses
        if instrument.id in used:
            engine.add_instrument(instrument)
    for instrument in instruments:
        engine.add_instrument(instrument)
    data = read_data(plan)
    add_run_data(engine, data, wallet.venue)
    points = data.points
    bar_ids = dict.fromkeys([*needs.required, *needs.optional])
    engine.add_strategy(noop_strategy([str(bar_type_for(i)) for i in bar_ids]))
    return engine, points


def child_bare(args: dict[str, Any]) -> Result:
    """c. Bare Nautilus on the same data; the run ends where the mode's does (end + 1 ns).

    Modules are imported and the mode file read before the clock starts, as ``run_backtest`` has
    them imported and read already.
    """
    import nautilus_trader.backtest.engine
    import nautilus_trader.persistence.catalog  # noqa: F401
    import pandas as pd

    import backtesting.engine  # noqa: F401
    from backtesting.config import load_run_config, mode_file_path

    run = load_run_config(mode_file_path(args["mode"]), start=args["start"], end=args["end"])
    started = time.perf_counter()
    engine, points = bare_engine(run, Path(args["catalog"]))
    built = time.perf_counter()
    engine.run(end=run.end + pd.Timedelta(1, "ns"))
    finished = time.perf_counter()
    engine.dispose()
    return {
        "build_s": built - started,
        "engine_run_s": finished - built,
        "wall_s": finished - started,
        "data_points": points,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_profile(args: dict[str, Any]) -> Result:
    """One run of the mode under cProfile: the hotspots to optimise when a target is missed.

    cProfile instruments every Python call, so Python-heavy code looks slower than it is; the
    engine's own Cython work shows up as the own time of ``TimedEngine.run``.
    """
    import backtesting.runner  # noqa: F401  (imported before profiling: import time is not run time)

    profiler = cProfile.Profile()
    profiler.enable()
    child_mode(args)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = [
        {"function": f"{Path(file).name}:{line}({func})", "calls": calls, "tottime": own, "cumtime": cum}
        for (file, line, func), (_, calls, own, cum, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    rows.sort(key=lambda r: r["cumtime"], reverse=True)
    by_self = sorted(rows, key=lambda r: r["tottime"], reverse=True)
    return {"cumulative": rows[: args["top"]], "self": by_self[: args["top"]]}


BREAKDOWN_TARGETS: tuple[tuple[str, str, str, bool], ...] = (
    # (module, attribute, label, top level: called by the engine, not from inside another row)
    ("strategies.base", "YieldStrategy.on_bar", "strategy on_bar (ticks, decisions, orders)", True),
    ("portfolio.accounting", "AccountingActor.sample", "accounting hourly NAV sample (hour marks)", True),
    ("adapters.cex.venue", "CexVenueModule.pre_process", "CEX module pre_process (each perp bar)", True),
    ("adapters.cex.venue", "CexVenueModule.process", "CEX module process (after every event)", True),
    ("adapters.defi.wallet", "WalletModule.process", "wallet module process (transfers, upkeep)", True),
    ("adapters.defi.wallet", "WalletModule._on_bar", "wallet module on bar (hour's upkeep first)", True),
    ("adapters.execution", "CheckedExecClient.submit_order", "  pre-trade checks + submit", False),
    ("adapters.cex.margin", "VenueWalletReader.read", "  VenueWalletReader.read (all callers)", False),
    ("adapters.cex.margin", "last_price", "  last_price (all callers)", False),
    ("adapters.defi.upkeep", "ProtocolUpkeep.run", "  wallet upkeep: accrual, queue, rewards", False),
    ("adapters.defi.upkeep", "ProtocolUpkeep.check_health", "  wallet upkeep: Aave health check", False),
    ("adapters.defi.upkeep", "ProtocolUpkeep.record_holdings", "  wallet upkeep: record holdings", False),
    ("portfolio.wallet_book", "WalletBook.sample", "  WalletBook.sample (wallet part of NAV)", False),
    ("adapters.defi.valuation", "WalletValuation.numeraire_price", "  token prices (all callers)", False),
)
"""Python entry points of the project inside ``engine.run``; nested rows are inside the top-level ones."""


def timed_callable(original: Callable[..., Any], slot: list[float]) -> Callable[..., Any]:
    """``original`` adding its inclusive seconds and call count to ``slot``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            slot[0] += time.perf_counter() - started
            slot[1] += 1

    return wrapper


def install_timers() -> tuple[dict[str, list[float]], list[str]]:
    """Wrap every breakdown target where it is defined and where it was imported by name.

    Targets the code no longer has are returned as missing (shown, not fatal), so a rename in the
    project does not break the benchmark.
    """
    import importlib

    slots: dict[str, list[float]] = {}
    missing: list[str] = []
    for module_name, attribute, label, _ in BREAKDOWN_TARGETS:
        module = importlib.import_module(module_name)
        owner_name, _, name = attribute.rpartition(".")
        slot = slots.setdefault(label, [0.0, 0])
        owner = getattr(module, owner_name) if owner_name else module
        if not hasattr(owner, name):
            missing.append(label)
            continue
        if owner_name:
            setattr(owner, name, timed_callable(getattr(owner, name), slot))
            continue
        original = getattr(module, name)
        wrapped = timed_callable(original, slot)
        for loaded in list(sys.modules.values()):
            if getattr(loaded, name, None) is original:
                setattr(loaded, name, wrapped)
    return slots, missing


def timed_engine_run(args: dict[str, Any]) -> tuple[float, dict[str, int]]:
    """Build the mode's backtest as ``build_backtest`` does and time its ``engine.run`` alone:
    (seconds, the strategy's action counts). Callers patch what they measure before calling."""
    import pandas as pd

    from backtesting.config import load_run_config, mode_file_path
    from backtesting.engine import build_backtest

    run = load_run_config(mode_file_path(args["mode"]), start=args["start"], end=args["end"])
    bt = build_backtest(run, Path(args["catalog"]))
    started = time.perf_counter()
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    seconds = time.perf_counter() - started
    actions = dict(bt.strategy.actions)
    bt.engine.dispose()
    return seconds, actions


def child_breakdown(args: dict[str, Any]) -> Result:
    """Where ``engine.run`` time goes: the project's callbacks timed, the rest is Nautilus itself.

    Cheap wall-clock timers (about a microsecond a call) instead of a profiler, so the shares are
    not distorted; the project is imported first so the wrappers land on the loaded code.
    """
    import backtesting.runner  # noqa: F401  (loads every module the run uses)

    slots, missing = install_timers()
    engine_run, _ = timed_engine_run(args)
    top = sum(slots[label][0] for _, _, label, is_top in BREAKDOWN_TARGETS if is_top)
    return {
        "engine_run_s": engine_run,
        "rows": [
            {
                "label": label + (" (NOT FOUND: update BREAKDOWN_TARGETS)" if label in missing else ""),
                "seconds": slots[label][0],
                "calls": int(slots[label][1]),
                "top_level": is_top,
            }
            for _, _, label, is_top in BREAKDOWN_TARGETS
        ],
        "nautilus_s": engine_run - top,
    }


def child_floor(args: dict[str, Any]) -> Result:
    """b's ``engine.run`` with the project's three largest hourly costs switched off: the hourly NAV
    sample, the strategy's decisions once its entry is done, and the CEX modules' per-bar checks
    (funding, liquidation, stop-before-target). Its results are not valid (no funding is paid);
    its time is what everything else costs: the hour gate, the simulation modules' other calls,
    the execution clients, and Nautilus' own work for open positions and the project's
    subscriptions. No optimisation of those three can take ``engine.run`` below this."""
    import backtesting.runner  # noqa: F401  (loads every module the run uses)
    from adapters.cex.venue import CexVenueModule
    from portfolio.accounting import AccountingActor
    from strategies.base import YieldStrategy

    tick = YieldStrategy.on_tick

    def entry_only(strategy: YieldStrategy) -> None:
        if not strategy.entered or strategy.plans.busy:
            tick(strategy)

    YieldStrategy.on_tick = entry_only  # type: ignore[method-assign, assignment]
    AccountingActor.sample = lambda actor, ts: None  # type: ignore[method-assign, assignment]
    CexVenueModule.pre_process = lambda module, data: None  # type: ignore[method-assign, assignment]
    engine_run, actions = timed_engine_run(args)
    return {"engine_run_s": engine_run, "actions": actions}


def child_paper(args: dict[str, Any]) -> Result:
    """The same mode and window in paper mode: ``run_paper`` (a live ``TradingNode`` on a replay)."""
    from backtesting.config import load_run_config, mode_file_path
    from live.runner import run_paper

    run = load_run_config(mode_file_path(args["mode"]), start=args["start"], end=args["end"])
    with tempfile.TemporaryDirectory(prefix="bench-results-") as out:
        started = time.perf_counter()
        result = run_paper(run, Path(args["catalog"]), Path(out))
        wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "data_points": result.summary.get("data_points"),
        "final_nav": result.summary.get("final_nav"),
        "peak_rss_mb": peak_rss_mb(),
    }


CHILDREN: dict[str, Callable[[dict[str, Any]], Result]] = {
    "build": child_build,
    "mode": child_mode,
    "paper": child_paper,
    "bare": child_bare,
    "profile": child_profile,
    "breakdown": child_breakdown,
    "floor": child_floor,
}


def catalog_for(given: Path | None, work: str) -> Path:
    """The catalog to measure on: the one given, else a fresh build under ``work``."""
    catalog = given
    if catalog is None:
        catalog = Path(work) / "catalog"
        print("  building a catalog …", flush=True)
        run_child("build", {"catalog": str(catalog)})
    return catalog.resolve()


def run_child(kind: str, args: dict[str, Any]) -> Result:
    """Run one measurement in a fresh interpreter; its result comes back through a JSON file."""
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
        command += ["--child-args", json.dumps(args), "--child-out", str(out)]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        process_s = time.perf_counter() - started
        if proc.returncode != 0 or not out.is_file():
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise RuntimeError(f"benchmark child {kind!r} failed (exit {proc.returncode})")
        return {**json.loads(out.read_text()), "process_s": process_s}


# -- the parent: repeat, take medians, print, write JSON -----------------------------------------


def median_result(runs: list[Result]) -> Result:
    """Median of every numeric field over the repeats (other fields from the first run)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def measure(kind: str, args: dict[str, Any], repeat: int, label: str) -> tuple[Result, list[Result]]:
    runs = []
    for i in range(repeat):
        print(f"  {label} run {i + 1}/{repeat} …", flush=True)
        runs.append(run_child(kind, args))
    return median_result(runs), runs


def measure_build(repeat: int, work: Path) -> tuple[Result, list[Result], Path]:
    """a, repeated into fresh dirs; the first catalog is kept for b and c when none was given."""
    runs = []
    for i in range(repeat):
        print(f"  catalog build run {i + 1}/{repeat} …", flush=True)
        target = work / f"catalog-{i}"
        runs.append(run_child("build", {"catalog": str(target)}))
        if i:
            shutil.rmtree(target, ignore_errors=True)
    return median_result(runs), runs, work / "catalog-0"


def source_state() -> dict[str, Any]:
    """Commit and uncommitted files measured: numbers belong to a version of the code."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.rstrip()  # not strip(): a porcelain line may start with a space

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line[:2].strip()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": changed}


def machine_facts() -> dict[str, Any]:
    """What the numbers depend on, so they can be compared across machines."""
    import nautilus_trader

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    models = [x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")]
    model = models[0] if models else platform.processor()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": model,
        "python": platform.python_version(),
        "nautilus_trader": nautilus_trader.__version__,
        "platform": platform.platform(),
        "source": source_state(),
        "load_average_1m": os.getloadavg()[0],
    }


def ratios(basis: Result, bare: Result) -> Result:
    return {
        "engine_run": basis["engine_run_s"] / bare["engine_run_s"],
        "whole_run": basis["wall_s"] / bare["wall_s"],
    }


def verdict(value: float, target: float) -> str:
    return "yes" if value < target else f"NO ({value / target:.2f}× target)"


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(build: Result, basis: Result, bare: Result, ratio: Result, mode: str = MODE) -> str:
    """The numbers a reader needs, one row per measurement."""
    head = f"{'measurement':<36}{'wall s':>8}{'build s':>9}{'run s':>8}{'events':>10}{'events/s':>10}"
    head += f"{'RSS MB':>8}  target"
    rows = [head, "-" * (len(head) + 24)]

    def row(name: str, r: Result, target: str) -> str:
        events = r.get("data_points")
        rate = events / r["engine_run_s"] if events and r.get("engine_run_s") else None
        return (
            f"{name:<36}{fmt(r['wall_s'], '.2f'):>8}{fmt(r.get('build_s'), '.2f'):>9}"
            f"{fmt(r.get('engine_run_s'), '.2f'):>8}{fmt(events, ',.0f'):>10}{fmt(rate, ',.0f'):>10}"
            f"{fmt(r['peak_rss_mb'], '.0f'):>8}  {target}"
        )

    rows.append(row("a catalog build (force)", build, f"< 60 s: {verdict(build['wall_s'], TARGET_BUILD_S)}"))
    rows.append(row(f"b {mode} (run_backtest)", basis, f"< 15 s: {verdict(basis['wall_s'], TARGET_BASIS_S)}"))
    rows.append(row("c bare Nautilus, no-op", bare, "baseline"))
    rows.append(
        f"d overhead b/c: engine.run {ratio['engine_run']:.2f}×  (< 2×: "
        f"{verdict(ratio['engine_run'], TARGET_RATIO)}); whole run {ratio['whole_run']:.2f}×"
    )
    return "\n".join(rows)


def print_profile(result: Result, mode: str = MODE) -> None:
    for title, key, col in (("cumulative", "cumulative", "cumtime"), ("own", "self", "tottime")):
        print(f"\ntop functions by {title} time (cProfile, one {mode} run; profiling inflates times):")
        for r in result[key]:
            print(f"  {r[col]:8.2f} s  {r['calls']:>10,}  {r['function']}")


def print_breakdown(result: Result, bare_run_s: float | None = None, mode: str = MODE) -> None:
    run_s = result["engine_run_s"]
    print(f"\nwhere {mode}'s engine.run goes (timed callbacks, one run, engine.run {run_s:.2f} s):")
    for r in result["rows"]:
        print(f"  {r['seconds']:7.2f} s {r['seconds'] / run_s:6.1%}  {r['calls']:>9,} calls  {r['label']}")
    nautilus = result["nautilus_s"]
    rest = "Nautilus itself (the rest" + (f"; bare run: {bare_run_s:.2f} s)" if bare_run_s else ")")
    print(f"  {nautilus:7.2f} s {nautilus / run_s:6.1%}  {'':>15}  {rest}")


def print_floor(result: Result, bare_run_s: float, mode: str = MODE) -> None:
    run_s = result["engine_run_s"]
    print(
        f"\nfloor: {mode}'s engine.run with the hourly NAV sample, the decisions after entry and the "
        f"CEX per-bar checks switched off (results not valid): {run_s:.2f} s = {run_s / bare_run_s:.2f}× "
        f"bare; actions {result['actions']}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, help="built catalog for b and c (default: a's fresh one)")
    parser.add_argument("--mode", default=MODE, help=f"mode of b, c and d (default {MODE}; targets are its)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are shown")
    parser.add_argument("--json", type=Path, help="write every number (medians and each run) here")
    parser.add_argument("--profile", type=int, metavar="N", help="also cProfile one b run, print top N")
    parser.add_argument(
        "--breakdown", action="store_true", help="also time the project's callbacks inside one b run"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run b with the NAV sample, the post-entry decisions and the CEX checks off (the floor)",
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--child-args", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def print_machine(machine: Result) -> None:
    """What is measured where, and a warning when the machine is busy before the start."""
    print(
        f"machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"nautilus_trader {machine['nautilus_trader']}, {machine['date']}"
    )
    if machine["load_average_1m"] > 0.5:
        print(f"WARNING: load average {machine['load_average_1m']:.2f}: other work will inflate the times")
    source = machine["source"]
    changed = source["uncommitted"]
    print(f"source: commit {source['commit']}, {len(changed)} uncommitted files: {', '.join(changed) or '-'}")


def warn_if_busy_at_end() -> float:
    """Load average at the end; the benchmark alone keeps it near 1 (one busy core)."""
    load_end = os.getloadavg()[0]
    if load_end > 1.5:
        print(f"WARNING: load average {load_end:.2f} at the end (this benchmark alone keeps it near 1)")
    return load_end


def benchmark(args: argparse.Namespace) -> int:
    machine = machine_facts()
    print_machine(machine)
    with tempfile.TemporaryDirectory(prefix="bench-basis-") as tmp:
        build, build_runs, fresh = measure_build(args.repeat, Path(tmp))
        catalog = (args.catalog or fresh).resolve()
        shape = run_shape(catalog, args.mode)
        print(f"catalog for b and c: {catalog}")
        limits = "; ".join(window_limits(catalog, shape))
        print(f"{args.mode} full window: {shape.start} → {shape.end} ({limits})")
        child_args = {**asdict(shape), "catalog": str(catalog)}
        basis, basis_runs = measure("mode", child_args, args.repeat, args.mode)
        bare, bare_runs = measure("bare", child_args, args.repeat, "bare Nautilus")
        profile = run_child("profile", {**child_args, "top": args.profile}) if args.profile else None
        breakdown = run_child("breakdown", child_args) if args.breakdown else None
        floor, floor_runs = measure("floor", child_args, args.repeat, "floor") if args.floor else (None, [])
    if basis["data_points"] != bare["data_points"]:
        print(f"WARNING: data points differ: {basis['data_points']} vs {bare['data_points']}")
    ratio = ratios(basis, bare)
    load_end = warn_if_busy_at_end()
    print()
    print(table(build, basis, bare, ratio, args.mode))
    print(
        f"\nevents = data points added to the engine (bars, funding prints, gas samples, Aave snapshots, "
        f"reward payouts), the same in b and c;\nb also fires {basis['nav_samples']:,.0f} hourly "
        f"accounting samples (on hour marks, not counted). b results writing: {basis['results_s']:.2f} s. "
        f"b actions: {basis['actions']}"
    )
    if breakdown:
        print_breakdown(breakdown, bare["engine_run_s"], args.mode)
    if floor:
        print_floor(floor, bare["engine_run_s"], args.mode)
    if profile:
        print_profile(profile, args.mode)
    if args.json:
        payload = {
            "machine": machine,
            "repeat": args.repeat,
            "mode": args.mode,
            "window": {"start": shape.start, "end": shape.end},
            "targets": {"build_s": TARGET_BUILD_S, "basis_s": TARGET_BASIS_S, "ratio": TARGET_RATIO},
            "build": build,
            "basis": basis,
            "bare": bare,
            "ratio": ratio,
            "load_average_1m_end": load_end,
            "runs": {"build": build_runs, "basis": basis_runs, "bare": bare_runs, "floor": floor_runs},
            "profile": profile,
            "breakdown": breakdown,
            "floor": floor,
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return 0


def child_main(args: argparse.Namespace) -> int:
    result = CHILDREN[args.child](json.loads(args.child_args))
    args.child_out.write_text(json.dumps(result, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return child_main(args) if args.child else benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
