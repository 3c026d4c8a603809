"""A sweep folder's table of runs (``runs.parquet``, one row per run, as ``python -m research
sweep`` writes it) read back for the report.

The columns the report reads; any other column is ignored:

- ``param.<path>``: the value of each swept config field (``param.strategy.perp_margin_fraction``);
- the metrics, named as in ``summary.json``: ``apy`` and ``max_drawdown`` (required), and
  ``total_return``, ``annual_volatility``, ``sharpe``, ``sortino``, ``liquidations``,
  ``reconciliation_error``, ``wall_seconds`` when present;
- ``status``: ``ok``, anything else is a failed run (with its ``error``); every row is a finished
  run when the column is absent;
- ``scenario``: the stress scenario's name; ``history``, empty or null for the data as recorded;
- ``key`` (the run's identity), ``mode``, ``start``, ``end``: the run and its window;
- ``run_dir``: the run's results folder (absolute, or relative to the sweep folder) when it was
  kept; else ``runs/<key>`` is looked for.

The table is every ``*.parquet`` file directly in the folder (a sweep written in parts reads
whole); a key found twice (a retried run) keeps its last row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow

from research.report.run_folder import ReportInputError, is_run_folder

PARAM_PREFIX = "param."
HISTORY = ("", "history")
"""Scenario names of a run on the data as recorded."""
REQUIRED = ("apy", "max_drawdown")
METRICS = (
    "apy",
    "total_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "liquidations",
    "reconciliation_error",
    "wall_seconds",
)
MAXIMISED = frozenset({"apy", "total_return", "sharpe", "sortino", "max_drawdown"})
"""Metrics a ranking maximises (max drawdown is negative: closer to 0 is better); the rest are minimised."""
PERCENT = frozenset({"apy", "total_return", "annual_volatility", "max_drawdown"})
"""Metrics that are fractions, shown as percentages."""
STATUS_OK = "ok"


@dataclass(frozen=True)
class SweepTable:
    """The sweep's runs: ``runs`` finished ones, ``failed`` the others."""

    path: Path
    runs: pd.DataFrame
    failed: pd.DataFrame

    @property
    def params(self) -> list[str]:
        """The swept fields: ``param.`` columns with more than one value among finished runs."""
        columns = [c for c in self.runs.columns if c.startswith(PARAM_PREFIX)]
        return [c for c in columns if self.runs[c].nunique(dropna=False) > 1]

    @property
    def metrics(self) -> list[str]:
        return [m for m in METRICS if m in self.runs]

    def ranked(self, metric: str) -> pd.DataFrame:
        """Finished runs, best ``metric`` first (ties in the table's order)."""
        return self.runs.sort_values(
            metric, ascending=metric not in MAXIMISED, na_position="last", kind="stable"
        )

    def scenarios(self) -> pd.Series:
        """Each finished run's stress scenario, None for history."""
        if "scenario" not in self.runs:
            return pd.Series(None, index=self.runs.index, dtype=object)
        names = [s if isinstance(s, str) and s not in HISTORY else None for s in self.runs["scenario"]]
        return pd.Series(names, index=self.runs.index, dtype=object)

    def by_scenario(self) -> list[tuple[str | None, pd.DataFrame]]:
        """Finished runs grouped by scenario, history (None) first."""
        scenarios = self.scenarios()
        names = sorted(set(scenarios), key=lambda s: (s is not None, s or ""))
        return [(name, self.runs[[s == name for s in scenarios]]) for name in names]

    def run_folder(self, row: pd.Series) -> Path | None:
        """The kept results folder of a run, or None when it was not kept."""
        candidates = []
        if isinstance(row.get("run_dir"), str) and row["run_dir"]:
            candidates.append(self.path / row["run_dir"])
        if "key" in row and pd.notna(row["key"]):
            candidates.append(self.path / "runs" / str(row["key"]))
        return next((c for c in candidates if is_run_folder(c)), None)


def is_sweep_folder(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.parquet"))


def read_sweep_table(folder: Path) -> SweepTable:
    """Read a sweep folder's table, or raise :class:`ReportInputError` saying what is wrong."""
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise ReportInputError(f"{folder}: not a sweep folder (no *.parquet table)")
    try:
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    except (OSError, ValueError, pyarrow.ArrowException) as e:
        raise ReportInputError(f"{folder}: unreadable sweep table ({e})") from None
    missing = [c for c in REQUIRED if c not in frame]
    if missing:
        raise ReportInputError(
            f"{folder}: the sweep table ({', '.join(f.name for f in files)}) lacks {', '.join(missing)}"
        )
    if "key" in frame:
        frame = frame.drop_duplicates("key", keep="last").reset_index(drop=True)
    ok = frame["status"] == STATUS_OK if "status" in frame else pd.Series(True, index=frame.index)
    return SweepTable(folder, frame[ok].reset_index(drop=True), frame[~ok].reset_index(drop=True))
