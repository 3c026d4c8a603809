"""``python -m research sweep SWEEP.yaml [--address ADDR] [--workers N] [--out DIR] [--keep-runs]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.config import ConfigError
from data_catalog.manifest import MANIFEST_FILE
from data_catalog.paths import default_catalog_dir
from research.sweep.config import load_sweep
from research.sweep.driver import run_sweep
from research.sweep.table import STATUS_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m research sweep",
        description="Run a parameter sweep (grid, random or Optuna; windows × scenarios) on Ray into "
        "OUT/runs.parquet, skipping the runs a previous session finished.",
    )
    parser.add_argument("sweep", type=Path, help="sweep YAML, e.g. configs/sweeps/btc_basis_margin.yaml")
    parser.add_argument(
        "--address", help="an existing Ray cluster (e.g. 10.0.0.5:6379); default: embedded local Ray"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes (default: the machine's cores, or the cluster's CPUs); 0 runs in this "
        "process without Ray (debugging)",
    )
    parser.add_argument("--out", type=Path, help="sweep folder (default results/sweeps/<sweep name>)")
    parser.add_argument(
        "--keep-runs", action="store_true", help="also write each run's results folder to OUT/runs/<key>"
    )
    parser.add_argument(
        "--catalog", type=Path, help="built catalog (default $BASIS_CATALOG_DIR or ./catalog)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.workers is not None and args.workers < 0:
        print(f"error: --workers must be >= 0, got {args.workers}", file=sys.stderr)
        return 2
    catalog = (args.catalog or default_catalog_dir()).resolve()
    try:
        if not (catalog / MANIFEST_FILE).is_file():
            raise ConfigError(
                f"{catalog} is not a built catalog (no {MANIFEST_FILE}): run run_backtest.py once to build it"
            )
        sweep = load_sweep(args.sweep)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = (args.out or Path("results") / "sweeps" / args.sweep.stem).resolve()
    table = run_sweep(
        sweep, out, catalog, workers=args.workers, address=args.address, keep_runs=args.keep_runs
    )
    frame = table.frame
    failed = int((frame["status"] != STATUS_OK).sum()) if not frame.empty else 0
    print(f"sweep: {len(frame)} runs in {out / 'runs.parquet'} ({failed} failed)")
    print(f"report: python -m research report {out}")
    return 1 if failed else 0
