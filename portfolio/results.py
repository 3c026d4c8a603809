"""Write a run's results folder: summary, NAV and attribution series, Nautilus reports, tearsheet."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from nautilus_trader.model.identifiers import Venue

from adapters.events import AaveLiquidated, CapitalFlow, FundingSettled, GasCharged, LiquidationEvent
from portfolio.accounting import TRANSFER_COLUMNS, AccountingActor
from portfolio.attribution import CATEGORIES
from portfolio.metrics import performance
from portfolio.tearsheet import write_tearsheet


def attribution_frame(nav: pd.DataFrame) -> pd.DataFrame:
    """Daily sums of every attribution category, with the day's flows, residual and closing NAV."""
    columns = [*CATEGORIES, "flow", "residual"]
    daily = nav[columns].resample("1D").sum()
    daily["nav_close"] = nav["nav"].resample("1D").last()
    return daily


def summarize(
    *,
    mode: str,
    share_class: str,
    window: tuple[pd.Timestamp, pd.Timestamp],
    nav: pd.DataFrame,
    proxies: dict[str, Any],
    data_warnings: list[str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The ``summary.json`` payload: performance, attribution and reconciliation of one run.

    ``start``/``end`` are the window asked for (the first NAV sample is the bar closing at the
    start, stamped an hour earlier when the start is a midnight: not what the user asked)."""
    perf = performance(nav["nav"], nav["flow"])
    totals = {c: float(nav[c].iloc[1:].sum()) for c in CATEGORIES}
    nav_change = float(nav["nav"].iloc[-1] - nav["nav"].iloc[0] - nav["flow"].iloc[1:].sum())
    return {
        "mode": mode,
        "share_class": share_class,
        "start": window[0].isoformat(),
        "end": window[1].isoformat(),
        "initial_nav": float(nav["nav"].iloc[0]),
        "final_nav": float(nav["nav"].iloc[-1]),
        "net_flows": float(nav["flow"].iloc[1:].sum()),
        **perf,
        "attribution": totals,
        "pnl": nav_change,
        "reconciliation_error": nav_change - sum(totals.values()),
        "max_abs_hourly_residual": float(nav["residual"].abs().max()),
        "proxies": proxies,
        "data_warnings": data_warnings,
        **extra,
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_results(
    out_dir: Path,
    *,
    summary: dict[str, Any],
    nav: pd.DataFrame,
    accounting: AccountingActor,
    engine,
    venues: list[str],
    resolved_config: dict[str, Any],
    actions: list[tuple[int, str, str]] = (),  # type: ignore[assignment]
    benchmarks: pd.DataFrame | None = None,
) -> None:
    """Write every file of the results folder (overwriting a previous run in ``out_dir``).

    ``actions`` is the strategy's action log, (ts, action, why) per plan started: ``actions.csv``.
    ``benchmarks`` are the USDT benchmarks' growth curves over the window: ``benchmarks.csv``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(_clean(summary), indent=2))
    (out_dir / "config.yaml").write_text(yaml.safe_dump(resolved_config, sort_keys=False))
    nav.to_csv(out_dir / "nav.csv")
    attribution_frame(nav).to_csv(out_dir / "attribution.csv")
    _write_event_logs(out_dir, accounting)
    frame = pd.DataFrame(list(actions), columns=["ts", "action", "why"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame.to_csv(out_dir / "actions.csv", index=False)
    if benchmarks is not None:
        benchmarks.to_csv(out_dir / "benchmarks.csv")
    _write_nautilus_reports(out_dir, engine, venues)
    write_tearsheet(out_dir / "tearsheet.html", summary, nav)


def _columns(event: type) -> list[str]:
    """A dataclass event's fields, ``ts_event`` first as ``ts``."""
    names = [f.name for f in fields(event)]
    return ["ts", *(n for n in names if n != "ts_event")]


def _event_frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """One event log: a row per event under ``columns``, and the header alone without events
    (so ``pd.read_csv`` reads every log, empty or not)."""
    frame = pd.DataFrame(rows, columns=columns)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _rows(events: list) -> list[dict[str, Any]]:
    return [{"ts": e.ts_event, **vars(e)} for e in events]


def _write_event_logs(out_dir: Path, accounting: AccountingActor) -> None:
    gas = [{**row, "usd": e.usd} for row, e in zip(_rows(accounting.gas), accounting.gas, strict=True)]
    aave = [e for e in accounting.wallet_events if isinstance(e, AaveLiquidated)]
    logs = {
        "transfers.csv": (accounting.transfers, list(TRANSFER_COLUMNS)),
        "funding.csv": (_rows(accounting.funding), _columns(FundingSettled)),
        "liquidations.csv": (_rows(accounting.liquidations), _columns(LiquidationEvent)),
        "aave_liquidations.csv": (_rows(aave), _columns(AaveLiquidated)),
        "gas.csv": (gas, [*_columns(GasCharged), "usd"]),
        "capital_flows.csv": (_rows(accounting.flows), _columns(CapitalFlow)),
    }
    for name, (rows, columns) in logs.items():
        _event_frame(rows, columns).to_csv(out_dir / name, index=False)


def _write_nautilus_reports(out_dir: Path, engine, venues: list[str]) -> None:
    trader = engine.trader
    trader.generate_orders_report().to_csv(out_dir / "orders.csv")
    trader.generate_fills_report().to_csv(out_dir / "fills.csv")
    trader.generate_positions_report().to_csv(out_dir / "positions.csv")
    for venue in venues:
        trader.generate_account_report(Venue(venue)).to_csv(out_dir / f"account_{venue.lower()}.csv")
