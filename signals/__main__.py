"""``python -m signals build|retrain [--catalog DIR] [--config FILE]``.

``build`` trains walk-forward, writes the predictions and saves the latest window's model; it
prints one line per training window and a summary. ``retrain`` fits and saves the model the
schedule calls for now if it is not the saved one, and says which it did. Both exit 2 with a clear
message when the config is invalid or the catalog lacks the bars and funding the signals need.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from adapters.config import ConfigError
from data_catalog.paths import default_catalog_dir
from signals.config import DEFAULT_CONFIG, SignalConfig, load_signal_config
from signals.evaluation import EVALUATION_MD
from signals.inputs import SignalDataError, load_inputs
from signals.paths import saved_model_dir, signals_dir
from signals.retrain import retrain
from signals.saved_model import ModelManifest, SavedModelError
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


def _setup(args: argparse.Namespace) -> tuple[Path, SignalConfig] | None:
    """The catalog and the config of a command (None after printing the error)."""
    catalog_dir = (args.catalog or default_catalog_dir()).resolve()
    try:
        config = load_signal_config(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    print(f"catalog: {catalog_dir}\nconfig:  {args.config or DEFAULT_CONFIG}", flush=True)
    return catalog_dir, config


def _build(args: argparse.Namespace) -> int:
    setup = _setup(args)
    if setup is None:
        return 2
    catalog_dir, config = setup
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


def _retrain(args: argparse.Namespace) -> int:
    setup = _setup(args)
    if setup is None:
        return 2
    catalog_dir, config = setup
    folder = saved_model_dir(catalog_dir, config.instrument_id)
    try:
        result = retrain(load_inputs(catalog_dir, config), config, folder)
    except (SignalDataError, SavedModelError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    due = _day(result.due_start_ns)
    if result.fitted:
        print(f"retrained for the window from {due}: {describe_saved(result.manifest, folder)}")
    else:
        print(f"nothing due: the saved model {result.manifest.file} is the one for the window from {due}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signals", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        "build": ("train the walk-forward model, write its predictions and save the latest model", _build),
        "retrain": (
            "fit and save the model the retrain schedule calls for now, if it is not saved",
            _retrain,
        ),
    }
    for name, (help_text, func) in commands.items():
        command = sub.add_parser(name, help=help_text)
        command.add_argument(
            "--catalog", type=Path, help="catalog directory (default: $BASIS_CATALOG_DIR or ./catalog)"
        )
        command.add_argument("--config", type=Path, help=f"signal config (default: {DEFAULT_CONFIG})")
        command.set_defaults(func=func)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
