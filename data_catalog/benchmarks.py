"""Published yields that runs are compared against: Ethena sUSDe's daily APY.

The raw file (``benchmarks/ethena_susde_apr_benchmark_*.csv``, DefiLlama's daily sUSDe APY) is
validated strictly, since a wrong benchmark silently mis-states every comparison: any unparseable
date, non-numeric or implausible APY, or repeated / out-of-order date stops the build with the file
and line named. Missing calendar days are not filled: they are listed in the coverage record (and
so in the validation report and in a run's window report), and comparisons use the covered days.
The cleaned series is written to the catalog root as ``benchmark_susde.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adapters.hours import DAY_NS
from data_catalog.manifest import SeriesCoverage
from data_catalog.series import BuildError
from data_catalog.validation import hour_ranges, iso, make_defect

SUSDE_KEY = "BENCHMARK_SUSDE"
SUSDE_DIR = "benchmarks"
SUSDE_GLOB = f"{SUSDE_DIR}/ethena_susde_apr_benchmark_*.csv"
"""Raw file of the sUSDe benchmark (part of the catalog's fingerprint)."""
SUSDE_FILE = "benchmark_susde.parquet"
SUSDE_COLUMNS = ("date", "apy_decimal")
APY_BOUNDS = (-1.0, 5.0)
"""Plausible daily APY values (decimal): below −100 % or above 500 % the file is wrong."""


def _no_data(decision: str) -> dict[str, object]:
    return {
        "series": SUSDE_KEY,
        "kind": "no_data",
        "count": 1,
        "decision": decision,
        "first": None,
        "last": None,
        "examples": [],
        "timestamps": [],
    }


def _line(position: int) -> int:
    """1-based line in the CSV of the ``position``-th data row (the header is line 1)."""
    return position + 2


def load_susde_csv(path: Path) -> pd.DataFrame:
    """The benchmark file as ``date`` (UTC midnight) and ``apy`` (decimal); raises :class:`BuildError`
    naming the file and line of the first row that breaks a rule."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise BuildError(f"{path}: cannot read CSV: {e}") from e
    missing = [c for c in SUSDE_COLUMNS if c not in raw.columns]
    if missing:
        raise BuildError(f"{path}: missing required column(s) {missing} (found {list(raw.columns)})")
    if raw.empty:
        raise BuildError(f"{path}: no data rows")
    dates = pd.to_datetime(raw["date"].str.strip(), utc=True, errors="coerce", format="ISO8601")
    for i in range(len(raw)):
        if pd.isna(dates.iloc[i]):
            raise BuildError(f"{path}: line {_line(i)}: date {raw['date'].iloc[i]!r} does not parse")
        if dates.iloc[i] != dates.iloc[i].normalize():
            raise BuildError(
                f"{path}: line {_line(i)}: date {raw['date'].iloc[i]!r} is not a calendar day (00:00 UTC)"
            )
    apy = pd.to_numeric(raw["apy_decimal"].str.strip(), errors="coerce")
    lo, hi = APY_BOUNDS
    for i in range(len(raw)):
        value = apy.iloc[i]
        if pd.isna(value):
            raise BuildError(
                f"{path}: line {_line(i)}: apy_decimal {raw['apy_decimal'].iloc[i]!r} is not a number"
            )
        if not lo <= value <= hi:
            raise BuildError(f"{path}: line {_line(i)}: apy_decimal {value} is outside [{lo}, {hi}]")
    steps = dates.diff().iloc[1:]
    bad = steps[steps <= pd.Timedelta(0)]
    if not bad.empty:
        i = raw.index.get_loc(bad.index[0])
        what = "repeats" if bad.iloc[0] == pd.Timedelta(0) else "comes before"
        raise BuildError(
            f"{path}: line {_line(i)}: date {raw['date'].iloc[i]!r} {what} the previous row's "
            f"{raw['date'].iloc[i - 1]!r}; dates must be unique and increasing",
        )
    return pd.DataFrame({"date": dates.dt.as_unit("ns"), "apy": apy.astype(float)}).reset_index(drop=True)


def write_susde_benchmark(catalog_dir: Path, data_dir: Path) -> SeriesCoverage:
    """Validate the sUSDe benchmark file and write it to ``catalog_dir`` (an absent file is reported)."""
    coverage = SeriesCoverage(SUSDE_KEY, "benchmark", DAY_NS, [], [])
    paths = sorted(data_dir.glob(SUSDE_GLOB))
    if not paths:
        coverage.defects.append(
            _no_data(f"no {SUSDE_GLOB} file: runs report no sUSDe benchmark"),
        )
        return coverage
    if len(paths) > 1:
        raise BuildError(
            f"{data_dir / SUSDE_DIR}: expected one ethena_susde_apr_benchmark_*.csv file, found "
            f"{len(paths)}: {[p.name for p in paths]}",
        )
    (path,) = paths
    frame = load_susde_csv(path)
    frame.to_parquet(catalog_dir / SUSDE_FILE, index=False)

    ts = frame["date"].astype("int64")
    full = pd.date_range(frame["date"].iloc[0], frame["date"].iloc[-1], freq="D").as_unit("ns")
    missing = full.difference(pd.DatetimeIndex(frame["date"])).asi8
    coverage.files = [path.name]
    coverage.rows = coverage.own_rows = len(frame)
    coverage.first = coverage.own_first = iso(int(ts.iloc[0]))
    coverage.last = coverage.own_last = iso(int(ts.iloc[-1]))
    coverage.unfilled = hour_ranges(missing, DAY_NS)
    if missing.size:
        coverage.defects.append(
            make_defect(
                SUSDE_KEY,
                "hole",
                missing.tolist(),
                "left unfilled: benchmark figures use the covered days only and count the missing ones",
            ).as_dict(),
        )
    return coverage


def read_susde_benchmark(catalog_dir: Path) -> pd.Series | None:
    """Daily sUSDe APY (decimal) indexed by UTC day, or ``None`` when the catalog has no benchmark."""
    path = catalog_dir / SUSDE_FILE
    if not path.is_file():
        return None
    frame = pd.read_parquet(path)
    index = pd.DatetimeIndex(frame["date"], name="date")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return pd.Series(frame["apy"].to_numpy(dtype=float), index=index, name="apy")
