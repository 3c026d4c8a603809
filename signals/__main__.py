"""``python -m signals build [--catalog DIR] [--config FILE]``: train walk-forward, write predictions.

Prints one line per training window and a summary; exits 2 with a clear message when the config
is invalid or the catalog lacks the bars and funding the signals need.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from adapters.config import ConfigError
from data_catalog.paths import default_catalog_dir
from signals.config import DEFAULT_CONFIG, load_signal_config
from signals.evaluation import EVALUATION_MD
from signals.inputs import SignalDataError
from signals.paths import saved_model_dir, signals_dir
from signals.saved_model import ModelManifest
from signals.store import build_predictions


def describe_saved(manifest: ModelManifest, folder: Path) -> str:
    """One line on a saved model: which window it serves and when the next fit is due."""
    return (
        f"saved model {manifest.file} for bars from {_day(manifest.window_start_ns)} "
        f"(trained on labels to {_day(manifest.train_end_ns)}; "
        f"next retrain due {_day(manifest.next_window_ns)}) in {folder}"
    )


def _day(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _build(args: argparse.Namespace) -> int:
    catalog_dir = (args.catalog or default_catalog_dir()).resolve()
    try:
        config = load_signal_config(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"catalog: {catalog_dir}\nconfig:  {args.config or DEFAULT_CONFIG}", flush=True)
    try:
        summary = build_predictions(catalog_dir, config, progress=lambda m: print(m, flush=True))
    except SignalDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = summary.evaluation
    confident = ", ".join(f"{k} {v}" for k, v in summary.confident.items())
    print(
        f"wrote {summary.predictions} predictions ({summary.model_version}) from {summary.windows} windows "
        f"in {summary.seconds:.1f} s; confidence >= {config.confidence_threshold}: {confident}\n"
        f"out-of-sample hit rate {_pct(ev['overall']['hit_rate'])} "
        f"({_pct(ev['overall']['confident_hit_rate'])} when confident). "
        f"Report: {signals_dir(catalog_dir, config.instrument_id) / EVALUATION_MD}\n"
        f"{describe_saved(summary.saved_model, saved_model_dir(catalog_dir, config.instrument_id))}",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signals", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train the walk-forward model and write its predictions")
    build.add_argument(
        "--catalog", type=Path, help="catalog directory (default: $BASIS_CATALOG_DIR or ./catalog)"
    )
    build.add_argument("--config", type=Path, help=f"signal config (default: {DEFAULT_CONFIG})")
    build.set_defaults(func=_build)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
