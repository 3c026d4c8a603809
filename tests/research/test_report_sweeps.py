"""The report of a sweep table (the documented columns, written here): heatmaps hold each cell's
mean, the frontier is the set of undominated runs, the top runs are ranked by the metric,
stressed runs are labelled, extra columns are ignored; and unreadable inputs are refused."""

from __future__ import annotations

import html
import itertools
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from research import report
from research.report.sweep_figures import frontier_figure, heatmap_figures
from research.report.sweep_table import read_sweep_table
from tests.research.conftest import charts

FRACTIONS, FLOORS = (0.2, 0.25, 0.3), (0.05, 0.1)
WINDOWS = (("2024-06-01", "2024-09-01"), ("2024-09-01", "2024-12-01"))


def sweep_rows() -> list[dict]:
    """Two parameters × two windows on history, the same grid on one window under eth_crash."""
    rows = []
    for i, (fraction, floor, (start, end), scenario) in enumerate(
        [(f, m, w, None) for f, m, w in itertools.product(FRACTIONS, FLOORS, WINDOWS)]
        + [(f, m, WINDOWS[0], "eth_crash") for f, m in itertools.product(FRACTIONS, FLOORS)]
    ):
        shift = 0.01 if start == WINDOWS[1][0] else 0.0
        stress = -0.03 if scenario else 0.0
        rows.append(
            {
                "key": f"r{i:02d}",
                "status": "ok",
                "error": None,
                "mode": "btc_basis",
                "start": start,
                "end": end,
                "scenario": scenario or "history",
                "param.strategy.perp_margin_fraction": fraction,
                "param.strategy.margin_floor": floor,
                "param.strategy.delta_tolerance": 0.005,  # not swept: one value
                "apy": 0.1 - 0.2 * fraction + 0.3 * floor + shift + stress + 0.001 * (i % 3),
                "max_drawdown": -0.002 - 0.01 * floor - 0.001 * (i % 4) + stress / 3,
                "sharpe": 5 + i % 5,
                "liquidations": 0,
                "attr.funding": 1000.0 + i,
                "wall_seconds": 3.0,
                "worker_host": "node-1",  # a column the report does not know
            }
        )
    return rows


def write_sweep(folder: Path, rows: list[dict]) -> Path:
    """The table in two part files, as a sweep written in parts would leave it."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(folder / "part-0.parquet")
    frame.iloc[half:].to_parquet(folder / "part-1.parquet")
    return folder


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    rows = sweep_rows()
    first_try = {**rows[0], "apy": -5.0}  # a resumed sweep's earlier row for r00, superseded
    failed = {**rows[1], "key": "r99", "status": "error", "error": "ValueError: margin below floor"}
    failed.update(apy=np.nan, max_drawdown=np.nan)
    return write_sweep(tmp_path / "sweep", [first_try, *rows, failed])


def test_the_table_reads_whole_keeping_a_resumed_runs_last_row(sweep_dir):
    sweep = read_sweep_table(sweep_dir)
    expected = pd.DataFrame(sweep_rows())
    assert len(sweep.runs) == len(expected) and list(sweep.failed["key"]) == ["r99"]
    assert sweep.runs.set_index("key")["apy"].sort_index().to_numpy() == pytest.approx(
        expected.set_index("key")["apy"].sort_index().to_numpy()
    )
    assert sweep.params == ["param.strategy.perp_margin_fraction", "param.strategy.margin_floor"]


def test_a_heatmap_cell_is_the_mean_of_its_runs_per_scenario(sweep_dir):
    sweep = read_sweep_table(sweep_dir)
    history, stressed = heatmap_figures(sweep, "apy")
    assert history.layout.title.text == "apy over strategy.perp_margin_fraction × strategy.margin_floor"
    assert (
        stressed.layout.title.text
        == "STRESSED: eth_crash — apy over strategy.perp_margin_fraction × strategy.margin_floor"
    )
    for figure, scenario in ((history, "history"), (stressed, "eth_crash")):
        (heatmap,) = figure.data
        assert list(heatmap.x) == [str(f) for f in FRACTIONS] and list(heatmap.y) == [str(f) for f in FLOORS]
        for (row, floor), (column, fraction) in itertools.product(enumerate(FLOORS), enumerate(FRACTIONS)):
            cell = [
                r["apy"]
                for r in sweep_rows()
                if (r["scenario"], r["param.strategy.margin_floor"], r["param.strategy.perp_margin_fraction"])
                == (scenario, floor, fraction)
            ]
            assert heatmap.z[row][column] == pytest.approx(sum(cell) / len(cell))
            assert heatmap.customdata[row][column] == len(cell)


def test_the_frontier_holds_the_undominated_runs_of_each_scenario(sweep_dir):
    fig = frontier_figure(read_sweep_table(sweep_dir))
    assert fig.layout.title.text.startswith("STRESSED: eth_crash — ")
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {
        "history",
        "frontier — history",
        "STRESSED: eth_crash",
        "frontier — STRESSED: eth_crash",
    }
    for scenario, label in (("history", "history"), ("eth_crash", "STRESSED: eth_crash")):
        runs = [(r["max_drawdown"], r["apy"]) for r in sweep_rows() if r["scenario"] == scenario]
        undominated = {
            (dd, apy)
            for dd, apy in runs
            if not any(d2 >= dd and a2 >= apy and (d2, a2) != (dd, apy) for d2, a2 in runs)
        }
        front = traces[f"frontier — {label}"]
        assert set(zip(front.x, front.y, strict=True)) == undominated
        assert sorted(zip(traces[label].x, traces[label].y, strict=True)) == sorted(runs)


def test_the_page_ranks_the_top_runs_lists_failures_and_labels_stress(sweep_dir, tmp_path):
    out = tmp_path / "sweep.html"
    assert report.main([str(sweep_dir), "--out", str(out), "--metric", "sharpe", "--top", "3"]) == 0
    page = out.read_text()
    titles = charts(page)
    assert titles.count("sharpe over strategy.perp_margin_fraction × strategy.margin_floor") == 1
    assert (
        titles.count(
            "STRESSED: eth_crash — sharpe over strategy.perp_margin_fraction × strategy.margin_floor"
        )
        == 1
    )
    assert "STRESSED: eth_crash — Return against drawdown" in titles
    assert "STRESSED runs in this sweep: eth_crash" in page
    ranked = sorted(sweep_rows(), key=lambda r: -r["sharpe"])  # stable: the table's order among ties
    table = page[page.index("Top 3 by sharpe") :]
    shown = re.findall(r"<tr><td>(r\d\d)</td>", table)[:3]
    assert shown == [r["key"] for r in ranked[:3]]
    assert "were not kept" in page  # no run folder in this sweep
    assert "1 failed runs" in page and html.escape("ValueError: margin below floor") in page
    assert "worker_host" not in page


@pytest.mark.integration
@pytest.mark.parametrize("recorded", [True, False], ids=["run_dir", "runs/<key>"])
def test_the_top_runs_kept_folders_draw_their_nav(short_runs, tmp_path, recorded):
    """Found by the row's ``run_dir`` (absolute, as the sweep records it) or at ``runs/<key>``."""
    rows = sweep_rows()
    best = max(rows, key=lambda r: r["apy"])
    kept = tmp_path / ("kept" if recorded else "sweep/runs") / best["key"]
    shutil.copytree(short_runs.folders["basis"], kept)
    for row in rows:
        row["run_dir"] = str(kept) if recorded and row is best else None
    sweep_dir = write_sweep(tmp_path / "sweep", rows)
    out = tmp_path / "r.html"
    assert report.main([str(sweep_dir), "--out", str(out)]) == 0
    page = out.read_text()
    assert "Top configurations: cumulative return" in charts(page)
    assert f"#1 {best['key']} — btc_basis (USDT) 2024-06-01 → 2024-06-08" in html.unescape(page)
    assert "were not kept" not in page


def test_missing_and_unrecognised_folders_are_refused(tmp_path, capsys):
    assert report.main([str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert report.main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "neither a run folder (no summary.json) nor a sweep folder (no *.parquet table)" in err


def test_a_sweep_table_without_the_required_metrics_or_unreadable_is_refused(tmp_path, capsys):
    write_sweep(tmp_path / "no_apy", [{k: v for k, v in r.items() if k != "apy"} for r in sweep_rows()])
    assert report.main([str(tmp_path / "no_apy")]) == 2
    assert "lacks apy" in capsys.readouterr().err
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "runs.parquet").write_text("not parquet")
    assert report.main([str(tmp_path / "garbled")]) == 2
    assert "unreadable sweep table" in capsys.readouterr().err
