"""Command line of ``run_live.py``: paper trading on a replay today; venues arrive later."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backtesting.cli import CLEAR_ERRORS, _prepare_catalog, _prepare_predictions
from backtesting.config import load_run_config, mode_file_path
from backtesting.modes import MODES
from live.runner import PaperRunInterrupted, run_paper

LIVE_ENVS = ("testnet", "mainnet")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_live.py",
        description="Run a mode in a live Nautilus TradingNode. --env paper replays the catalog's history "
        "through the node with the project's venue simulations as execution.",
    )
    parser.add_argument("--mode", required=True, help=f"one of: {', '.join(MODES)}")
    parser.add_argument("--env", choices=("paper", *LIVE_ENVS), default="paper")
    parser.add_argument("--config", type=Path, help="mode YAML (default: configs/modes/<mode>.yaml)")
    parser.add_argument("--start", help="first day of the replay, UTC, e.g. 2024-05-12")
    parser.add_argument("--end", help="last instant of the replay, UTC, e.g. 2025-09-18")
    parser.add_argument("--capital", type=float, help="starting capital in the share-class currency")
    parser.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default ./results)"
    )
    parser.add_argument(
        "--speed", type=float, default=0.0, help="N x real time (default 0: as fast as it goes)"
    )
    parser.add_argument(
        "--catalog", type=Path, help="catalog directory (default $BASIS_CATALOG_DIR or ./catalog)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="raw history (default $BASIS_DATA_DIR, ./data, ../shared/data)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.mode not in MODES:
        print(f"error: unknown mode {args.mode!r}; available: {', '.join(MODES)}", file=sys.stderr)
        return 2
    if args.env in LIVE_ENVS:
        print(
            f"error: --env {args.env}: the venue connections (Binance, Bybit, OKX and the chain) arrive with "
            "the next issues; run the same strategy today with --env paper",
            file=sys.stderr,
        )
        return 2
    if args.speed < 0:
        print(f"error: --speed must be >= 0, got {args.speed}", file=sys.stderr)
        return 2
    try:
        run = load_run_config(
            args.config or mode_file_path(args.mode), start=args.start, end=args.end, capital=args.capital
        )
        catalog_dir = _prepare_catalog(args)
        _prepare_predictions([run], catalog_dir)
        result = run_paper(
            run, catalog_dir, args.out, progress=lambda m: print(m, flush=True), speed=args.speed
        )
    except PaperRunInterrupted as e:
        print(f"error: {e}", file=sys.stderr)
        return 130
    except CLEAR_ERRORS as e:  # exactly as run_backtest.py
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"{run.mode} (paper): results in {args.out} ({result.seconds:.1f} s): APY {s['apy']:+.2%}, "
        f"final NAV {s['final_nav']:,.2f} {s['share_class']}, "
        f"reconciliation error {s['reconciliation_error']:.1e}"
    )
    return 0
