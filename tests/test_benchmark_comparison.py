"""The benchmark comparison of USDT runs: sUSDe's published APY and Aave v3 USDT lending over the
run's window, checked against figures computed here straight from the raw CSVs and against the
numbers DOMAIN.md quotes.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from portfolio.benchmarks import benchmark_comparison, benchmark_curves, tearsheet_lines
from tests.integration.independent_defi import aave_snapshots, liquidity_index

FULL = (pd.Timestamp("2024-05-12T00:00Z"), pd.Timestamp("2025-09-18T00:00Z"))
RECENT = (pd.Timestamp("2025-01-01T00:00Z"), pd.Timestamp("2025-09-01T00:00Z"))


def raw_susde(data_dir: Path) -> dict[date, float]:
    (path,) = sorted(data_dir.glob("benchmarks/ethena_susde_apr_benchmark_*.csv"))
    with path.open(newline="") as f:
        return {date.fromisoformat(r["date"]): float(r["apy_decimal"]) for r in csv.DictReader(f)}


def expected_susde(data_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> tuple[float, float, int]:
    """(mean APY, compounded APY, days) over the calendar days start.date .. end.date."""
    apys = [a for d, a in raw_susde(data_dir).items() if start.date() <= d <= end.date()]
    growth = 1.0
    for a in apys:
        growth *= (1 + a) ** (1 / 365)
    return sum(apys) / len(apys), growth ** (365 / len(apys)) - 1, len(apys)


def expected_aave_usdt(data_dir: Path, start: pd.Timestamp, end: pd.Timestamp) -> float:
    snapshots = aave_snapshots(data_dir, "USDT")
    ratio = liquidity_index(snapshots, end) / liquidity_index(snapshots, start)
    return ratio ** (365 / ((end - start) / pd.Timedelta(days=1))) - 1


@pytest.mark.integration  # the catalog built from the real data set
@pytest.mark.parametrize(
    ("window", "domain_susde", "domain_aave"),
    [(FULL, 0.105, 0.0497), (RECENT, 0.072, 0.0420)],
    ids=["2024-05-12..2025-09-18", "2025-01-01..2025-09-01"],
)
def test_comparison_matches_the_raw_files_and_domain_figures(
    catalog_dir: Path, data_dir: Path, window: tuple[pd.Timestamp, pd.Timestamp], domain_susde, domain_aave
) -> None:
    start, end = window
    mean, compounded, days = expected_susde(data_dir, start, end)
    aave = expected_aave_usdt(data_dir, start, end)

    got = benchmark_comparison(catalog_dir, start, end, 0.08, -0.012)

    susde = got["susde"]
    assert susde["apy_mean"] == pytest.approx(mean, rel=1e-12)
    assert susde["apy_compounded"] == pytest.approx(compounded, rel=1e-9)
    assert (susde["days"], susde["missing_days"]) == (days, 0)
    assert days == (end - start).days + 1  # both end days count
    assert susde["source"] == "Ethena sUSDe, DefiLlama daily APY"
    assert "note" not in susde
    assert got["aave_usdt_lending"]["apy"] == pytest.approx(aave, rel=1e-9)
    assert "note" not in got["aave_usdt_lending"]
    assert got["strategy"] == {"apy": 0.08, "max_drawdown": -0.012}
    assert got["excess_apy_vs_susde"] == pytest.approx(0.08 - mean, rel=1e-12)
    assert got["excess_apy_vs_aave_usdt"] == pytest.approx(0.08 - aave, rel=1e-9)
    assert got["window"] == {"start": start.isoformat(), "end": end.isoformat(), "days": (end - start).days}
    # DOMAIN.md's published figures (rounded there to 0.1 % / 0.01 %)
    assert susde["apy_mean"] == pytest.approx(domain_susde, abs=0.0006)
    assert got["aave_usdt_lending"]["apy"] == pytest.approx(domain_aave, abs=0.0001)
    # the compounded sUSDe APY sits a little under the mean (a geometric mean of 1 + APY)
    assert 0 < susde["apy_mean"] - susde["apy_compounded"] < 0.005


@pytest.mark.integration
def test_intraday_window_accrues_aave_between_snapshots(catalog_dir: Path, data_dir: Path) -> None:
    """Ends between daily snapshots: the index accrues from the latest snapshot (no look-ahead)."""
    start, end = pd.Timestamp("2025-02-03T07:00Z"), pd.Timestamp("2025-06-20T19:30Z")
    snapshots = aave_snapshots(data_dir, "USDT")
    flat = snapshots.loc[:end].iloc[-1]["liquidityIndex"] / snapshots.loc[:start].iloc[-1]["liquidityIndex"]

    got = benchmark_comparison(catalog_dir, start, end, None, None)

    apy = got["aave_usdt_lending"]["apy"]
    assert apy == pytest.approx(expected_aave_usdt(data_dir, start, end), rel=1e-9)
    assert apy != pytest.approx(flat ** (365 / ((end - start) / pd.Timedelta(days=1))) - 1, rel=1e-6)
    assert (got["excess_apy_vs_susde"], got["excess_apy_vs_aave_usdt"]) == (None, None)  # no run APY


@pytest.mark.integration
def test_window_past_the_benchmark_counts_missing_days(catalog_dir: Path, data_dir: Path) -> None:
    """The common non-ML window runs to 2025-09-25; sUSDe's file stops at 2025-09-18."""
    start, end = pd.Timestamp("2024-05-12T00:00Z"), pd.Timestamp("2025-09-25T00:00Z")
    mean, _, days = expected_susde(data_dir, start, end)

    susde = benchmark_comparison(catalog_dir, start, end, 0.05, -0.01)["susde"]

    assert (susde["days"], susde["missing_days"]) == (days, 7)
    assert susde["apy_mean"] == pytest.approx(mean, rel=1e-12)
    assert "7 of the window's 502 days have no sUSDe figure" in susde["note"]


@pytest.mark.integration
def test_window_before_any_data_gives_none_with_notes(catalog_dir: Path) -> None:
    got = benchmark_comparison(
        catalog_dir, pd.Timestamp("2023-01-01"), pd.Timestamp("2023-03-01"), 0.05, -0.01
    )

    assert got["susde"]["apy_mean"] is None and got["susde"]["apy_compounded"] is None
    assert (got["susde"]["days"], got["susde"]["missing_days"]) == (0, 60)
    assert "has no day in 2023-01-01 .. 2023-03-01" in got["susde"]["note"]
    assert got["aave_usdt_lending"]["apy"] is None
    assert (
        "no AUSDT-AAVE.ETHEREUM reserve snapshot at or before 2023-01-01" in got["aave_usdt_lending"]["note"]
    )
    assert (got["excess_apy_vs_susde"], got["excess_apy_vs_aave_usdt"]) == (None, None)
    assert got["window"]["start"] == "2023-01-01T00:00:00+00:00"  # naive times are taken as UTC


def test_catalog_without_benchmark_or_aave_data(tmp_path: Path) -> None:
    got = benchmark_comparison(tmp_path, *RECENT, 0.05, -0.01)

    assert got["susde"]["apy_mean"] is None
    assert "no sUSDe benchmark" in got["susde"]["note"]
    assert got["aave_usdt_lending"]["apy"] is None
    assert "no USDT reserve data at all" in got["aave_usdt_lending"]["note"]


@pytest.mark.parametrize("end", [RECENT[0], RECENT[0] - pd.Timedelta(hours=1)])
def test_empty_or_reversed_window_is_an_error(tmp_path: Path, end: pd.Timestamp) -> None:
    with pytest.raises(ValueError, match="must be after start"):
        benchmark_comparison(tmp_path, RECENT[0], end, 0.05, -0.01)


def test_tearsheet_lines_are_percentages() -> None:
    comparison = {
        "susde": {"apy_mean": 0.104598, "apy_compounded": 0.102761, "days": 495, "missing_days": 7},
        "aave_usdt_lending": {"apy": None},
        "excess_apy_vs_susde": -0.024598,
        "excess_apy_vs_aave_usdt": None,
    }

    assert tearsheet_lines(comparison) == {
        "sUSDe APY (same window, mean of 495 days, 7 missing)": "10.46%",
        "sUSDe APY (same window, compounded)": "10.28%",
        "Aave v3 USDT lending APY (same window)": "n/a",
        "Excess APY vs sUSDe": "-2.46%",
        "Excess APY vs Aave v3 USDT lending": "n/a",
    }
    assert tearsheet_lines(None) == {}


def _run(catalog_dir: Path, out: Path, mode: str, start: pd.Timestamp, end: pd.Timestamp):
    raw = yaml.safe_load(mode_file_path(mode).read_text())
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(raw))
    run = load_run_config(path, start=start.isoformat(), end=end.isoformat())
    return run_backtest(run, catalog_dir, out / "results")


@pytest.mark.integration
def test_usdt_run_reports_benchmarks_in_summary_and_tearsheet(
    catalog_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    """Pure USDT lending is the Aave benchmark itself, less the gas reserve's drag."""
    start, end = RECENT
    result = _run(catalog_dir, tmp_path, "pure_lending_usdt", start, end)
    summary = json.loads((result.out_dir / "summary.json").read_text())
    mean, _, _ = expected_susde(data_dir, start, end)

    bench = summary["benchmarks"]
    assert bench["strategy"] == {"apy": summary["apy"], "max_drawdown": summary["max_drawdown"]}
    assert bench["susde"]["apy_mean"] == pytest.approx(mean, rel=1e-12)
    assert bench["aave_usdt_lending"]["apy"] == pytest.approx(
        expected_aave_usdt(data_dir, start, end), rel=1e-9
    )
    assert bench["excess_apy_vs_susde"] == pytest.approx(summary["apy"] - mean, rel=1e-9)
    assert abs(bench["excess_apy_vs_aave_usdt"]) < 0.002  # a lending-only run earns the lending rate
    html = (result.out_dir / "tearsheet.html").read_text()
    assert "sUSDe APY (same window, mean of 244 days)" in html
    assert f"{mean:.2%}" in html
    assert "Excess APY vs Aave v3 USDT lending" in html


@pytest.mark.integration
def test_eth_share_class_run_has_no_usdt_benchmarks(catalog_dir: Path, tmp_path: Path) -> None:
    start = pd.Timestamp("2025-03-01T00:00Z")
    result = _run(catalog_dir, tmp_path, "pure_lending_eth", start, start + pd.Timedelta(days=7))

    assert result.summary["share_class"] == "ETH"
    assert "benchmarks" not in result.summary
    assert "sUSDe" not in (result.out_dir / "tearsheet.html").read_text()
    assert math.isfinite(result.summary["apy"])


@pytest.mark.integration
def test_benchmark_curves_grow_as_the_raw_files_and_end_at_the_comparisons_figures(
    catalog_dir: Path, data_dir: Path
) -> None:
    """The report's benchmark curves (benchmarks.csv): sUSDe compounded day by day from the raw
    APYs, Aave USDT lending as the raw liquidity index's ratio, each midnight and at both ends."""
    start, end = pd.Timestamp("2025-02-03T07:00Z"), pd.Timestamp("2025-03-10T00:00Z")
    curves = benchmark_curves(catalog_dir, start, end)

    susde = curves["susde"].dropna()
    days = [d for d in sorted(raw_susde(data_dir)) if start.date() <= d <= end.date()]
    growth, expected = 1.0, {start.normalize(): 1.0}
    for day in days:
        growth *= (1 + raw_susde(data_dir)[day]) ** (1 / 365)
        expected[pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)] = growth
    assert list(susde.index) == list(expected)
    assert susde.to_numpy() == pytest.approx(list(expected.values()), rel=1e-12)

    aave = curves["aave_usdt_lending"].dropna()
    stamps = [start, *pd.date_range("2025-02-04", "2025-03-09", freq="1D", tz="UTC"), end]
    assert list(aave.index) == stamps
    snapshots = aave_snapshots(data_dir, "USDT")
    ratios = [liquidity_index(snapshots, t) / liquidity_index(snapshots, start) for t in stamps]
    assert aave.to_numpy() == pytest.approx(ratios, rel=1e-12)

    comparison = benchmark_comparison(catalog_dir, start, end, None, None)
    assert susde.iloc[-1] ** (365 / len(days)) - 1 == pytest.approx(comparison["susde"]["apy_compounded"])
    assert aave.iloc[-1] == pytest.approx(comparison["aave_usdt_lending"]["index_ratio"], rel=1e-12)


def test_benchmark_curves_without_data_are_empty(tmp_path: Path) -> None:
    curves = benchmark_curves(tmp_path, *RECENT)
    assert list(curves.columns) == ["susde", "aave_usdt_lending"] and curves.dropna(how="all").empty
