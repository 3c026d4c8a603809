"""A run's results folder (what ``run_backtest.py`` writes) read back for the report.

Only the files and columns the report draws are required; anything else in the folder is
ignored, so a folder written by an older or newer run still reads. A missing or unreadable file
is a :class:`ReportInputError` naming the folder and the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from portfolio.attribution import CATEGORIES
from portfolio.metrics import hourly_returns
from portfolio.tearsheet import tearsheet_title

SUMMARY_KEYS = ("mode", "share_class", "start", "end", "initial_nav", "final_nav", "attribution")
"""``summary.json`` keys every report reads."""
NAV_COLUMNS = ("nav", "flow", "net_delta_usd", "nav_usdt")
"""``nav.csv`` columns every report reads (per-venue and Aave columns are drawn when present)."""
MARGIN_RATIO_PREFIX = "margin_ratio_"
"""``nav.csv``'s per-venue margin ratio, maintenance ÷ margin balance: liquidation at 1."""


class ReportInputError(ValueError):
    """A folder or file the report cannot read; the message says which and why."""


def read_csv(path: Path, what: str) -> pd.DataFrame:
    """A time-indexed CSV of a results folder (first column: UTC timestamps)."""
    if not path.is_file():
        raise ReportInputError(f"{path.parent}: no {path.name} ({what})")
    try:
        frame = pd.read_csv(path, index_col=0)
        frame.index = pd.to_datetime(frame.index, utc=True)
    except (ValueError, pd.errors.ParserError) as e:
        raise ReportInputError(f"{path}: not a readable {what} ({e})") from None
    return frame


def _require(found, needed: tuple[str, ...], where: Path) -> None:
    missing = [k for k in needed if k not in found]
    if missing:
        raise ReportInputError(f"{where}: missing {', '.join(missing)}")


@dataclass(frozen=True)
class RunFolder:
    """One run's results: its summary, hourly NAV rows, daily attribution and (USDT runs)
    the benchmarks' growth curves over the same window."""

    path: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    nav: pd.DataFrame
    attribution: pd.DataFrame
    benchmarks: pd.DataFrame | None

    @property
    def scenario(self) -> str | None:
        """The stress scenario's name, None for a run on history."""
        scenario = self.summary.get("scenario")
        return scenario["name"] if scenario else None

    @property
    def title(self) -> str:
        """Mode, class and window, ``STRESSED: <scenario> — `` first for a stressed run."""
        return tearsheet_title(self.summary)

    @property
    def label(self) -> str:
        """Mode, class and window alone (a chart's title adds the stress itself)."""
        return tearsheet_title({**self.summary, "scenario": None})

    @property
    def currency(self) -> str:
        return self.summary["share_class"]

    def growth(self) -> pd.Series:
        """Growth of 1 unit of the share class over the run (time-weighted: flows excluded)."""
        returns = hourly_returns(self.nav["nav"], self.nav["flow"])
        first = pd.Series([1.0], index=self.nav.index[:1])
        return pd.concat([first, (1 + returns).cumprod()])

    def delta_fraction(self) -> pd.Series:
        """Net delta against the share class ÷ NAV, hourly: net delta in USD ÷ NAV in USD for a
        USDT run; for a coin share class (ETH, BTC) less 1, since holding NAV's worth of its own
        coin is its neutral book."""
        fraction = self.nav["net_delta_usd"] / self.nav["nav_usdt"]
        return fraction if self.currency == "USDT" else fraction - 1

    def margin_ratios(self) -> dict[str, pd.Series]:
        """Margin ratio per CEX venue (upper case) while it holds a perp (0 without one, and an
        infinite ratio, margin balance at or below zero, are NaN), for venues that ever held one."""
        out = {}
        for column in self.nav.columns:
            if column.startswith(MARGIN_RATIO_PREFIX):
                ratio = self.nav[column]
                ratio = ratio.where((ratio > 0) & (ratio < math.inf))
                if ratio.notna().any():
                    out[column.removeprefix(MARGIN_RATIO_PREFIX).upper()] = ratio
        return out

    def aave(self) -> pd.DataFrame | None:
        """Health factor and LTV hourly while the Aave position has debt, and the LTV at which it
        would be liquidated: HF × LTV, the collateral's value-weighted liquidation threshold
        (HF = Σ coll × LT ÷ debt and LTV = debt ÷ Σ coll); None for a run that never borrowed."""
        if "aave_health_factor" not in self.nav:
            return None
        hf = self.nav["aave_health_factor"].replace([math.inf, -math.inf], math.nan)
        if hf.isna().all():
            return None
        ltv = self.nav["aave_ltv"].where(hf.notna())
        return pd.DataFrame({"health_factor": hf, "ltv": ltv, "liquidation_ltv": hf * ltv})

    def strategy_setting(self, name: str) -> Any:
        """A strategy parameter of the resolved ``config.yaml`` (None when absent)."""
        return (self.config.get("strategy") or {}).get(name)


def _read_summary(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ReportInputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(summary, dict):
        raise ReportInputError(f"{path}: expected a JSON object, got {type(summary).__name__}")
    _require(summary, SUMMARY_KEYS, path)
    return summary


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.yaml"
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ReportInputError(f"{path}: not valid YAML ({e})") from None
    return config if isinstance(config, dict) else {}


def is_run_folder(path: Path) -> bool:
    return (path / "summary.json").is_file()


def read_run_folder(folder: Path) -> RunFolder:
    """Read a results folder, or raise :class:`ReportInputError` saying what is missing."""
    if not folder.is_dir():
        raise ReportInputError(f"{folder}: not a folder")
    if not is_run_folder(folder):
        raise ReportInputError(f"{folder}: not a run folder (no summary.json)")
    summary = _read_summary(folder)
    nav = read_csv(folder / "nav.csv", "hourly NAV")
    _require(nav.columns, NAV_COLUMNS, folder / "nav.csv")
    if len(nav) < 2:
        raise ReportInputError(f"{folder / 'nav.csv'}: {len(nav)} NAV rows, need at least 2")
    attribution = read_csv(folder / "attribution.csv", "daily attribution")
    _require(attribution.columns, CATEGORIES, folder / "attribution.csv")
    has_benchmarks = (folder / "benchmarks.csv").is_file()
    return RunFolder(
        path=folder,
        summary=summary,
        config=_read_config(folder),
        nav=nav,
        attribution=attribution,
        benchmarks=read_csv(folder / "benchmarks.csv", "benchmark curves") if has_benchmarks else None,
    )


def stressed_title(title: str, scenarios: list[str | None]) -> str:
    """A chart's title, ``STRESSED: <scenarios> — `` first when any of its data is stressed, so a
    stressed result is never read as history (once: a run's own title may already say it)."""
    names = sorted({s for s in scenarios if s})
    prefix = f"STRESSED: {', '.join(names)} — "
    return prefix + title if names and not title.startswith(prefix) else title
