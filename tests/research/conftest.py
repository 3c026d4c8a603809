"""Short real runs the report tests read: a basis run (CEX margin, USDT benchmarks), an on-chain
leveraged run (Aave, ETH share class) and a stressed hedged run (both, under eth_crash)."""

from __future__ import annotations

import html
import io
import re
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from backtesting import cli

RUNS = {
    "basis": ("btc_basis", "2024-06-01", "2024-06-08", None),
    "leveraged": ("eth_leveraged", "2024-06-01", "2024-06-08", None),
    "stressed": ("usdt_eth_staking_hedged_leveraged", "2024-08-03", "2024-08-08", "eth_crash"),
}


@dataclass(frozen=True)
class ShortRuns:
    folders: dict[str, Path]
    stdout: dict[str, str]
    """What each ``run_backtest.py`` printed."""


@pytest.fixture(scope="session")
def short_runs(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ShortRuns:
    """Each run written by ``run_backtest.py``'s own entry point; the basis run with ``--report``."""
    root = tmp_path_factory.mktemp("report_runs")
    folders, stdout = {}, {}
    for name, (mode, start, end, scenario) in RUNS.items():
        out = root / name
        argv = ["--mode", mode, "--start", start, "--end", end, "--out", str(out)]
        argv += ["--catalog", str(catalog_dir), "--use-existing-catalog"]
        argv += ["--scenario", scenario] if scenario else []
        argv += ["--report"] if name == "basis" else []
        printed = io.StringIO()
        with redirect_stdout(printed):
            assert cli.main(argv) == 0
        folders[name], stdout[name] = out, printed.getvalue()
    return ShortRuns(folders, stdout)


def charts(page: str) -> list[str]:
    """The title of every chart on a report page, in order."""
    return [html.unescape(t) for t in re.findall(r'<div class="chart" data-title="([^"]*)">', page)]


def table_cell(page: str, label: str) -> list[str]:
    """The cells of the table row starting with ``label`` (first such row)."""
    row = re.search(rf"<tr><td>{re.escape(html.escape(label))}</td>(.*?)</tr>", page)
    assert row, f"no table row {label!r}"
    return [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row.group(1))]
