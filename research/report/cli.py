"""``python -m research report DIR [DIR ...] [--out FILE]``: one self-contained HTML page for
run folders (one run, or several compared) and sweep folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from research.report import page
from research.report.run_folder import ReportInputError, is_run_folder, read_run_folder, stressed_title
from research.report.run_section import run_section
from research.report.sweep_section import sweep_section
from research.report.sweep_table import METRICS, is_sweep_folder, read_sweep_table

REPORT_FILE = "report.html"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m research report",
        description="One self-contained HTML page (plotly inlined, opens offline) for run folders "
        "written by run_backtest.py and sweep folders written by `python -m research sweep`.",
    )
    parser.add_argument(
        "dirs", nargs="+", type=Path, help="run folders (compared when several) and sweep folders"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"the HTML file (default: DIR/{REPORT_FILE} for one folder, ./{REPORT_FILE} for several)",
    )
    parser.add_argument(
        "--metric", choices=METRICS, default="apy", help="sweeps: the metric mapped and ranked (default apy)"
    )
    parser.add_argument("--top", type=int, default=5, help="sweeps: how many top configurations (default 5)")
    return parser


def render_report(dirs: list[Path], metric: str = "apy", top: int = 5) -> str:
    """The page for ``dirs``; raises :class:`ReportInputError` for a folder it cannot read."""
    runs, sweeps = [], []
    for folder in dirs:
        if not folder.exists():
            raise ReportInputError(f"{folder}: no such folder")
        if is_run_folder(folder):
            runs.append(read_run_folder(folder))
        elif is_sweep_folder(folder):
            sweeps.append(read_sweep_table(folder))
        else:
            raise ReportInputError(
                f"{folder}: neither a run folder (no summary.json) nor a sweep folder (no *.parquet table)"
            )
    parts = run_section(runs) if runs else []
    for sweep in sweeps:
        parts += sweep_section(sweep, metric, top)
    scenarios = [r.scenario for r in runs] + [s for sweep in sweeps for s in sweep.scenarios()]
    if len(runs) == 1 and not sweeps:
        title = runs[0].title
    else:
        title = "Research report: " + ", ".join(d.name for d in dirs)
    return page.document(stressed_title(title, scenarios), parts)


def write_report(dirs: list[Path], out: Path, metric: str = "apy", top: int = 5) -> Path:
    """Render the page for ``dirs`` into ``out``."""
    text = render_report(dirs, metric, top)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as e:
        raise ReportInputError(f"--out {out}: cannot write ({e.strerror})") from None
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.top < 1:
        print(f"error: --top must be at least 1, got {args.top}", file=sys.stderr)
        return 2
    out = args.out or (args.dirs[0] / REPORT_FILE if len(args.dirs) == 1 else Path(REPORT_FILE))
    try:
        write_report(args.dirs, out, args.metric, args.top)
    except ReportInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"report: {out}")
    return 0
