"""Command line of ``run_backtest.py``: one mode or all of them, into a results folder."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from adapters.config import VENUE_CONFIG_DIR, ConfigError
from backtesting.config import RunConfig, load_run_config, mode_file_path
from backtesting.modes import MODES
from backtesting.out_dir import OutDirError, check_out_dir, staged_out_dir
from backtesting.runner import run_backtest
from data_catalog.builder import build_catalog
from data_catalog.interrupt import cleanup_on_sigterm
from data_catalog.manifest import MANIFEST_FILE, WindowOutsideDataError
from data_catalog.paths import DataNotFoundError, default_catalog_dir, resolve_data_dir
from data_catalog.series import BuildError
from research.report import REPORT_FILE, write_report
from scenarios.config import Scenario, load_scenario
from signals.inputs import SignalDataError
from signals.store import build_predictions, has_predictions

SUMMARY_COLUMNS = (
    ("mode", "{}", 26),
    ("share_class", "{}", 5),
    ("apy", "{:+.2%}", 9),
    ("total_return", "{:+.2%}", 9),
    ("annual_volatility", "{:.2%}", 8),
    ("sharpe", "{:.2f}", 7),
    ("max_drawdown", "{:.2%}", 8),
    ("final_nav", "{:,.2f}", 14),
    ("reconciliation_error", "{:.1e}", 9),
    ("liquidations", "{}", 5),
)
HEADERS = ("mode", "class", "APY", "return", "vol", "Sharpe", "max DD", "final NAV", "recon err", "liqs")


CLEAR_ERRORS = (
    OutDirError,
    ConfigError,
    DataNotFoundError,
    WindowOutsideDataError,
    BuildError,
    FileNotFoundError,
    SignalDataError,
)
"""Bad input the user can fix: printed as one line, exit 2."""


def _capital(text: str) -> float:
    """``--capital``: a finite positive amount (argparse names the flag in its error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite positive amount, got {text!r}")
    return value


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every run command shares (``run_backtest.py`` and ``run_live.py --env paper``)."""
    parser.add_argument("--config", type=Path, help="mode YAML (default: configs/modes/<mode>.yaml)")
    parser.add_argument("--start", help="first day, UTC (overrides the YAML), e.g. 2024-05-12")
    parser.add_argument("--end", help="last instant, UTC (overrides the YAML), e.g. 2025-09-18")
    parser.add_argument(
        "--capital",
        type=_capital,
        help="starting capital in the share-class currency (with --mode all: for the USDT modes only)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default ./results)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing non-empty --out folder whole"
    )
    parser.add_argument(
        "--venue-config",
        type=Path,
        default=VENUE_CONFIG_DIR,
        help="folder of venue YAMLs (fees, margin, account_mode classic|unified; live: endpoint "
        "overrides) (default configs/venues)",
    )
    parser.add_argument(
        "--catalog", type=Path, help="catalog directory (default $BASIS_CATALOG_DIR or ./catalog)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="raw history (default $BASIS_DATA_DIR, ./data, ../shared/data)"
    )
    parser.add_argument(
        "--use-existing-catalog",
        action="store_true",
        help="run on the built catalog as is, without raw history (no check that it is up to date)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_backtest.py", description="Backtest a yield mode on real history."
    )
    modes = "; ".join(f"{name}: {spec.description}" for name, spec in MODES.items())
    parser.add_argument("--mode", required=True, help=f"a mode, or 'all' ({modes})")
    parser.add_argument(
        "--scenario",
        help="stress scenario applied to the data in memory: a name in configs/scenarios or a YAML path",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write report.html into the results folder (the research report: attribution over "
        "time, net delta, margin ratios, Aave health, benchmarks; ~0.5 s and ~7 MB for a full window)",
    )
    add_run_arguments(parser)
    return parser


def prepare_catalog(args: argparse.Namespace) -> Path:
    """Make sure the catalog exists and matches the raw files (built on first use); with
    ``--use-existing-catalog`` the built one is used as is and raw history is not looked for."""
    catalog_dir = (args.catalog or default_catalog_dir()).resolve()
    if args.use_existing_catalog:
        if not (catalog_dir / MANIFEST_FILE).is_file():
            raise ConfigError(
                f"--use-existing-catalog: {catalog_dir} is not a built catalog (no {MANIFEST_FILE})"
            )
        print(f"note: using the existing catalog {catalog_dir} as is (--use-existing-catalog)", flush=True)
        return catalog_dir
    try:
        data_dir = resolve_data_dir(args.data_dir)
    except DataNotFoundError as e:
        if (catalog_dir / MANIFEST_FILE).is_file():
            raise DataNotFoundError(
                f"{e}\nTo run on the already built catalog {catalog_dir} without raw history, "
                "pass --use-existing-catalog."
            ) from None
        raise
    build_catalog(data_dir, catalog_dir, progress=lambda m: print(m, flush=True))
    return catalog_dir


def load_runs(args: argparse.Namespace, modes: list[str]) -> list[RunConfig]:
    """Every run's validated config; a ``--config`` must be for the ``--mode`` asked for."""
    scenario = load_scenario(args.scenario) if getattr(args, "scenario", None) else None
    runs = []
    for mode in modes:
        custom = args.config is not None and len(modes) == 1
        run = load_run_config(
            args.config if custom else mode_file_path(mode),
            start=args.start,
            end=args.end,
            capital=args.capital if len(modes) == 1 or MODES[mode].share_class == "USDT" else None,
            venue_config_dir=args.venue_config,
            scenario=scenario,
        )
        if run.mode != mode:
            raise ConfigError(f"--config {args.config} is for mode {run.mode!r}, but --mode is {mode!r}")
        runs.append(run)
    return runs


def prepare_predictions(runs: list, catalog_dir: Path) -> None:
    """Build the signal model's predictions when a mode trades them and the catalog lacks them
    (or they were built from older catalog data): ``python -m signals build`` does the same."""
    needed = {str(i) for run in runs for i in run.spec.strategy(run.strategy).data_needs().predictions}
    for instrument_id in sorted(needed):
        if not has_predictions(catalog_dir, instrument_id):
            print(f"building model predictions for {instrument_id} (walk-forward)…", flush=True)
            build_predictions(catalog_dir, progress=lambda m: print(m, flush=True))


def _row(summary: dict) -> str:
    cells = []
    for key, fmt, width in SUMMARY_COLUMNS:
        value = summary.get(key)
        cells.append(("-" if value is None else fmt.format(value)).rjust(width))
    return " ".join(cells)


def _table(summaries: list[dict]) -> str:
    header = " ".join(h.rjust(w) for h, (_, _, w) in zip(HEADERS, SUMMARY_COLUMNS, strict=True))
    return "\n".join([header, "-" * len(header), *(_row(s) for s in summaries)])


def _run_all(args: argparse.Namespace, runs: list[RunConfig], catalog_dir: Path) -> list[dict]:
    """Run every mode into a staging folder beside ``--out``, moved into place once all are written."""
    summaries = []
    with staged_out_dir(args.out) as staging:
        for run in runs:
            sub = Path(run.mode) if len(runs) > 1 else Path()
            result = run_backtest(run, catalog_dir, staging / sub, progress=lambda m: print(m, flush=True))
            if args.report:
                write_report([staging / sub], staging / sub / REPORT_FILE)
            summaries.append(result.summary)
            print(f"{run.mode}: done ({result.seconds:.1f} s)", flush=True)
            if result.summary["not_deployed"]:
                print(f"  note: {result.summary['not_deployed']}")
            for warning in result.summary["data_warnings"]:
                print(f"  data: {warning}")
            for warning in result.summary["model_warnings"]:
                print(f"  model: {warning}")
    for run in runs:
        folder = args.out / run.mode if len(runs) > 1 else args.out
        print(f"{run.mode}: results in {folder}")
        if args.report:
            print(f"{run.mode}: report {folder / REPORT_FILE}")
    if not args.report:
        folders = args.out / "*" if len(runs) > 1 else args.out
        print(f"report: python -m research report {folders} (or run with --report)")
    return summaries


def main(argv: list[str] | None = None) -> int:
    cleanup_on_sigterm()
    args = _parser().parse_args(argv)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    if args.mode != "all" and args.mode not in MODES:
        print(f"error: unknown mode {args.mode!r}; available: {', '.join(MODES)}, all", file=sys.stderr)
        return 2
    try:
        runs = load_runs(args, modes)
        check_out_dir(args.out, overwrite=args.overwrite)
        if len(modes) > 1 and args.capital is not None:
            kept = [f"{r.mode} {r.file.capital:g} {r.share_class}" for r in runs if r.share_class != "USDT"]
            print(f"note: --capital applies to the USDT modes; kept from their YAML: {', '.join(kept)}")
        catalog_dir = prepare_catalog(args)
        prepare_predictions(runs, catalog_dir)
        summaries = _run_all(args, runs, catalog_dir)
    except CLEAR_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print()
    if runs[0].scenario is not None:
        print(stressed_banner(runs[0].scenario))
    print(_table(summaries))
    for line in filter(None, map(_comparison, summaries)):
        print(line)
    return 0


def stressed_banner(scenario: Scenario) -> str:
    """The line above a stressed run's results: they are not history."""
    return f"STRESSED: scenario {scenario.name!r} ({scenario.file.description.strip()}) — not history"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"


def _comparison(summary: dict) -> str | None:
    """One line per USDT run: its APY beside sUSDe and Aave USDT lending over the same window."""
    bench = summary.get("benchmarks")
    if not bench:
        return None
    susde, aave = _pct(bench["susde"]["apy_mean"]), _pct(bench["aave_usdt_lending"]["apy"])
    line = f"{summary['mode']}: APY {_pct(summary['apy'])} vs sUSDe {susde}, Aave USDT lending {aave}"
    hedge = summary.get("hedge")
    if hedge:
        line += (
            f"; max |net delta| {hedge['max_abs_delta_fraction']:.2%} of NAV, "
            f"{hedge['margin_top_ups']} margin top-ups, {hedge['margin_releases']} margin releases, "
            f"{hedge['deleverages']} deleverages"
        )
    return line
