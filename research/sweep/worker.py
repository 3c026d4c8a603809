"""A sweep worker: one long-lived process (a Ray actor, or the sweep's own process with
``--workers 0``) that runs backtests one after another.

It pays imports, the catalog handle and each window's catalog reads once: the data of a run
(:func:`backtesting.engine.read_data`, stress scenario applied) is kept in memory under
:func:`~backtesting.engine.data_key` and handed to the next run that needs the same. Each run
gets its own ``BacktestEngine`` built by the single-run code (:func:`backtesting.runner.simulate`):
building one from data in memory costs ~0.15 s of a ~7 s full-window run, and a fresh engine,
strategy, accounting actor and venue simulation (Aave market, backend, upkeep, funding and
liquidation state) can leak nothing from the previous run (BENCHMARKS.md compares this with
``BacktestEngine.reset()``).
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Any

from backtesting.engine import RunData, RunPlan, data_key, read_data
from backtesting.runner import finish_run, simulate, summarize_backtest
from research.sweep.table import error_row, ok_row
from research.sweep.tasks import RunTask

CACHED_WINDOWS = 8
"""Distinct data sets (window × scenario × instruments) a worker keeps; the oldest is dropped."""


def _where() -> str:
    where = f"{socket.gethostname()}:{os.getpid()}"
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        where += f":{sys.modules['ray'].get_runtime_context().get_node_id()[:8]}"
    return where


class SweepWorker:
    """Runs :class:`RunTask` s on the catalog at ``catalog_dir``; with ``runs_dir``, writes each
    run's full results folder into ``runs_dir/<key>``."""

    def __init__(self, catalog_dir: str, runs_dir: str | None = None) -> None:
        self.catalog_dir = Path(catalog_dir)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.name = _where()
        """Where the worker runs, the ``worker`` column: host, process and Ray node."""
        self._data: OrderedDict[Any, RunData] = OrderedDict()
        self.reads = 0
        """Catalog reads so far (a run whose data was in memory adds none)."""

    def read(self, plan: RunPlan) -> RunData:
        key = data_key(plan)
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        data = read_data(plan)
        self.reads += 1
        self._data[key] = data
        while len(self._data) > CACHED_WINDOWS:
            self._data.popitem(last=False)
        return data

    def run(self, task: RunTask) -> dict[str, Any]:
        """One run's table row: its figures, or its error (a failed run never raises here)."""
        started = time.perf_counter()
        bt = None
        try:
            bt, seconds = simulate(task.run_config(), self.catalog_dir, reader=self.read)
            if self.runs_dir is not None:
                out = self.runs_dir / task.key
                summary = finish_run(bt, self.catalog_dir, out, seconds).summary
                bt = None  # finish_run disposed of the engine
                return ok_row(task, summary, seconds, out.resolve(), self.name)
            summary = summarize_backtest(bt, self.catalog_dir, seconds)
            return ok_row(task, summary, seconds, None, self.name)
        except Exception as e:  # a failed run is a row of the table, not the end of the sweep
            error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"
            return error_row(task, error, time.perf_counter() - started, self.name)
        finally:
            if bt is not None:
                bt.engine.dispose()
            del bt
            gc.collect()
