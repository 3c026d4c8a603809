"""Write a run's results folder: summary, NAV and attribution series, Nautilus reports, tearsheet."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from nautilus_trader.analysis import create_tearsheet_from_stats
from nautilus_trader.model.identifiers import Venue

from portfolio.accounting import CATEGORIES, AccountingActor
from portfolio.benchmarks import tearsheet_lines
from portfolio.metrics import daily_returns, hourly_returns, performance


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
    nav: pd.DataFrame,
    proxies: dict[str, Any],
    data_warnings: list[str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The ``summary.json`` payload: performance, attribution and reconciliation of one run."""
    perf = performance(nav["nav"], nav["flow"])
    totals = {c: float(nav[c].iloc[1:].sum()) for c in CATEGORIES}
    nav_change = float(nav["nav"].iloc[-1] - nav["nav"].iloc[0] - nav["flow"].iloc[1:].sum())
    return {
        "mode": mode,
        "share_class": share_class,
        "start": nav.index[0].isoformat(),
        "end": nav.index[-1].isoformat(),
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
) -> None:
    """Write every file of the results folder (overwriting a previous run in ``out_dir``).

    ``actions`` is the strategy's action log, (ts, action, why) per plan started: ``actions.csv``.
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
    _write_nautilus_reports(out_dir, engine, venues)
    _write_tearsheet(out_dir, summary, nav)


def _write_event_logs(out_dir: Path, accounting: AccountingActor) -> None:
    logs = {
        "transfers.csv": accounting.transfers,
        "funding.csv": [vars(e) for e in accounting.funding],
        "liquidations.csv": [vars(e) for e in accounting.liquidations],
        "gas.csv": [{**vars(e), "usd": e.usd} for e in accounting.gas],
        "capital_flows.csv": [vars(e) for e in accounting.flows],
    }
    for name, rows in logs.items():
        frame = pd.DataFrame(rows)
        if "ts_event" in frame:
            frame.insert(0, "ts", pd.to_datetime(frame.pop("ts_event"), utc=True))
        frame.to_csv(out_dir / name, index=False)


def _write_nautilus_reports(out_dir: Path, engine, venues: list[str]) -> None:
    trader = engine.trader
    trader.generate_orders_report().to_csv(out_dir / "orders.csv")
    trader.generate_fills_report().to_csv(out_dir / "fills.csv")
    trader.generate_positions_report().to_csv(out_dir / "positions.csv")
    for venue in venues:
        trader.generate_account_report(Venue(venue)).to_csv(out_dir / f"account_{venue.lower()}.csv")


def _write_tearsheet(out_dir: Path, summary: dict[str, Any], nav: pd.DataFrame) -> None:
    hourly = hourly_returns(nav["nav"], nav["flow"])
    daily = daily_returns(hourly)
    stats_returns = {
        "Total return": summary["total_return"],
        "APY": summary["apy"],
        "Annual volatility (365)": summary["annual_volatility"],
        "Sharpe ratio (365)": summary["sharpe"],
        "Sortino ratio (365)": summary["sortino"],
        "Max drawdown (hourly NAV)": summary["max_drawdown"],
    }
    stats_pnls = {
        summary["share_class"]: {f"PnL {k}": round(v, 2) for k, v in summary["attribution"].items() if v}
    }
    general = {
        "Initial NAV": round(summary["initial_nav"], 2),
        "Final NAV": round(summary["final_nav"], 2),
        "Net investor flows": round(summary["net_flows"], 2),
        "Reconciliation error": summary["reconciliation_error"],
        "Proxied series": len(summary["proxies"]),
        **tearsheet_lines(summary.get("benchmarks")),
    }
    create_tearsheet_from_stats(
        stats_pnls=stats_pnls,
        stats_returns=_clean(stats_returns),
        stats_general=general,
        returns=daily,
        output_path=str(out_dir / "tearsheet.html"),
        title=f"{summary['mode']} ({summary['share_class']}) {summary['start'][:10]} → {summary['end'][:10]}",
    )
