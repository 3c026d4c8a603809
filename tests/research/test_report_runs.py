"""The report of real (short) runs: the panels a quant asks for, the run's own numbers, stressed
runs labelled on every chart, and a clear error for a folder it cannot read."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from data_catalog.protocol_data import read_aave_params
from portfolio.attribution import CATEGORIES
from portfolio.tearsheet import money
from research import report
from research.report.run_figures import aave_figure, margin_figure
from research.report.run_folder import read_run_folder
from tests.research.conftest import charts, table_cell

pytestmark = pytest.mark.integration


def _page(tmp_path: Path, *folders: Path) -> str:
    out = tmp_path / "report.html"
    assert report.main([*map(str, folders), "--out", str(out)]) == 0
    return out.read_text()


def test_run_backtest_writes_the_report_with_report_and_names_the_command_without(short_runs):
    basis, stressed = short_runs.folders["basis"], short_runs.folders["stressed"]
    assert (basis / "report.html").is_file()
    assert f"btc_basis: report {basis / 'report.html'}" in short_runs.stdout["basis"]
    assert not (stressed / "report.html").exists()
    assert f"report: python -m research report {stressed}" in short_runs.stdout["stressed"]


def test_a_basis_run_has_its_panels_and_its_files_numbers(short_runs, tmp_path):
    folder = short_runs.folders["basis"]
    page = _page(tmp_path, folder)
    titles = charts(page)
    window = "btc_basis (USDT) 2024-06-01 → 2024-06-08"
    assert titles == [
        f"NAV — {window}",
        f"Attribution over time — {window}",
        "Net delta / NAV (against the share-class currency)",
        "Margin ratio per venue vs liquidation",
        "Against sUSDe and Aave USDT lending, same window",
    ]
    assert "No Aave borrowing in this run" in page
    assert "STRESSED" not in page

    nav = pd.read_csv(folder / "nav.csv", index_col=0)
    attribution = pd.read_csv(folder / "attribution.csv", index_col=0)
    assert table_cell(page, "Final NAV") == [money(nav["nav"].iloc[-1])]
    assert table_cell(page, "Initial NAV") == [money(nav["nav"].iloc[0])]
    used = [c for c in CATEGORIES if attribution[c].abs().sum() > 0]
    assert {"funding", "trading_fees"} <= set(used)
    for category in used:
        assert table_cell(page, category) == [money(attribution[category].sum())]
    assert table_cell(page, "total attributed") == [money(attribution[list(CATEGORIES)].sum().sum())]
    summary = json.loads((folder / "summary.json").read_text())
    assert table_cell(page, "APY") == [f"{summary['apy']:+.2%}"]


def test_the_page_needs_no_network(short_runs, tmp_path):
    page = _page(tmp_path, short_runs.folders["basis"])
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']?https?:""", page)
    assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.js itself is inlined


def test_margin_ratios_are_the_runs_per_venue_with_the_liquidation_level(short_runs):
    run = read_run_folder(short_runs.folders["basis"])
    fig = margin_figure([run])
    nav = pd.read_csv(run.path / "nav.csv", index_col=0)
    assert [t.name for t in fig.data] == ["BINANCE", "BYBIT", "OKX"]
    for trace in fig.data:
        ratio = nav[f"margin_ratio_{trace.name.lower()}"]
        held = ratio > 0
        assert list(pd.Series(trace.y).notna()) == list(held)
        assert pd.Series(trace.y)[held.to_numpy()].to_numpy() == pytest.approx(ratio[held].to_numpy())
    (liquidation,) = fig.layout.shapes
    assert (liquidation.y0, liquidation.y1) == (1.0, 1.0)


def test_a_leveraged_run_shows_health_factor_and_ltv_against_the_emode_threshold(
    short_runs, catalog_dir, tmp_path
):
    folder = short_runs.folders["leveraged"]
    page = _page(tmp_path, folder)
    assert "Aave health factor and LTV" in charts(page)
    assert "No CEX perp position in this run" in page
    assert "No benchmark curves" in page  # an ETH run: sUSDe and Aave USDT are USDT products

    run = read_run_folder(folder)
    nav = pd.read_csv(folder / "nav.csv", index_col=0)
    hf, ltv, liquidation_ltv = aave_figure([run]).data
    assert hf.y == pytest.approx(nav["aave_health_factor"].to_numpy(), nan_ok=True)
    assert ltv.y == pytest.approx(
        nav["aave_ltv"].where(nav["aave_health_factor"].notna()).to_numpy(), nan_ok=True
    )
    # HF × LTV is the collateral's liquidation threshold: the ETH e-mode's, weETH being its only collateral
    threshold = read_aave_params(catalog_dir)["emode"]["liquidation_threshold"]
    borrowed = [v for v in liquidation_ltv.y if not math.isnan(v)]
    assert len(borrowed) > 100 and borrowed == pytest.approx([threshold] * len(borrowed), rel=1e-9)
    assert table_cell(page, "Min Aave health factor") == [f"{nav['aave_health_factor'].min():.3f}"]
    # an ETH book holding its NAV in ETH is neutral against its share class
    assert run.delta_fraction().abs().max() < 0.01


def test_a_stressed_run_is_labelled_on_every_chart_also_beside_history(short_runs, tmp_path):
    stressed = _page(tmp_path, short_runs.folders["stressed"])
    titles = charts(stressed)
    assert len(titles) == 6  # NAV, attribution, delta, margin, Aave, benchmarks
    assert all(t.startswith("STRESSED: eth_crash — ") and t.count("STRESSED") == 1 for t in titles), titles
    assert (
        "<title>STRESSED: eth_crash — usdt_eth_staking_hedged_leveraged (USDT) 2024-08-03 → 2024-08-08<"
        in stressed
    )
    assert 'class="stressed"' in stressed
    assert table_cell(stressed, "Scenario") == ["eth_crash"]

    compared = _page(tmp_path, short_runs.folders["basis"], short_runs.folders["stressed"])
    titles = charts(compared)
    assert "Attribution by category over the window" in " ".join(titles)
    history_only = [t for t in titles if not t.startswith("STRESSED: eth_crash — ")]
    assert history_only == ["Attribution over time — btc_basis (USDT) 2024-06-01 → 2024-06-08"]
    assert table_cell(compared, "Scenario") == ["history", "eth_crash"]


def test_a_comparison_draws_each_run(short_runs, tmp_path):
    folders = [short_runs.folders["basis"], short_runs.folders["leveraged"]]
    page = _page(tmp_path, *folders)
    finals = [money(pd.read_csv(f / "nav.csv")["nav"].iloc[-1]) for f in folders]
    assert table_cell(page, "Final NAV") == finals
    assert table_cell(page, "Share class") == ["USDT", "ETH"]
    titles = charts(page)
    assert titles[0] == "Cumulative return"
    assert sum(t.startswith("Attribution over time") for t in titles) == 2


def _broken(tmp_path: Path, source: Path, name: str, damage) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in ("summary.json", "nav.csv", "attribution.csv"):
        (folder / file).write_bytes((source / file).read_bytes())
    damage(folder)
    return folder


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "nav.csv").unlink(), "no nav.csv (hourly NAV)"),
        (lambda f: (f / "summary.json").write_text("{not json"), "summary.json: not valid JSON"),
        (
            lambda f: (f / "summary.json").write_text('{"mode": "btc_basis"}'),
            "summary.json: missing share_class",
        ),
        (
            lambda f: (f / "attribution.csv").write_text("timestamp,funding\n"),
            "attribution.csv: missing price_pnl",
        ),
    ],
    ids=["no-nav", "bad-json", "incomplete-summary", "attribution-columns"],
)
def test_a_broken_run_folder_is_refused_naming_the_file(short_runs, tmp_path, capsys, damage, message):
    folder = _broken(tmp_path, short_runs.folders["basis"], "broken", damage)
    assert report.main([str(folder), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(folder) in err
    assert not (tmp_path / "r.html").exists()
