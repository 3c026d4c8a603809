"""The sweep's table, ``runs.parquet``: one row per finished run (the columns
:mod:`research.report.sweep_table` reads), rewritten atomically so a killed sweep leaves the last
complete table, never half of one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from research.report.sweep_table import PARAM_PREFIX, STATUS_OK
from research.sweep.tasks import RunTask

TABLE_FILE = "runs.parquet"
STATUS_ERROR = "error"
ATTRIBUTION_PREFIX = "attribution."
METRICS = (
    "total_return",
    "apy",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "final_nav",
    "liquidations",
    "reconciliation_error",
)
"""Figures copied from each run's ``summary.json`` (fractions for returns and drawdown)."""


def task_columns(task: RunTask) -> dict[str, Any]:
    """The run's identity: key, mode, window, scenario, capital (when the sweep sets it; a finished
    run's row has the capital it ran with), trial and ``param.<path>`` values."""
    return {
        "key": task.key,
        "mode": task.mode,
        "start": task.window.start,
        "end": task.window.end,
        "scenario": task.scenario,
        "capital": task.capital,
        "trial": task.trial,
        **{f"{PARAM_PREFIX}{path}": _cell(value) for path, value in task.params.items()},
    }


def _cell(value: Any) -> Any:
    """A parameter value as a Parquet cell: scalars as they are, anything else as its text."""
    return value if isinstance(value, bool | int | float | str) or value is None else repr(value)


def ok_row(task: RunTask, summary: dict[str, Any], seconds: float, run_dir: Path | None, worker: str) -> dict:
    row = task_columns(task) | {"capital": summary["capital"]}
    row |= {m: summary.get(m) for m in METRICS}
    row |= {f"{ATTRIBUTION_PREFIX}{k}": v for k, v in summary["attribution"].items()}
    return row | _outcome(STATUS_OK, None, seconds, run_dir, worker)


def error_row(task: RunTask, error: str, seconds: float, worker: str) -> dict:
    return task_columns(task) | _outcome(STATUS_ERROR, error, seconds, None, worker)


def _outcome(status: str, error: str | None, seconds: float, run_dir: Path | None, worker: str) -> dict:
    return {
        "status": status,
        "error": error,
        "wall_seconds": seconds,
        "run_dir": str(run_dir) if run_dir is not None else None,
        "worker": worker,
    }


class RunTable:
    """``OUT/runs.parquet`` and the rows of this session added to it."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / TABLE_FILE
        self.frame = pd.read_parquet(self.path) if self.path.is_file() else pd.DataFrame()

    def finished_keys(self) -> set[str]:
        """Keys of runs that finished ``ok`` (a failed run is tried again by the next session)."""
        if self.frame.empty:
            return set()
        return set(self.frame.loc[self.frame["status"] == STATUS_OK, "key"])

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Add ``rows`` (replacing earlier rows of the same keys) and rewrite the file atomically."""
        if not rows:
            return
        new = pd.DataFrame(rows)
        frame = self.frame[~self.frame["key"].isin(new["key"])] if not self.frame.empty else self.frame
        frame = pd.concat([frame, new], ignore_index=True) if not frame.empty else new
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, self.path)
        self.frame = frame
