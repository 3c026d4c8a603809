"""``python -m signals build [--catalog DIR] [--config FILE]``: train walk-forward, write predictions.

Prints one line per training window and a summary; exits 2 with a clear message when the config
is invalid or the catalog lacks the bars and funding the signals need.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.config import ConfigError
from data_catalog.paths import default_catalog_dir
from signals.config import DEFAULT_CONFIG, load_signal_config
from signals.evaluation import EVALUATION_MD
from signals.inputs import SignalDataError
from signals.paths import signals_dir
from signals.store import build_predictions


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
        f"Report: {signals_dir(catalog_dir, config.instrument_id) / EVALUATION_MD}",
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
