"""The sUSDe benchmark in the catalog: strict validation of the raw file, missing days reported
(not filled), the cleaned daily series written to and read back from the catalog root.

Expected values come from the raw file's text (``csv`` + ``datetime.date``), never from the code
under test.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from adapters.hours import DAY_NS
from data_catalog.benchmarks import SUSDE_FILE, read_susde_benchmark, write_susde_benchmark
from data_catalog.builder import build_catalog
from data_catalog.manifest import CatalogManifest
from data_catalog.series import BuildError

PATTERN = "benchmarks/ethena_susde_apr_benchmark_*.csv"


def raw_file(data_dir: Path) -> Path:
    (path,) = sorted(data_dir.glob(PATTERN))
    return path


def raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def day_ns(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_NS


def missing_days(days: list[date]) -> list[date]:
    present = set(days)
    span = (days[-1] - days[0]).days
    return [d for d in (days[0] + timedelta(n) for n in range(span + 1)) if d not in present]


# --- the real file ----------------------------------------------------------------------------


def test_real_file_round_trips_with_its_missing_day_reported(data_dir: Path, tmp_path: Path) -> None:
    path = raw_file(data_dir)
    rows = raw_rows(path)
    days = [date.fromisoformat(r["date"]) for r in rows]
    gaps = missing_days(days)

    coverage = write_susde_benchmark(tmp_path, data_dir)
    series = read_susde_benchmark(tmp_path)

    assert series is not None
    assert [ts.date() for ts in series.index] == days
    assert str(series.index.tz) == "UTC"
    assert all(ts.value % DAY_NS == 0 for ts in series.index)  # stamped at 00:00 UTC
    assert series.tolist() == [float(r["apy_decimal"]) for r in rows]  # exact, not approximate
    assert (coverage.key, coverage.files) == ("BENCHMARK_SUSDE", [path.name])
    assert coverage.rows == coverage.own_rows == len(rows) == 580
    assert (coverage.first, coverage.last) == (f"{days[0]}T00:00:00Z", f"{days[-1]}T00:00:00Z")
    # one calendar day is absent from the file; it is reported, never filled
    assert gaps == [date(2024, 5, 2)]
    (hole,) = coverage.defects
    assert (hole["kind"], hole["count"], hole["timestamps"]) == ("hole", 1, [day_ns(gaps[0])])
    assert "left unfilled" in hole["decision"]
    assert coverage.unfilled == [("2024-05-02T00:00:00Z", "2024-05-02T00:00:00Z")]
    assert len(series) == (days[-1] - days[0]).days + 1 - len(gaps)


@pytest.mark.integration
def test_real_catalog_holds_the_benchmark_and_window_reports_its_hole(
    catalog_dir: Path, data_dir: Path
) -> None:
    """The catalog built from the real data set has the series and its manifest record."""
    rows = raw_rows(raw_file(data_dir))
    series = read_susde_benchmark(catalog_dir)
    record = json.loads((catalog_dir / "manifest.json").read_text())["series"]["BENCHMARK_SUSDE"]

    assert series is not None
    assert series.tolist() == [float(r["apy_decimal"]) for r in rows]
    assert (record["kind"], record["rows"], record["step_hours"]) == ("benchmark", 580, 24)
    manifest = CatalogManifest(catalog_dir)
    around_hole = manifest.window_report(
        ["BENCHMARK_SUSDE"],
        pd.Timestamp("2024-04-01", tz="UTC").value,
        pd.Timestamp("2024-06-01", tz="UTC").value,
    )
    assert around_hole.warnings == [
        "BENCHMARK_SUSDE: 1 benchmark rows missing in the window (no proxy had them)"
    ]
    after_hole = manifest.window_report(
        ["BENCHMARK_SUSDE"],
        pd.Timestamp("2025-01-01", tz="UTC").value,
        pd.Timestamp("2025-09-01", tz="UTC").value,
    )
    assert (after_hole.warnings, after_hole.proxies) == ([], {})


# --- broken copies ----------------------------------------------------------------------------

GOOD = [
    ("2025-01-01", "0.10"),
    ("2025-01-02", "0.11"),
    ("2025-01-04", "0.12"),  # 2025-01-03 missing
    ("2025-01-05", "0.13"),
]


def write_benchmark(data_dir: Path, rows: list[tuple[str, str]], name: str = "2025-01-01_2025-01-05") -> Path:
    path = data_dir / "benchmarks" / f"ethena_susde_apr_benchmark_{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["date,protocol,apy_decimal,apr_decimal"] + [f"{d},ethena,{a},0.1" for d, a in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_small_file_keeps_values_and_lists_the_missing_day(tmp_path: Path) -> None:
    data_dir, catalog_dir = tmp_path / "data", tmp_path / "catalog"
    catalog_dir.mkdir()
    write_benchmark(data_dir, GOOD)

    coverage = write_susde_benchmark(catalog_dir, data_dir)
    series = read_susde_benchmark(catalog_dir)

    assert series is not None
    assert series.to_dict() == {pd.Timestamp(d, tz="UTC"): float(a) for d, a in GOOD}
    assert [d["kind"] for d in coverage.defects] == ["hole"]
    assert coverage.defects[0]["timestamps"] == [day_ns(date(2025, 1, 3))]
    assert coverage.unfilled == [("2025-01-03T00:00:00Z", "2025-01-03T00:00:00Z")]


def _replace(row: int, new: tuple[str, str]) -> list[tuple[str, str]]:
    rows = list(GOOD)
    rows[row] = new
    return rows


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        (_replace(1, ("2025-13-02", "0.11")), 3, "'2025-13-02' does not parse"),
        (_replace(2, ("", "0.12")), 4, "does not parse"),
        (_replace(1, ("2025-01-02T06:00:00", "0.11")), 3, "is not a calendar day"),
        (_replace(3, ("2025-01-05", "n/a")), 5, "'n/a' is not a number"),
        (_replace(0, ("2025-01-01", "")), 2, "is not a number"),
        (_replace(2, ("2025-01-04", "5.5")), 4, "5.5 is outside [-1.0, 5.0]"),
        (_replace(1, ("2025-01-02", "-1.01")), 3, "-1.01 is outside [-1.0, 5.0]"),
        (_replace(2, ("2025-01-02", "0.12")), 4, "'2025-01-02' repeats the previous row's"),
        (_replace(2, ("2024-12-31", "0.12")), 4, "'2024-12-31' comes before the previous row's '2025-01-02'"),
    ],
    ids=[
        "bad-date",
        "empty-date",
        "intraday",
        "apy-text",
        "apy-empty",
        "apy-high",
        "apy-low",
        "dup",
        "order",
    ],
)
def test_broken_file_stops_the_build_naming_file_and_line(
    tmp_path: Path, rows: list[tuple[str, str]], line: int, message: str
) -> None:
    data_dir, catalog_dir = tmp_path / "data", tmp_path / "catalog"
    catalog_dir.mkdir()
    path = write_benchmark(data_dir, rows)

    with pytest.raises(BuildError) as error:
        write_susde_benchmark(catalog_dir, data_dir)

    assert str(path) in str(error.value)
    assert f"line {line}: " in str(error.value)
    assert message in str(error.value)
    assert not (catalog_dir / SUSDE_FILE).exists()


def test_broken_copy_of_the_real_file_names_its_line(data_dir: Path, tmp_path: Path) -> None:
    """The real file with one APY overwritten by text: the error points at that line."""
    lines = raw_file(data_dir).read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[301].split(",")
    fields[header.index("apy_decimal")] = "oops"
    lines[301] = ",".join(fields)
    copy = tmp_path / "data" / "benchmarks" / raw_file(data_dir).name
    copy.parent.mkdir(parents=True)
    copy.write_text("\n".join(lines) + "\n")

    with pytest.raises(BuildError, match=r"line 302: apy_decimal 'oops' is not a number"):
        write_susde_benchmark(tmp_path, tmp_path / "data")


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks" / "ethena_susde_apr_benchmark_x.csv"
    path.parent.mkdir()
    path.write_text("date,apy_percent\n2025-01-01,10.0\n")

    with pytest.raises(BuildError, match=r"missing required column\(s\) \['apy_decimal'\]") as error:
        write_susde_benchmark(tmp_path, tmp_path)
    assert str(path) in str(error.value)


def test_two_benchmark_files_are_refused_naming_the_folder(tmp_path: Path) -> None:
    write_benchmark(tmp_path, GOOD, "a")
    write_benchmark(tmp_path, GOOD, "b")

    with pytest.raises(BuildError, match="expected one ethena_susde_apr_benchmark_") as error:
        write_susde_benchmark(tmp_path, tmp_path)
    assert str(tmp_path / "benchmarks") in str(error.value)


def test_missing_file_is_a_no_data_note(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()  # the folder alone (or nothing at all) is not a benchmark
    (tmp_path / "benchmarks" / "ethena_susde_historical_20250923.csv").write_text("Timestamp,Date\n")

    coverage = write_susde_benchmark(tmp_path, tmp_path)

    assert [d["kind"] for d in coverage.defects] == ["no_data"]
    assert "ethena_susde_apr_benchmark_" in coverage.defects[0]["decision"]
    assert (coverage.rows, coverage.first, coverage.files) == (0, None, [])
    assert read_susde_benchmark(tmp_path) is None
    assert not (tmp_path / SUSDE_FILE).exists()


# --- wiring into the build --------------------------------------------------------------------


def test_build_writes_the_benchmark_and_fingerprints_its_file(clean_copy) -> None:
    """Adding or changing the benchmark file rebuilds the catalog; the manifest records it."""
    data_dir, catalog_dir = clean_copy.data_dir, clean_copy.catalog_dir
    assert read_susde_benchmark(catalog_dir) is None  # the synthetic universe has no benchmark
    path = write_benchmark(data_dir, GOOD)

    first = build_catalog(data_dir, catalog_dir)
    again = build_catalog(data_dir, catalog_dir)
    path.write_text(path.read_text().replace("0.13", "0.14"))
    changed = build_catalog(data_dir, catalog_dir)

    assert (first.rebuilt, again.rebuilt, changed.rebuilt) == (True, False, True)
    series = read_susde_benchmark(catalog_dir)
    assert series is not None
    assert series.tolist() == [0.10, 0.11, 0.12, 0.14]
    record = json.loads((catalog_dir / "manifest.json").read_text())["series"]["BENCHMARK_SUSDE"]
    assert (record["files"], record["rows"]) == ([path.name], 4)
    assert record["unfilled"] == [["2025-01-03T00:00:00Z", "2025-01-03T00:00:00Z"]]
    report = (catalog_dir / "validation_report.md").read_text()
    assert "### BENCHMARK_SUSDE (benchmark)" in report


def test_broken_benchmark_fails_the_build_and_keeps_the_old_catalog(clean_copy) -> None:
    data_dir, catalog_dir = clean_copy.data_dir, clean_copy.catalog_dir
    before = (catalog_dir / "manifest.json").read_text()
    write_benchmark(data_dir, _replace(1, ("2025-01-02", "nan?")))

    with pytest.raises(BuildError, match="line 3"):
        build_catalog(data_dir, catalog_dir)

    assert (catalog_dir / "manifest.json").read_text() == before
    assert not catalog_dir.with_name(f"{catalog_dir.name}.building").exists()
