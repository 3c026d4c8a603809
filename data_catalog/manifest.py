"""The catalog's record of where every series came from (``manifest.json``).

Written by the build; read by every backtest to check its window lies inside the data and to
report, for its own window, which hours came from proxies and which defects were repaired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adapters.hours import HOUR_NS
from data_catalog.series import SeriesSpec, raw_stamp_offset
from data_catalog.validation import hour_ranges, iso

MANIFEST_FILE = "manifest.json"


class WindowOutsideDataError(ValueError):
    """The requested window is not covered by a series the run needs."""


def _ns(text: str) -> int:
    return int(pd.Timestamp(text).value)


@dataclass
class SeriesCoverage:
    """Coverage of one series in the built catalog (timestamps are ``ts_event``, UTC)."""

    key: str
    kind: str
    step_ns: int
    files: list[str]
    proxies: list[str]
    first: str | None = None
    last: str | None = None
    rows: int = 0
    own_rows: int = 0
    own_first: str | None = None
    own_last: str | None = None
    proxied: dict[str, tuple[list[tuple[str, str]], int]] = field(default_factory=dict)
    unfilled: list[tuple[str, str]] = field(default_factory=list)
    defects: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def empty(cls, spec: SeriesSpec, files: list[str]) -> SeriesCoverage:
        return cls(spec.key, spec.kind, spec.step_ns, files, list(spec.proxies))

    @property
    def proxied_count(self) -> int:
        return sum(count for _, count in self.proxied.values())

    def set_span(self, final_ts: pd.Series, own_ts: pd.Series, unfilled: np.ndarray) -> None:
        self.first, self.last = iso(int(final_ts.min())), iso(int(final_ts.max()))
        self.rows = len(final_ts)
        self.own_rows = len(own_ts)
        if len(own_ts):
            self.own_first, self.own_last = iso(int(own_ts.min())), iso(int(own_ts.max()))
        self.unfilled = hour_ranges(unfilled, self.step_ns)

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "kind": self.kind,
            "step_hours": self.step_ns // HOUR_NS,
            "files": self.files,
            "proxies": self.proxies,
            "first": self.first,
            "last": self.last,
            "rows": self.rows,
            "own_rows": self.own_rows,
            "own_first": self.own_first,
            "own_last": self.own_last,
            "proxied": {k: {"count": n, "ranges": r} for k, (r, n) in self.proxied.items()},
            "unfilled": self.unfilled,
            "defects": self.defects,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SeriesCoverage:
        return cls(
            key=d["key"],
            kind=d["kind"],
            step_ns=int(d["step_hours"]) * HOUR_NS,
            files=d["files"],
            proxies=d["proxies"],
            first=d["first"],
            last=d["last"],
            rows=d["rows"],
            own_rows=d["own_rows"],
            own_first=d["own_first"],
            own_last=d["own_last"],
            proxied={k: ([tuple(r) for r in v["ranges"]], v["count"]) for k, v in d["proxied"].items()},
            unfilled=[tuple(r) for r in d["unfilled"]],
            defects=d["defects"],
        )

    def points_in(self, ranges: list[tuple[str, str]], start_ns: int, end_ns: int) -> int:
        """How many grid points of ``ranges`` fall inside [start_ns, end_ns]."""
        total = 0
        for a, b in ranges:
            lo, hi = max(_ns(a), start_ns), min(_ns(b), end_ns)
            if hi >= lo:
                first = lo + (-(lo - _ns(a)) % self.step_ns)
                total += 0 if first > hi else (hi - first) // self.step_ns + 1
        return total


def write_manifest(
    catalog_dir: Path, fingerprint: str, data_dir: Path, coverages: list[SeriesCoverage]
) -> None:
    payload = {
        "fingerprint": fingerprint,
        "data_dir": str(data_dir),
        "built_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "series": {c.key: c.as_dict() for c in coverages},
    }
    (catalog_dir / MANIFEST_FILE).write_text(json.dumps(payload, indent=1))


@dataclass(frozen=True)
class WindowReport:
    """What a run over one window should tell its user about the data it used."""

    proxies: dict[str, dict[str, object]]
    warnings: list[str]


class CatalogManifest:
    """Read access to ``manifest.json`` of a built catalog."""

    def __init__(self, catalog_dir: Path) -> None:
        path = catalog_dir / MANIFEST_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{catalog_dir} is not a built catalog (no {MANIFEST_FILE}); "
                "build it with `python -m data_catalog build`",
            )
        payload = json.loads(path.read_text())
        self.data_dir = payload.get("data_dir")
        self.series = {k: SeriesCoverage.from_dict(v) for k, v in payload["series"].items()}

    def coverage(self, key: str) -> SeriesCoverage:
        try:
            return self.series[key]
        except KeyError:
            raise KeyError(f"series {key!r} is not in the catalog (known: {sorted(self.series)})") from None

    def check_window(self, keys: list[str], start_ns: int, end_ns: int) -> None:
        """Raise :class:`WindowOutsideDataError` unless every series covers [start, end]."""
        problems = []
        for key in keys:
            cov = self.coverage(key)
            if cov.first is None or cov.last is None:
                problems.append(f"{key}: no data at all")
                continue
            # a window may open up to one step before a series' first row: decisions wait for it
            if start_ns < _ns(cov.first) - cov.step_ns or end_ns > _ns(cov.last) + cov.step_ns:
                problems.append(f"{key}: data covers {cov.first} .. {cov.last}")
        if problems:
            raise WindowOutsideDataError(
                f"window {iso(start_ns)} .. {iso(end_ns)} is outside the data of:\n  - "
                + "\n  - ".join(problems),
            )

    def window_report(self, keys: list[str], start_ns: int, end_ns: int) -> WindowReport:
        """Proxies used and defects repaired inside [start, end] for the series a run uses."""
        proxies: dict[str, dict[str, object]] = {}
        warnings: list[str] = []
        for key in keys:
            cov = self.coverage(key)
            total = cov.points_in([(cov.first, cov.last)], start_ns, end_ns) if cov.first and cov.last else 0
            used = {src: cov.points_in(r, start_ns, end_ns) for src, (r, _) in cov.proxied.items()}
            used = {src: n for src, n in used.items() if n}
            if used:
                proxies[key] = {
                    "rows_in_window": total,
                    "from_proxy": used,
                    "share": round(sum(used.values()) / total, 4) if total else None,
                }
                share = sum(used.values()) / total if total else 0.0
                warnings.append(
                    f"{key}: {sum(used.values())} of {total} {cov.kind} rows in the window come from proxies "
                    f"{used} ({share:.1%})",
                )
            holes = cov.points_in(cov.unfilled, start_ns, end_ns)
            if holes:
                warnings.append(f"{key}: {holes} {cov.kind} rows missing in the window (no proxy had them)")
            for d in cov.defects:
                if d["kind"] == "caveat":
                    warnings.append(f"{key}: {d['decision']}")
                    continue
                if d["kind"] in ("hole", "no_data"):
                    continue  # reported above as proxied or missing rows
                stamps = d.get("timestamps") or []
                offset = raw_stamp_offset(cov.kind)  # raw bar rows are stamped an hour before ts_event
                inside = sum(1 for t in stamps if start_ns <= t + offset <= end_ns)
                if inside or not stamps:
                    count = inside if stamps else d["count"]
                    warnings.append(
                        f"{key}: {count} {d['kind']} rows in the window's raw data: {d['decision']}"
                    )
        return WindowReport(proxies, warnings)
