"""Run a validated sweep: skip the runs the table already has, dispatch the rest to the pool, add
each row to the table as it arrives, and show progress with an ETA."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from research.sweep.config import Sweep
from research.sweep.optuna_search import run_optuna
from research.sweep.pool import make_pool
from research.sweep.table import STATUS_OK, RunTable
from research.sweep.tasks import RunTask

RUNS_DIR = "runs"
"""Where ``--keep-runs`` writes each run's results folder (``OUT/runs/<key>``), as the report looks."""


def run_sweep(
    sweep: Sweep,
    out_dir: Path,
    catalog_dir: Path,
    *,
    workers: int | None = None,
    address: str | None = None,
    keep_runs: bool = False,
    show_progress: bool = True,
) -> RunTable:
    """Run ``sweep`` into ``out_dir`` (``runs.parquet``; a copy of the sweep YAML) and return the table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sweep.source, out_dir / "sweep.yaml")
    table = RunTable(out_dir)
    done_ok = table.finished_keys()
    runs_dir = out_dir / RUNS_DIR if keep_runs else None
    pool = make_pool(catalog_dir, runs_dir, workers, address)
    bar = tqdm(desc=out_dir.name, unit="run", file=sys.stderr, disable=not show_progress, smoothing=0.1)
    try:

        def execute(tasks: list[RunTask]) -> list[dict[str, Any]]:
            for task in tasks:
                pool.submit(task)
            rows = []
            while pool.pending():
                batch = pool.done()
                table.append(batch)
                rows += batch
                bar.update(len(batch))
            return rows

        if sweep.search.kind == "optuna":
            per_trial = len(sweep.tasks({n: p.middle() for n, p in sweep.file.parameters.items()}))
            bar.total = (sweep.search.n_trials or 0) * per_trial
            rows_by_key = table.frame.set_index("key").to_dict("index") if not table.frame.empty else {}

            def finished(key: str) -> dict[str, Any] | None:
                row = rows_by_key.get(key)
                if row is None or row["status"] != STATUS_OK:
                    return None
                bar.update(1)
                return row

            run_optuna(sweep, finished, execute, pool.size)
        else:
            tasks = [t for params in sweep.parameter_sets() for t in sweep.tasks(params)]
            todo = [t for t in tasks if t.key not in done_ok]
            bar.total, bar.n = len(tasks), len(tasks) - len(todo)
            bar.refresh()
            execute(todo)
    finally:
        bar.close()
        pool.close()
    return table
