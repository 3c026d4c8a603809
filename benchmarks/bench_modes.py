#!/usr/bin/env python3
"""Speed and memory of every mode over its full window, through the project's real path.

Usage::

    .venv/bin/python benchmarks/bench_modes.py [--catalog DIR] [--modes a,b] [--repeat N]
                                               [--json OUT] [--profile N] [--breakdown]

For each mode (default: every registered mode), in a fresh subprocess per run: ``load_run_config``
over the widest window the catalog allows for the series the mode needs, then ``run_backtest``
into a temp results folder; ``build_backtest`` and ``engine.run`` timed apart, peak RSS of the
child. The measurement itself is ``bench_basis.py``'s row b (same child, same window rule);
``--profile N`` adds cProfile's top N functions of one run of each mode and ``--breakdown`` the
project's callbacks timed inside one run of each. BENCHMARKS.md explains the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench_basis import (
    TARGET_BASIS_S,
    Result,
    catalog_for,
    fmt,
    machine_facts,
    measure,
    print_breakdown,
    print_machine,
    print_profile,
    run_child,
    run_shape,
    verdict,
    warn_if_busy_at_end,
    window_limits,
)

TARGET_MODE_S = TARGET_BASIS_S
"""Every mode over its full window, whole ``run_backtest``."""


def ensure_predictions(catalog: Path, modes: list[str]) -> None:
    """The ML modes trade the signal model's predictions: build them first when missing (not
    timed here; ``bench_signals.py`` measures the build)."""
    from backtesting.config import load_run_config, mode_file_path
    from signals.store import build_predictions, has_predictions

    for mode in modes:
        run = load_run_config(mode_file_path(mode))
        for instrument_id in run.spec.strategy(run.strategy).data_needs().predictions:
            if not has_predictions(catalog, str(instrument_id)):
                print(f"  building predictions for {instrument_id} …", flush=True)
                build_predictions(catalog)


def all_modes() -> list[str]:
    from backtesting.modes import MODES

    return list(MODES)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, help="built catalog (default: build a fresh one first)")
    parser.add_argument("--modes", help="comma-separated modes (default: every registered mode)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode; medians are shown")
    parser.add_argument("--json", type=Path, help="write every number (medians and each run) here")
    parser.add_argument("--profile", type=int, metavar="N", help="also cProfile one run of each mode, top N")
    parser.add_argument("--breakdown", action="store_true", help="also time the callbacks in one run of each")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    known = all_modes()
    args.modes = args.modes.split(",") if args.modes else known
    unknown = [m for m in args.modes if m not in known]
    if unknown:
        parser.error(f"unknown modes {unknown}; known: {', '.join(known)}")
    return args


def hours(shape: Any) -> int:
    import pandas as pd

    return int((pd.Timestamp(shape.end) - pd.Timestamp(shape.start)) / pd.Timedelta(hours=1))


def table(results: dict[str, Result]) -> str:
    head = f"{'mode':<19}{'wall s':>7}{'build s':>8}{'run s':>7}{'results s':>10}{'events':>9}"
    head += f"{'events/s':>10}{'NAV rows':>9}{'RSS MB':>7}{'proc s':>7}  target"
    rows = [head, "-" * (len(head) + 14)]
    for mode, r in results.items():
        rate = r["data_points"] / r["engine_run_s"]
        rows.append(
            f"{mode:<19}{r['wall_s']:>7.2f}{r['build_s']:>8.2f}{r['engine_run_s']:>7.2f}"
            f"{r['results_s']:>10.2f}{r['data_points']:>9,}{rate:>10,.0f}{r['nav_samples']:>9,}"
            f"{r['peak_rss_mb']:>7.0f}{r['process_s']:>7.1f}  < {TARGET_MODE_S:.0f} s: "
            f"{verdict(r['wall_s'], TARGET_MODE_S)}"
        )
    return "\n".join(rows)


def benchmark(args: argparse.Namespace) -> int:
    machine = machine_facts()
    print_machine(machine)
    results: dict[str, Result] = {}
    runs: dict[str, list[Result]] = {}
    windows: dict[str, dict[str, Any]] = {}
    profiles: dict[str, Result] = {}
    breakdowns: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="bench-modes-") as tmp:
        catalog = catalog_for(args.catalog, tmp)
        print(f"catalog: {catalog}")
        ensure_predictions(catalog, args.modes)
        for mode in args.modes:
            shape = run_shape(catalog, mode)
            limits = "; ".join(window_limits(catalog, shape))
            windows[mode] = {"start": shape.start, "end": shape.end, "hours": hours(shape), "limits": limits}
            print(f"{mode}: {shape.start} → {shape.end}, {hours(shape):,} h ({limits})")
            child_args = {**asdict(shape), "catalog": str(catalog)}
            results[mode], runs[mode] = measure("mode", child_args, args.repeat, mode)
            if args.profile:
                profiles[mode] = run_child("profile", {**child_args, "top": args.profile})
            if args.breakdown:
                breakdowns[mode] = run_child("breakdown", child_args)
    load_end = warn_if_busy_at_end()
    print()
    print(table(results))
    print(
        "\nevents = data points added to the engine (bars, funding prints, gas samples, Aave reserve "
        "snapshots, reward payouts);\nevents/s = events ÷ run s; NAV rows = hourly accounting samples "
        "(timer events, not counted); proc s = the whole child, interpreter start and imports included."
    )
    for mode, r in results.items():
        nav = fmt(r.get("final_nav"), ",.2f")
        apy = fmt(r.get("apy"), ".2%") if r.get("apy") is not None else "-"
        actions = {k: v for k, v in r["actions"].items() if v}
        print(f"  {mode}: final NAV {nav}, APY {apy}, rejections {r.get('rejections')}, actions {actions}")
    for mode, breakdown in breakdowns.items():
        print_breakdown(breakdown, mode=mode)
    for mode, profile in profiles.items():
        print_profile(profile, mode)
    if args.json:
        payload = {
            "machine": machine,
            "repeat": args.repeat,
            "catalog": str(catalog),
            "target_s": TARGET_MODE_S,
            "windows": windows,
            "modes": results,
            "runs": runs,
            "profiles": profiles or None,
            "breakdowns": breakdowns or None,
            "load_average_1m_end": load_end,
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return benchmark(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
