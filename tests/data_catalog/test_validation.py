"""Unit tests of the defect detectors/repairs in :mod:`data_catalog.validation`.

Every test feeds a small hand-made frame at realistic timestamps (~1.7e18 ns, where float64 can no
longer hold every nanosecond) and asserts the exact rows kept and the exact defect record, with the
expected values worked out by hand in the test rather than read back from the code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from adapters.hours import HOUR_NS
from data_catalog.validation import (
    Defect,
    drop_bad_values,
    drop_inconsistent_ohlc,
    drop_off_grid,
    hour_ranges,
    make_defect,
    missing_on_grid,
    parse_timestamps,
    resolve_conflicts,
    sort_rows,
    split_duplicates,
)

T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
"""2024-03-01T00:00:00Z in ns (1_709_251_200_000_000_000), computed without pandas."""
H = HOUR_NS
assert H == 3600 * 10**9
SERIES = "TEST.VENUE"


def hours(*offsets: float) -> list[int]:
    """Timestamps ``T0 + k hours`` (ns) for each offset ``k``."""
    return [T0 + int(k * H) for k in offsets]


def only(defects: list[Defect]) -> Defect:
    """The single defect record a call is expected to return."""
    assert len(defects) == 1, defects
    return defects[0]


# --- parse_timestamps -------------------------------------------------------------------------


def test_parse_iso_timestamps_drops_and_counts_garbage() -> None:
    """ISO strings (CEX files) become int64 ns; unparseable rows are dropped, counted and shown."""
    frame = pd.DataFrame(
        {
            "timestamp": ["2024-03-01T00:00:00Z", "garbage", "2024-03-01T01:00:00Z", "", "2024-13-01T00:00Z"],
            "close": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    out, defects = parse_timestamps(frame, "timestamp", None, SERIES)

    assert out["ts"].dtype == np.int64
    assert out["ts"].tolist() == [T0, T0 + H]
    assert out["close"].tolist() == [1.0, 3.0]
    d = only(defects)
    assert (d.series, d.kind, d.count, d.decision) == (SERIES, "unparseable_timestamp", 3, "dropped the rows")
    assert d.examples == ("garbage", "", "2024-13-01T00:00Z")


def test_parse_iso_timestamps_keeps_nanoseconds_and_offsets() -> None:
    """Fractional seconds survive to the nanosecond and non-UTC offsets are converted to UTC."""
    frame = pd.DataFrame(
        {"timestamp": ["2024-03-01T00:00:00.123456789Z", "2024-03-01T03:00:00+02:00", "2024-03-01 02:00:00"]}
    )
    out, defects = parse_timestamps(frame, "timestamp", None, SERIES)

    assert defects == []
    assert out["ts"].tolist() == [T0 + 123_456_789, T0 + H, T0 + 2 * H]


def test_parse_unix_seconds_drops_and_counts_garbage() -> None:
    """Unix seconds (the DEX pool files) become exact ns; a non-number row is dropped and counted."""
    seconds = T0 // 1_000_000_000
    frame = pd.DataFrame({"timestamp": [str(seconds), "abc", str(seconds + 7200)], "close": [1.0, 2.0, 3.0]})
    out, defects = parse_timestamps(frame, "timestamp", "s", SERIES)

    assert out["ts"].tolist() == [T0, T0 + 2 * H]
    assert out["ts"].dtype == np.int64
    assert out["close"].tolist() == [1.0, 3.0]
    d = only(defects)
    assert (d.kind, d.count, d.examples) == ("unparseable_timestamp", 1, ("abc",))


def test_parse_unix_seconds_integer_column_has_no_defect() -> None:
    """A clean integer column parses without any defect record."""
    seconds = T0 // 1_000_000_000
    frame = pd.DataFrame({"timestamp": [seconds, seconds + 3600]})
    out, defects = parse_timestamps(frame, "timestamp", "s", SERIES)

    assert defects == []
    assert out["ts"].tolist() == [T0, T0 + H]


# --- sort_rows --------------------------------------------------------------------------------


def test_sort_rows_reports_rows_that_step_back_and_sorts_stably() -> None:
    """Rows earlier than their predecessor are reported; ties keep file order (a before b)."""
    frame = pd.DataFrame({"ts": hours(0, 2, 1, 3, 1), "id": ["h0", "h2", "h1a", "h3", "h1b"]})
    out, defects = sort_rows(frame, SERIES)

    assert out["id"].tolist() == ["h0", "h1a", "h1b", "h2", "h3"]
    assert out["ts"].tolist() == hours(0, 1, 1, 2, 3)
    assert list(out.index) == [0, 1, 2, 3, 4]
    d = only(defects)
    # positions 2 (h1a after h2) and 4 (h1b after h3) step back
    assert (d.kind, d.count, d.decision) == ("out_of_order", 2, "sorted by timestamp")
    assert d.timestamps == (T0 + H, T0 + H)
    assert (d.first, d.last) == ("2024-03-01T01:00:00Z", "2024-03-01T01:00:00Z")


def test_sort_rows_leaves_sorted_frame_alone() -> None:
    """An already ordered frame (ties allowed) yields no defect and is returned as is."""
    frame = pd.DataFrame({"ts": hours(0, 1, 1, 2)})
    out, defects = sort_rows(frame, SERIES)

    assert defects == []
    assert out["ts"].tolist() == hours(0, 1, 1, 2)


# --- drop_bad_values --------------------------------------------------------------------------


def test_drop_bad_values_drops_nan_zero_negative_and_text_prices() -> None:
    """For bars every NaN, zero, negative or non-numeric price makes the row a hole."""
    frame = pd.DataFrame(
        {
            "ts": hours(0, 1, 2, 3, 4, 5),
            "open": [10.0, 10.0, 0.0, 10.0, 10.0, 10.0],
            "high": [12.0, 12.0, 12.0, 12.0, "oops", 12.0],
            "low": [9.0, 9.0, 9.0, -1.0, 9.0, 9.0],
            "close": [11.0, np.nan, 11.0, 11.0, 11.0, "11.5"],
        }
    )
    out, defects = drop_bad_values(frame, ("open", "high", "low", "close"), SERIES, positive=True)

    assert out["ts"].tolist() == hours(0, 5)
    assert out["close"].tolist() == [11.0, 11.5]
    assert out["high"].dtype == np.float64
    d = only(defects)
    assert (d.kind, d.count) == ("bad_value", 4)
    assert d.timestamps == tuple(hours(1, 2, 3, 4))
    assert "NaN or non-positive" in d.decision


def test_drop_bad_values_keeps_negative_and_zero_funding() -> None:
    """Negative funding is real (longs are paid), so only NaN / text rates are dropped."""
    frame = pd.DataFrame({"ts": hours(0, 8, 16, 24, 32), "funding_rate": [1e-4, -2e-4, 0.0, np.nan, "x"]})
    out, defects = drop_bad_values(frame, ("funding_rate",), SERIES, positive=False)

    assert out["ts"].tolist() == hours(0, 8, 16)
    assert out["funding_rate"].tolist() == [1e-4, -2e-4, 0.0]
    d = only(defects)
    assert (d.kind, d.count, d.timestamps) == ("bad_value", 2, tuple(hours(24, 32)))
    assert "non-positive" not in d.decision


def test_drop_bad_values_clean_frame_has_no_defect() -> None:
    """Numeric strings are converted, nothing is dropped and nothing is reported."""
    frame = pd.DataFrame({"ts": hours(0, 1), "gas_price_gwei": ["12.5", "3"]})
    out, defects = drop_bad_values(frame, ("gas_price_gwei",), SERIES, positive=True)

    assert defects == []
    assert out["gas_price_gwei"].tolist() == [12.5, 3.0]


# --- drop_inconsistent_ohlc -------------------------------------------------------------------


def test_rows_with_open_or_close_outside_their_high_low_are_dropped() -> None:
    """Such a row is wrong as a whole (high/low are not widened); good rows stay untouched."""
    frame = pd.DataFrame(
        {
            "ts": hours(0, 1, 2, 3, 4),
            "open": [10.0, 10.0, 10.0, 13.0, 10.0],
            "high": [12.0, 9.5, 12.0, 12.0, 9.0],
            "low": [9.0, 9.0, 10.5, 11.0, 11.0],
            "close": [11.0, 11.0, 11.0, 11.5, 10.0],
        }
    )
    out, defects = drop_inconsistent_ohlc(frame, SERIES)

    assert out["ts"].tolist() == hours(0)
    assert out[["open", "high", "low", "close"]].values.tolist() == [[10.0, 12.0, 9.0, 11.0]]
    d = only(defects)
    assert (d.kind, d.count, d.timestamps) == ("ohlc_inconsistent", 4, tuple(hours(1, 2, 3, 4)))
    assert d.decision.startswith("dropped the rows")


def test_consistent_ohlc_rows_have_no_defect() -> None:
    """A consistent frame (open/close on the high/low edges included) is not reported."""
    frame = pd.DataFrame({"ts": hours(0), "open": [9.0], "high": [11.0], "low": [9.0], "close": [11.0]})
    out, defects = drop_inconsistent_ohlc(frame, SERIES)

    assert defects == []
    assert out.equals(frame)


# --- drop_off_grid ----------------------------------------------------------------------------


def test_drop_off_grid_drops_rows_between_grid_points() -> None:
    """A bar stamped at 01:30 on an hourly grid is dropped and reported."""
    frame = pd.DataFrame({"ts": hours(0, 1, 1.5, 2)})
    out, defects = drop_off_grid(frame, H, SERIES)

    assert out["ts"].tolist() == hours(0, 1, 2)
    d = only(defects)
    assert (d.kind, d.count, d.timestamps) == ("off_grid", 1, (T0 + H + H // 2,))


# --- split_duplicates / resolve_conflicts -----------------------------------------------------


def test_split_duplicates_collapses_identical_and_separates_conflicting() -> None:
    """Identical copies are collapsed (reported); same-time rows with different values are set aside."""
    frame = pd.DataFrame(
        {
            "ts": hours(0, 1, 1, 2, 2, 3, 3, 3),
            "close": [1.0, 2.0, 2.0, 3.0, 3.5, 4.0, 4.0, 4.5],
            "volume": [1.0] * 8,
        }
    )
    unique, conflicts, defects = split_duplicates(frame, ("close", "volume"), SERIES)

    assert unique["ts"].tolist() == hours(0, 1)
    assert unique["close"].tolist() == [1.0, 2.0]
    assert conflicts["ts"].tolist() == hours(2, 2, 3, 3)
    assert conflicts["close"].tolist() == [3.0, 3.5, 4.0, 4.5]
    d = only(defects)
    assert (d.kind, d.count, d.decision) == ("duplicate", 2, "identical rows: kept one")
    assert d.timestamps == tuple(hours(1, 3))


def test_split_duplicates_any_value_column_makes_a_conflict() -> None:
    """Same close but a different volume is a conflict, not an identical duplicate."""
    frame = pd.DataFrame({"ts": hours(0, 0), "close": [1.0, 1.0], "volume": [5.0, 6.0]})
    unique, conflicts, defects = split_duplicates(frame, ("close", "volume"), SERIES)

    assert defects == []
    assert unique.empty
    assert conflicts["volume"].tolist() == [5.0, 6.0]


def _funding_conflicts() -> pd.DataFrame:
    """Three conflicting funding prints, each a plausible value paired with another one.

    The stamps carry odd nanoseconds so any trip through float64 would change them.
    """
    odd = 123_456_789
    return pd.DataFrame(
        {
            "ts": [
                T0 + odd,
                T0 + odd,
                T0 + 8 * H + odd,
                T0 + 8 * H + odd,
                T0 + 16 * H + odd,
                T0 + 16 * H + odd,
            ],
            "funding_rate": [0.0001, 0.00021, 0.0003, 0.0001, 0.0001, 0.0005],
        }
    )


def test_resolve_conflicts_keeps_value_closest_to_reference_median() -> None:
    """Per timestamp the print nearest the other venues' median wins (0.0001 is not special-cased)."""
    conflicts = _funding_conflicts()
    ts = sorted(set(conflicts["ts"]))
    # |0.00021-0.00022| < |0.0001-0.00022|; |0.0003-0.00022| < |0.0001-0.00022|; |0.0001-0.00012| wins
    reference = pd.Series([0.00022, 0.00022, 0.00012], index=ts)
    resolved, defects = resolve_conflicts(conflicts, "funding_rate", reference, SERIES)

    assert resolved["ts"].tolist() == ts
    assert resolved["funding_rate"].tolist() == [0.00021, 0.0003, 0.0001]
    d = only(defects)
    assert (d.kind, d.count) == ("conflicting_duplicate", 3)
    assert d.timestamps == tuple(ts)
    assert "(3 timestamps)" in d.decision
    assert "last row (0)" in d.decision


def test_resolve_conflicts_without_reference_keeps_last_row() -> None:
    """No reference at all, a reference lacking the stamp, or a NaN reference: the last row wins."""
    conflicts = _funding_conflicts()
    ts = sorted(set(conflicts["ts"]))

    resolved, defects = resolve_conflicts(conflicts, "funding_rate", None, SERIES)
    assert resolved["funding_rate"].tolist() == [0.00021, 0.0001, 0.0005]
    assert "(0 timestamps)" in only(defects).decision
    assert "last row (3)" in only(defects).decision

    partial = pd.Series([0.00022, np.nan], index=ts[:2])  # ts[1] NaN, ts[2] absent
    resolved, defects = resolve_conflicts(conflicts, "funding_rate", partial, SERIES)
    assert resolved["funding_rate"].tolist() == [0.00021, 0.0001, 0.0005]
    assert "(1 timestamps)" in only(defects).decision
    assert "last row (2)" in only(defects).decision


def test_resolve_conflicts_keeps_integer_nanosecond_ts() -> None:
    """The resolved frame keeps int64 ``ts`` to the nanosecond (a float64 ``ts`` once lost precision)."""
    conflicts = _funding_conflicts()
    resolved, _ = resolve_conflicts(conflicts, "funding_rate", None, SERIES)

    assert resolved["ts"].dtype == np.int64
    assert resolved["ts"].tolist() == [
        1_709_251_200_123_456_789,
        1_709_280_000_123_456_789,
        1_709_308_800_123_456_789,
    ]


def test_resolve_conflicts_empty_input() -> None:
    """No conflicts: nothing resolved and nothing reported."""
    empty = pd.DataFrame({"ts": pd.Series([], dtype=np.int64), "funding_rate": pd.Series([], dtype=float)})
    resolved, defects = resolve_conflicts(empty, "funding_rate", None, SERIES)

    assert resolved.empty
    assert defects == []


# --- missing_on_grid / hour_ranges ------------------------------------------------------------


def test_missing_on_grid_includes_the_end_point() -> None:
    """Holes are found on the exact grid [start, end], end included, at 1.7e18 ns magnitudes."""
    have = np.array(hours(0, 1, 2, 4, 5, 6, 8, 9), dtype=np.int64)
    missing = missing_on_grid(have, T0, T0 + 10 * H, H)

    assert missing.dtype == np.int64
    assert missing.tolist() == hours(3, 7, 10)


def test_missing_on_grid_only_end_point_missing() -> None:
    """A series lacking just its last grid point reports exactly that point."""
    end = T0 + 240 * H
    have = np.array([T0 + k * H for k in range(240)], dtype=np.int64)

    assert missing_on_grid(have, T0, end, H).tolist() == [end]


def test_missing_on_grid_funding_grid_and_degenerate_ranges() -> None:
    """8-hour grid; an end between grid points stops at the last point; end < start yields nothing."""
    have = np.array(hours(0, 16), dtype=np.int64)

    assert missing_on_grid(have, T0, T0 + 35 * H, 8 * H).tolist() == hours(8, 24, 32)
    assert missing_on_grid(have, T0, T0, 8 * H).tolist() == []
    assert missing_on_grid(have, T0, T0 - H, H).tolist() == []


def test_hour_ranges_compresses_runs() -> None:
    """Consecutive grid points form one inclusive range; input order does not matter."""
    ts = hours(8, 0, 1, 2, 5, 7)

    assert hour_ranges(ts) == [
        ("2024-03-01T00:00:00Z", "2024-03-01T02:00:00Z"),
        ("2024-03-01T05:00:00Z", "2024-03-01T05:00:00Z"),
        ("2024-03-01T07:00:00Z", "2024-03-01T08:00:00Z"),
    ]
    assert hour_ranges([]) == []


def test_hour_ranges_with_funding_step() -> None:
    """On an 8-hour grid, prints 8 h apart are one run; a 16 h gap splits it."""
    ts = np.array(hours(0, 8, 16, 32), dtype=np.int64)

    assert hour_ranges(ts, 8 * H) == [
        ("2024-03-01T00:00:00Z", "2024-03-01T16:00:00Z"),
        ("2024-03-02T08:00:00Z", "2024-03-02T08:00:00Z"),
    ]


def test_make_defect_orders_stamps_and_limits_examples() -> None:
    """Defect records carry sorted stamps, first/last and at most five examples."""
    d = make_defect(SERIES, "hole", hours(6, 5, 4, 3, 2, 1, 0), "filled")

    assert d.count == 7
    assert d.timestamps == tuple(hours(0, 1, 2, 3, 4, 5, 6))
    assert (d.first, d.last) == ("2024-03-01T00:00:00Z", "2024-03-01T06:00:00Z")
    assert len(d.examples) == 5
    assert d.as_dict()["timestamps"] == hours(0, 1, 2, 3, 4, 5, 6)


@pytest.mark.parametrize("step", [H, 8 * H])
def test_missing_on_grid_complete_series_has_no_holes(step: int) -> None:
    """A complete series over a long span (a year and more) has no false holes."""
    count = 15_000 if step == H else 1_900
    have = T0 + step * np.arange(count, dtype=np.int64)

    assert missing_on_grid(have, int(have[0]), int(have[-1]), step).size == 0
