"""Defect detection and repair for raw history, one explicit decision per defect.

Every function takes a frame with an integer ``ts`` column (UTC nanoseconds) and returns the
repaired frame plus the :class:`Defect` records saying what was found and what was done. Nothing
is fixed silently: the catalog build writes every record to its validation report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from adapters.hours import HOUR_NS


@dataclass(frozen=True)
class Defect:
    """One kind of defect found in one series, and the decision taken about it."""

    series: str
    kind: str
    count: int
    decision: str
    first: str | None = None
    last: str | None = None
    examples: tuple[str, ...] = field(default_factory=tuple)
    timestamps: tuple[int, ...] = field(default_factory=tuple)
    """Raw-file stamps (UTC ns) of every affected row, so a run can count those in its window."""

    def as_dict(self) -> dict[str, object]:
        return {
            "series": self.series,
            "kind": self.kind,
            "count": self.count,
            "decision": self.decision,
            "first": self.first,
            "last": self.last,
            "examples": list(self.examples),
            "timestamps": list(self.timestamps),
        }


def iso(ts_ns: int) -> str:
    return pd.Timestamp(int(ts_ns), tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def make_defect(
    series: str, kind: str, ts: Sequence[int], decision: str, examples: Sequence[str] = ()
) -> Defect:
    ordered = sorted(int(t) for t in ts)
    return Defect(
        series=series,
        kind=kind,
        count=len(ordered),
        decision=decision,
        first=iso(ordered[0]) if ordered else None,
        last=iso(ordered[-1]) if ordered else None,
        examples=tuple(examples[:5]) if examples else tuple(iso(t) for t in ordered[:5]),
        timestamps=tuple(ordered),
    )


def parse_timestamps(
    frame: pd.DataFrame, column: str, unit: str | None, series: str
) -> tuple[pd.DataFrame, list[Defect]]:
    """Add the ``ts`` column (ns) from ``column``; unparseable rows are dropped and reported."""
    raw = frame[column]
    if unit is None:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    else:
        parsed = pd.to_datetime(pd.to_numeric(raw, errors="coerce"), unit=unit, utc=True, errors="coerce")
    bad = parsed.isna()
    out = frame.loc[~bad].copy()
    out["ts"] = parsed[~bad].dt.as_unit("ns").astype("int64").to_numpy()
    defects = []
    if bad.any():
        defects.append(
            Defect(
                series=series,
                kind="unparseable_timestamp",
                count=int(bad.sum()),
                decision="dropped the rows",
                examples=tuple(str(v) for v in raw[bad].head(5)),
            ),
        )
    return out, defects


def sort_rows(frame: pd.DataFrame, series: str) -> tuple[pd.DataFrame, list[Defect]]:
    """Sort by time; out-of-order rows are reported (the sort is stable, file order kept on ties)."""
    ts = frame["ts"].to_numpy()
    back = np.flatnonzero(np.diff(ts) < 0) + 1
    if len(back) == 0:
        return frame, []
    defect = make_defect(series, "out_of_order", ts[back], "sorted by timestamp")
    return frame.sort_values("ts", kind="stable").reset_index(drop=True), [defect]


def drop_bad_values(
    frame: pd.DataFrame, columns: Sequence[str], series: str, *, positive: bool
) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop rows whose ``columns`` are NaN (or, with ``positive``, <= 0); they become holes."""
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().any(axis=1)
    if positive:
        bad |= (values <= 0).any(axis=1)
    if not bad.any():
        return frame.assign(**{c: values[c] for c in columns}), []
    what = "NaN or non-positive" if positive else "NaN"
    defect = make_defect(
        series, "bad_value", frame.loc[bad, "ts"], f"dropped rows with {what} {', '.join(columns)}"
    )
    return frame.loc[~bad].assign(**{c: values.loc[~bad, c] for c in columns}), [defect]


def repair_volume(frame: pd.DataFrame, series: str) -> tuple[pd.DataFrame, list[Defect]]:
    """Set NaN, non-numeric or negative volumes to 0: the prices stay usable, volume is informative only."""
    volume = pd.to_numeric(frame["volume"], errors="coerce")
    bad = volume.isna() | (volume < 0)
    if not bad.any():
        return frame.assign(volume=volume), []
    defect = make_defect(
        series, "bad_volume", frame.loc[bad, "ts"], "set NaN/negative volume to 0 (prices kept)"
    )
    return frame.assign(volume=volume.where(~bad, 0.0)), [defect]


def drop_inconsistent_ohlc(frame: pd.DataFrame, series: str) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop rows violating low <= open, close <= high: the row itself is wrong, so none of its
    prices can be trusted (widening high/low would turn e.g. a cut close into a price); the hour
    becomes a hole, filled from the series' proxies like any other."""
    hi = frame[["open", "close", "low"]].max(axis=1)
    lo = frame[["open", "close", "high"]].min(axis=1)
    bad = (hi > frame["high"]) | (lo < frame["low"])
    if not bad.any():
        return frame, []
    examples = [
        f"{iso(t)}: open {o:g} high {h:g} low {lo_:g} close {c:g}"
        for t, o, h, lo_, c in frame.loc[bad, ["ts", "open", "high", "low", "close"]]
        .head(5)
        .itertuples(index=False)
    ]
    defect = make_defect(
        series,
        "ohlc_inconsistent",
        frame.loc[bad, "ts"],
        "dropped the rows (open or close outside their own high/low): filled like holes",
        examples,
    )
    return frame.loc[~bad], [defect]


def drop_short_rows(frame: pd.DataFrame, short: pd.Series, series: str) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop rows with fewer fields than the header (e.g. a last line cut mid-field): a cut value
    is a different number, never data; the hour becomes a hole, filled like any other."""
    if not short.any():
        return frame, []
    defect = make_defect(
        series,
        "short_row",
        frame.loc[short, "ts"],
        "dropped the rows (fewer fields than the header: cut or incomplete): filled like holes",
    )
    return frame.loc[~short], [defect]


def drop_off_grid(
    frame: pd.DataFrame, step_ns: int, series: str, offset_ns: int = 0
) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop rows whose timestamp is not on the ``step_ns`` grid (e.g. an hourly bar at 10:30)."""
    bad = (frame["ts"] - offset_ns) % step_ns != 0
    if not bad.any():
        return frame, []
    defect = make_defect(
        series, "off_grid", frame.loc[bad, "ts"], "dropped rows not aligned to the series grid"
    )
    return frame.loc[~bad], [defect]


def split_duplicates(
    frame: pd.DataFrame, value_columns: Sequence[str], series: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[Defect]]:
    """Collapse identical duplicate rows; return (unique rows, conflicting rows, defects).

    Conflicting duplicates (same timestamp, different values) are returned separately so they can
    be resolved against other venues' data (:func:`resolve_conflicts`).
    """
    cols = ["ts", *value_columns]
    dup_all = frame.duplicated(subset=cols, keep="first")
    defects: list[Defect] = []
    if dup_all.any():
        defects.append(make_defect(series, "duplicate", frame.loc[dup_all, "ts"], "identical rows: kept one"))
    deduped = frame.loc[~dup_all]
    conflicting = deduped["ts"].duplicated(keep=False)
    return deduped.loc[~conflicting], deduped.loc[conflicting], defects


def resolve_conflicts(
    conflicts: pd.DataFrame,
    value_column: str,
    reference: pd.Series | None,
    series: str,
) -> tuple[pd.DataFrame, list[Defect]]:
    """Keep, per conflicting timestamp, the row closest to the cross-venue reference value.

    The reference is the median of the same quantity on the other venues at that timestamp (e.g.
    Binance and Bybit funding for an OKX print). Without a reference the last row in file order
    is kept. Each choice is reported with the kept and rejected values.
    """
    if conflicts.empty:
        return conflicts, []
    kept_index = []
    examples: list[str] = []
    by_reference = 0
    for ts, group in conflicts.groupby("ts", sort=True):
        ref = reference.get(ts) if reference is not None else None
        if ref is not None and np.isfinite(ref):
            idx = (group[value_column] - ref).abs().idxmin()
            by_reference += 1
        else:
            idx = group.index[-1]
        kept = group.loc[idx]
        kept_index.append(idx)
        rejected = [v for i, v in group[value_column].items() if i != idx]
        if len(examples) < 5:
            examples.append(
                f"{iso(int(ts))}: kept {kept[value_column]:.10g}, rejected {rejected}, reference {ref}"
            )
    resolved = conflicts.loc[kept_index]
    decision = (
        f"kept the value closest to the other venues' median ({by_reference} timestamps), "
        f"else the last row ({len(resolved) - by_reference})"
    )
    timestamps = resolved["ts"].tolist()
    return resolved, [make_defect(series, "conflicting_duplicate", timestamps, decision, examples)]


def missing_on_grid(ts: np.ndarray, start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
    """Grid timestamps in [start_ns, end_ns] that ``ts`` lacks."""
    count = (end_ns - start_ns) // step_ns + 1  # integer maths: np.arange loses ns precision
    grid = start_ns + step_ns * np.arange(max(count, 0), dtype=np.int64)
    return grid[~np.isin(grid, ts)]


def hour_ranges(ts: Sequence[int] | np.ndarray, step_ns: int = HOUR_NS) -> list[tuple[str, str]]:
    """Compress sorted grid timestamps into inclusive ``(first, last)`` ISO ranges."""
    arr = np.asarray(sorted(int(t) for t in ts), dtype=np.int64)
    if arr.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(arr) != step_ns) + 1
    return [(iso(chunk[0]), iso(chunk[-1])) for chunk in np.split(arr, breaks)]
