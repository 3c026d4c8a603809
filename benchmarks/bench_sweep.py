#!/usr/bin/env python3
"""What a sweep run costs: a fresh ``run_backtest.py`` process per run against a sweep worker that
keeps its process, imports and the window's data between runs; and Ray with 2 workers against 1.

Usage::

    .venv/bin/python benchmarks/bench_sweep.py [--catalog DIR] [--repeat N] [--reuse-runs N]
                                               [--ray-runs N] [--ray-window full|month]
                                               [--skip-ray] [--json OUT]

a. ``fresh``: ``run_backtest.py --mode btc_basis`` in a new process (imports, catalog reads, the
   results folder), the full window and one month (2025-03-01 .. 2025-04-01); median of ``--repeat``.
b. ``reuse``: one :class:`~research.sweep.worker.SweepWorker` in a new process running
   ``--reuse-runs`` btc_basis runs one after another (margin fractions cycling), per window: the
   first run (catalog read) apart, then the median of the others, the mean of the first and last
   five (per-run time creeping up would show there) and the process's live Python objects after
   each run (growth would be state piling up).
c. ``ray``: a ``--ray-runs`` btc_basis grid sweep on embedded Ray with 1 and then 2 workers (wall
   time with and without Ray's start-up).

Targets (issue 13): reuse ≤ 0.75 × fresh per run over the full window and ≤ 0.45 × for one month;
2 Ray workers ≥ 1.6 × one. BENCHMARKS.md records the numbers. Speed is measured here, never in
timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
WINDOWS = {"full": (None, None), "month": ("2025-03-01", "2025-04-01")}
FRACTIONS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
TARGETS = {"full": 0.75, "month": 0.45, "ray_speedup": 1.6}


def fresh_run(catalog: Path, window: tuple[str | None, str | None]) -> float:
    """Wall time of one ``run_backtest.py`` process."""
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "run_backtest.py", "--mode", "btc_basis", "--out", out]
        argv += ["--catalog", str(catalog), "--use-existing-catalog"]
        if window[0]:
            argv += ["--start", window[0], "--end", window[1]]
        started = time.perf_counter()
        subprocess.run(argv, cwd=PROJECT, check=True, capture_output=True)
        return time.perf_counter() - started


REUSE_CHILD = r"""
import gc, json, sys, time
from pathlib import Path
from backtesting.config import mode_file_path
from research.sweep.tasks import RunTask, Window
from research.sweep.worker import SweepWorker

catalog, start, end, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fractions = json.loads(sys.argv[5])
base = mode_file_path("btc_basis")
if start == "-":
    from backtesting.config import load_run_config
    run = load_run_config(base)
    start, end = run.start.isoformat(), run.end.isoformat()
worker = SweepWorker(catalog)
times, objects = [], []
for i in range(runs):
    params = {"strategy.perp_margin_fraction": fractions[i % len(fractions)]}
    task = RunTask.of("btc_basis", base, None, params, Window(start, end), "history")
    started = time.perf_counter()
    row = worker.run(task)
    times.append(time.perf_counter() - started)
    assert row["status"] == "ok", row["error"]
    gc.collect()
    objects.append(len(gc.get_objects()))
print(json.dumps({"times": times, "objects": objects, "reads": worker.reads}))
"""


def reuse_runs(catalog: Path, window: tuple[str | None, str | None], runs: int) -> dict[str, Any]:
    """Per-run times of one worker process running ``runs`` runs (its start-up excluded)."""
    argv = [sys.executable, "-c", REUSE_CHILD, str(catalog), window[0] or "-", window[1] or "-", str(runs)]
    argv.append(json.dumps(FRACTIONS))
    done = subprocess.run(argv, cwd=PROJECT, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    times = result["times"]
    warm = times[1:]
    return {
        "first_s": times[0],
        "median_s": statistics.median(warm),
        "first5_mean_s": statistics.mean(warm[:5]),
        "last5_mean_s": statistics.mean(warm[-5:]),
        "objects_after_run2": result["objects"][1],
        "objects_after_last": result["objects"][-1],
        "catalog_reads": result["reads"],
        "runs": runs,
    }


def ray_sweep(catalog: Path, workers: int, runs: int, window: str) -> dict[str, float]:
    """Wall time of a ``runs``-run btc_basis sweep on embedded Ray with ``workers`` workers."""
    from research.sweep.config import load_sweep
    from research.sweep.driver import run_sweep
    from research.sweep.pool import make_pool

    start, end = WINDOWS[window]
    values = [round(0.12 + 0.3 * i / (runs - 1), 6) for i in range(runs)]
    spec = {"mode": "btc_basis", "parameters": {"strategy.perp_margin_fraction": {"values": values}}}
    if start:
        spec["windows"] = [{"start": start, "end": end}]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(json.dumps(spec))  # JSON is YAML
        sweep = load_sweep(path)
        started = time.perf_counter()
        pool = make_pool(catalog, None, workers, None)  # Ray start-up alone, then closed
        ready = time.perf_counter() - started
        pool.close()
        started = time.perf_counter()
        table = run_sweep(sweep, Path(tmp) / "out", catalog, workers=workers, show_progress=False)
        wall = time.perf_counter() - started
        assert (table.frame["status"] == "ok").all(), table.frame["error"].dropna().tolist()[:1]
    return {"wall_s": wall, "ray_startup_s": ready, "without_startup_s": wall - ready}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, default=PROJECT / "catalog")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per window (median)")
    parser.add_argument("--reuse-runs", type=int, default=20, help="runs of the reusing worker per window")
    parser.add_argument("--ray-runs", type=int, default=40)
    parser.add_argument("--ray-window", choices=list(WINDOWS), default="full")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))
    catalog = args.catalog.resolve()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_at_start": os.getloadavg()[0],
    }
    print(f"1-minute load average at the start: {results['load_at_start']:.2f} (other work skews it all)")
    for name, window in WINDOWS.items():
        fresh = [fresh_run(catalog, window) for _ in range(args.repeat)]
        reuse = reuse_runs(catalog, window, args.reuse_runs)
        ratio = reuse["median_s"] / statistics.median(fresh)
        results[name] = {"fresh_s": fresh, "fresh_median_s": statistics.median(fresh), "reuse": reuse}
        results[name] |= {"ratio": ratio, "target": TARGETS[name], "met": ratio <= TARGETS[name]}
        print(
            f"{name}: fresh process {statistics.median(fresh):.2f} s/run, reusing worker "
            f"{reuse['median_s']:.2f} s/run (first {reuse['first_s']:.2f} s; first five "
            f"{reuse['first5_mean_s']:.2f}, last five {reuse['last5_mean_s']:.2f}; objects "
            f"{reuse['objects_after_run2']} → {reuse['objects_after_last']}) = {ratio:.2f}× "
            f"(target ≤ {TARGETS[name]}×: {'met' if ratio <= TARGETS[name] else 'NOT met'})",
            flush=True,
        )
    if not args.skip_ray:
        one = ray_sweep(catalog, 1, args.ray_runs, args.ray_window)
        two = ray_sweep(catalog, 2, args.ray_runs, args.ray_window)
        speedup = one["wall_s"] / two["wall_s"]
        speedup_running = one["without_startup_s"] / two["without_startup_s"]
        results["ray"] = {"runs": args.ray_runs, "window": args.ray_window, "one": one, "two": two}
        results["ray"] |= {"speedup": speedup, "speedup_without_startup": speedup_running}
        print(
            f"ray: {args.ray_runs} runs ({args.ray_window} window): 1 worker {one['wall_s']:.1f} s, "
            f"2 workers {two['wall_s']:.1f} s = {speedup:.2f}× ({speedup_running:.2f}× without Ray's "
            f"{one['ray_startup_s']:.1f} s start-up; target ≥ {TARGETS['ray_speedup']}×: "
            f"{'met' if speedup >= TARGETS['ray_speedup'] else 'NOT met'})",
            flush=True,
        )
    results["load_at_end"] = os.getloadavg()[0]
    print(f"1-minute load average at the end: {results['load_at_end']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
