#!/usr/bin/env python3
"""Paper mode against the backtest: one mode over its full window, both through the real path.

Usage::

    .venv/bin/python benchmarks/bench_paper.py [--catalog DIR] [--mode btc_basis] [--repeat N] [--json OUT]

Each measurement runs in a fresh subprocess (``bench_basis.py``'s children): ``run_backtest``
(row b of ``bench_basis.py``) and ``run_paper`` (a live ``TradingNode`` fed by a replay as fast
as it consumes it, the project's venue simulations behind live execution clients), same mode,
same window, same catalog. The target is paper ≤ 3× the backtest's whole wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench_basis import (
    MODE,
    catalog_for,
    machine_facts,
    measure,
    print_machine,
    run_shape,
    verdict,
)

TARGET_RATIO = 3.0
"""Paper wall time ÷ backtest wall time, full window."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, help="built catalog (default: build a fresh one first)")
    parser.add_argument("--mode", default=MODE, help=f"mode to measure (default {MODE})")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; medians are shown")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_facts()
    print_machine(machine)
    with tempfile.TemporaryDirectory(prefix="bench-paper-") as tmp:
        catalog = catalog_for(args.catalog, tmp)
        shape = run_shape(catalog, args.mode)
        print(f"{args.mode}: {shape.start} → {shape.end}")
        child_args = {**asdict(shape), "catalog": str(catalog)}
        backtest, backtest_runs = measure("mode", child_args, args.repeat, "backtest")
        paper, paper_runs = measure("paper", child_args, args.repeat, "paper")
    ratio = paper["wall_s"] / backtest["wall_s"]
    same_nav = paper["final_nav"] == backtest["final_nav"]
    print()
    print(f"{'':<10}{'wall s':>8}{'RSS MB':>8}{'final NAV':>16}")
    for name, r in (("backtest", backtest), ("paper", paper)):
        print(f"{name:<10}{r['wall_s']:>8.2f}{r['peak_rss_mb']:>8.0f}{r['final_nav']:>16,.4f}")
    print(
        f"paper ÷ backtest: {ratio:.2f}x (target ≤ {TARGET_RATIO:.0f}x: "
        f"{verdict(ratio, TARGET_RATIO)}); final NAV identical: {same_nav}"
    )
    if args.json:
        payload = {
            "machine": machine,
            "mode": args.mode,
            "window": {"start": shape.start, "end": shape.end},
            "backtest": backtest,
            "paper": paper,
            "runs": {"backtest": backtest_runs, "paper": paper_runs},
            "ratio": ratio,
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
