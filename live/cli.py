"""Command line of ``run_live.py``: paper trading on a replay today; venues arrive later."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backtesting.cli import CLEAR_ERRORS, add_run_arguments, load_runs, prepare_catalog, prepare_predictions
from backtesting.modes import MODES
from backtesting.out_dir import check_out_dir, staged_out_dir
from data_catalog.interrupt import cleanup_on_sigterm
from live.checkpoint import CheckpointError
from live.journal import JournalMismatch
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
    parser.add_argument(
        "--speed", type=float, default=0.0, help="N x real time (default 0: as fast as the node consumes it)"
    )
    parser.add_argument(
        "--log-level", default="ERROR", help="the node's log level (Nautilus: DEBUG, INFO, WARNING, ERROR)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="where a stopped run saves its state (default: beside --out, named OUT.state)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="carry on a stopped run from its saved state (same mode, window, capital and config)",
    )
    add_run_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    cleanup_on_sigterm()
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
    state_dir = args.state or args.out.with_name(args.out.name + ".state")
    try:
        (run,) = load_runs(args, [args.mode])
        check_out_dir(args.out, overwrite=args.overwrite)
        catalog_dir = prepare_catalog(args)
        prepare_predictions([run], catalog_dir)
        with staged_out_dir(args.out) as staging:
            result = run_paper(
                run,
                catalog_dir,
                staging,
                progress=lambda m: print(m, flush=True),
                speed=args.speed,
                log_level=args.log_level,
                state_dir=state_dir,
                resume=args.resume,
            )
    except (PaperRunInterrupted, KeyboardInterrupt) as e:  # during the replay, or before it started
        saved = getattr(e, "state_dir", None)
        print(f"error: {args.mode}: paper run interrupted; no results written to {args.out}", file=sys.stderr)
        if saved is not None:
            print(
                f"state saved in {saved}: carry on with the same command and --resume",
                file=sys.stderr,
            )
        return 130
    except (*CLEAR_ERRORS, CheckpointError, JournalMismatch) as e:  # as run_backtest.py
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"{run.mode} (paper): results in {args.out} ({result.seconds:.1f} s): APY {s['apy']:+.2%}, "
        f"final NAV {s['final_nav']:,.2f} {s['share_class']}, "
        f"reconciliation error {s['reconciliation_error']:.1e}"
    )
    return 0
