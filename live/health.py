"""The node's health: one console line every few minutes and ``status.json`` in the run folder.

Every ``every_minutes`` of the venues' time — in paper the replay's data time (the replay polls
the monitor after every point; hourly data makes that once per data hour), live the node's clock
(a :class:`HealthReporter` timer) — the monitor prints one line — state, NAV, funding earned,
margin ratio per venue, CEX positions, open orders, the oldest feed, transfers in flight — and
rewrites ``status.json`` atomically with the same facts and every feed's age. NAV, funding and
margin ratios are the accounting's latest hourly sample (``nav_at`` names it: the row of
``nav.csv`` with that timestamp); positions, orders and feed ages are read at the line's time.
Nothing in it comes from the environment, so no key can appear.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.common.actor import Actor

from adapters.hours import HOUR_NS
from portfolio.accounting import AccountingActor
from strategies.base import YieldStrategy

STATUS_FILE = "status.json"
MINUTE_NS = 60_000_000_000


def _iso(ts_ns: int) -> str:
    return pd.Timestamp(ts_ns, tz="UTC").isoformat()


def _number(value: Any) -> float | None:
    """A figure for JSON (NaN, e.g. the margin ratio of a venue without perps, becomes null)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def node_status(
    mode: str, strategy: YieldStrategy, accounting: AccountingActor, now_ns: int
) -> dict[str, Any]:
    """What ``status.json`` holds at ``now_ns`` (see the module docstring)."""
    cache = strategy.cache
    rows = accounting.rows
    row = rows[-1] if rows else {}
    stale = strategy.feeds.stale(now_ns)
    state = "HALTED" if strategy.halted is not None else ("STALE_DATA" if stale else "RUNNING")
    return {
        "mode": mode,
        "time": _iso(now_ns),
        "state": state,
        "halted": strategy.halted,
        "share_class": accounting.acfg.share_class,
        "nav": _number(row.get("nav")),
        "nav_at": _iso(row["ts"]) if row else None,
        "funding_earned": sum(r.get("funding", 0.0) for r in rows),
        "margin_ratio": {
            venue: _number(row.get(f"margin_ratio_{venue.lower()}")) for venue in accounting.acfg.cex_venues
        },
        "positions": [
            {
                "instrument": str(p.instrument_id),
                "side": p.side.name,
                "quantity": p.quantity.as_double(),
                "avg_px_open": p.avg_px_open,
            }
            for p in cache.positions_open()
            if p.instrument_id.venue != strategy.wallet_venue  # the wallet's tokens are in the NAV
        ],
        "open_orders": len(cache.orders_open()),
        "open_transfers": [
            {"request_id": rid, "asset": asset, "amount": amount}
            for rid, (asset, amount) in strategy.transfers.in_flight.items()
        ],
        "plan_in_progress": strategy.plans.current.name if strategy.plans.current is not None else None,
        "feeds": {
            feed: None if age is None else age / 1e9 for feed, age in strategy.feeds.ages(now_ns).items()
        },
        "stale_feeds": [s.describe() for s in stale],
        "rejections": len(strategy.rejections),
    }


def health_line(status: dict[str, Any]) -> str:
    """The console's one line of ``status``."""
    share = status["share_class"]
    nav = "n/a" if status["nav"] is None else f"{status['nav']:,.2f} {share}"
    margins = " ".join(
        f"{venue} {'-' if ratio is None else f'{ratio:.3f}'}"
        for venue, ratio in status["margin_ratio"].items()
    )
    ages = {feed: age for feed, age in status["feeds"].items() if age is not None}
    oldest = max(ages, key=ages.get) if ages else None
    data = "no data yet" if oldest is None else f"{ages[oldest] * 1e9 / HOUR_NS:.1f} h ({oldest})"
    parts = [
        f"health {status['time'][:16].replace('T', ' ')} {status['state']}",
        f"NAV {nav}",
        f"funding {status['funding_earned']:+,.2f} {share}",
        f"margin ratio {margins or 'n/a'}",
        f"positions {len(status['positions'])}",
        f"open orders {status['open_orders']}",
        f"oldest data {data}",
        f"transfers in flight {len(status['open_transfers'])}",
    ]
    if status["stale_feeds"]:
        parts.append("STALE: " + "; ".join(status["stale_feeds"]) + ": no new entries")
    return " | ".join(parts)


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a reader never sees a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(status, indent=1))
    os.replace(partial, path)


class HealthMonitor:
    """Emits the line and the file when ``every_minutes`` have passed since the last time."""

    def __init__(
        self,
        mode: str,
        strategy: YieldStrategy,
        accounting: AccountingActor,
        status_path: Path,
        print_line: Callable[[str], None],
        every_minutes: float = 5.0,
    ) -> None:
        if not every_minutes > 0:
            raise ValueError(f"the health line's interval must be > 0 minutes, got {every_minutes}")
        self._mode = mode
        self._strategy = strategy
        self._accounting = accounting
        self.status_path = status_path
        self._print = print_line
        self.every_ns = int(every_minutes * MINUTE_NS)
        self._next_ns = 0
        self.last: dict[str, Any] | None = None
        """The last status emitted."""
        self._line = ""

    def poll(self, now_ns: int) -> None:
        """Emit when due at ``now_ns`` (the venues' time)."""
        if now_ns >= self._next_ns:
            self.emit(now_ns)

    def emit(self, now_ns: int) -> None:
        self.last = node_status(self._mode, self._strategy, self._accounting, now_ns)
        write_status(self.status_path, self.last)
        line = health_line(self.last)
        if line != self._line:  # e.g. the closing status of a run that just printed it
            self._print(line)
            self._line = line
        self._next_ns = (now_ns // self.every_ns + 1) * self.every_ns


class HealthReporter(Actor):
    """A live node's health line: the monitor emits on a Nautilus clock timer every interval.
    Nautilus 1.231's live timers call back on their own thread, so the emission is handed to the
    node's event loop (where the strategy and the accounting run)."""

    def __init__(self, monitor: HealthMonitor) -> None:
        super().__init__()
        self.monitor = monitor

    def on_start(self) -> None:
        loop = asyncio.get_running_loop()
        self.clock.set_timer(
            "health",
            timedelta(microseconds=self.monitor.every_ns // 1000),
            callback=lambda _: loop.call_soon_threadsafe(self._emit),
        )

    def on_stop(self) -> None:
        self.clock.cancel_timers()

    def _emit(self) -> None:
        if self.is_running:
            self.monitor.emit(self.clock.timestamp_ns())
