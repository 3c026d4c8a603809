"""One run of a sweep: the mode YAML, the parameter values, the window and the scenario, and the
stable key a finished run is recognised by when the sweep is run again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backtesting.config import RunConfig, load_run_config
from scenarios.config import load_scenario

HISTORY = "history"
"""The scenario name of a run on the data as recorded."""


@dataclass(frozen=True)
class Window:
    start: str
    end: str


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to run one backtest of the sweep (plain values: it travels to
    Ray workers, which validate it again with :meth:`run_config`)."""

    key: str
    mode: str
    base_config: str
    capital: float | None
    params: dict[str, Any]
    window: Window
    scenario: str
    trial: int | None = None
    """The Optuna trial the run belongs to (None for grid and random searches)."""

    @classmethod
    def of(
        cls,
        mode: str,
        base_config: Path,
        capital: float | None,
        params: dict[str, Any],
        window: Window,
        scenario: str,
        trial: int | None = None,
    ) -> RunTask:
        identity = {
            "mode": mode,
            "config": base_config.read_text(),
            "capital": capital,
            "params": params,
            "start": window.start,
            "end": window.end,
            "scenario": scenario,
        }
        text = json.dumps(identity, sort_keys=True, default=str)
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        return cls(key, mode, str(base_config), capital, dict(params), window, scenario, trial)

    def run_config(self) -> RunConfig:
        """The run validated exactly as ``run_backtest.py`` validates one (same errors)."""
        scenario = None if self.scenario == HISTORY else load_scenario(self.scenario)
        return load_run_config(
            Path(self.base_config),
            start=self.window.start,
            end=self.window.end,
            capital=self.capital,
            scenario=scenario,
            fields=self.params,
        )

    def describe(self) -> str:
        return f"window {self.window.start} .. {self.window.end}, scenario {self.scenario}"
