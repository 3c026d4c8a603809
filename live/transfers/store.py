"""The transfer service's durable memory: every request's lifecycle and every funding payment seen.

SQLite (the standard library's), not JSON lines: each state change is one transaction, so a
kill mid-write leaves the previous state whole (no torn last line to detect and repair), a
request is rewritten in place rather than replayed from an ever-growing log, and a funding
payment is deduplicated by its primary key in the same write that records it. The file is
written before anything is sent (a request is REQUESTED on disk before its first call to the
venue), so a restart knows everything that may have reached a venue.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    exchange TEXT NOT NULL,
    open INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS funding (
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (exchange, entry_id)
);
"""


class LifecycleStore:
    """Requests as JSON documents keyed by request id, and the funding payments already booked."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions below
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- requests ----------------------------------------------------------------------------

    def save(self, request_id: str, exchange: str, record: dict[str, Any], is_open: bool) -> None:
        """Write ``record`` (the request's whole state) in one transaction, replacing the last."""
        with self._db:
            self._db.execute(
                "INSERT INTO requests (request_id, exchange, open, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(request_id) DO UPDATE SET open = excluded.open, record = excluded.record",
                (request_id, exchange, int(is_open), json.dumps(record, sort_keys=True)),
            )

    def load(self, request_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT record FROM requests WHERE request_id = ?", (request_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def records(self, exchange: str, only_open: bool = False) -> list[dict[str, Any]]:
        """``exchange``'s requests in the order they were first written."""
        sql = "SELECT record FROM requests WHERE exchange = ?" + (" AND open = 1" if only_open else "")
        return [json.loads(row[0]) for row in self._db.execute(sql + " ORDER BY rowid", (exchange,))]

    # -- funding -----------------------------------------------------------------------------

    def add_funding(self, exchange: str, symbol: str, entry_id: str, ts_ms: int) -> bool:
        """Record a funding payment; False when it was recorded before (not to be booked again)."""
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO funding (exchange, symbol, entry_id, ts_ms) VALUES (?, ?, ?, ?)",
                (exchange, symbol, entry_id, ts_ms),
            )
        return cursor.rowcount == 1

    def last_funding_ms(self, exchange: str, symbol: str) -> int | None:
        """The time of the latest payment recorded for ``symbol`` (where the next poll starts)."""
        row = self._db.execute(
            "SELECT MAX(ts_ms) FROM funding WHERE exchange = ? AND symbol = ?", (exchange, symbol)
        ).fetchone()
        return row[0]
