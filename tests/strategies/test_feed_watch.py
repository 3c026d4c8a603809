"""Stale feeds: a feed silent beyond its interval × tolerance, aged from its last point or, never
heard from, from the strategy's first decision."""

from __future__ import annotations

import pytest

from adapters.hours import HOUR_NS
from strategies.feed_watch import FUNDING_INTERVAL_NS, FeedWatch


def _watch() -> FeedWatch:
    watch = FeedWatch(stale_after_intervals=3.0)
    watch.expect("bars X", HOUR_NS)
    watch.expect("funding X", FUNDING_INTERVAL_NS)
    return watch


def test_a_feed_goes_stale_beyond_its_intervals_and_comes_back_with_a_point():
    watch = _watch()
    watch.seen("bars X", 10 * HOUR_NS)
    watch.seen("funding X", 8 * HOUR_NS)
    watch.start(10 * HOUR_NS)
    assert watch.stale(13 * HOUR_NS) == []  # exactly 3 intervals: not beyond
    (stale,) = watch.stale(13 * HOUR_NS + 1)
    assert stale.feed == "bars X" and stale.age_ns == 3 * HOUR_NS + 1
    assert "bars X silent for 3.0 h (expected every 1 h)" in stale.describe()
    watch.seen("bars X", 14 * HOUR_NS)
    assert watch.stale(14 * HOUR_NS) == []
    assert [s.feed for s in watch.stale(32 * HOUR_NS + 1)] == ["bars X", "funding X"]  # 24 h + 1 ns


def test_a_feed_never_heard_from_is_aged_from_the_first_decision_only():
    watch = _watch()
    watch.seen("bars X", 5 * HOUR_NS)
    assert watch.ages(100 * HOUR_NS)["funding X"] is None  # no decision yet: unknown, not stale
    assert [s.feed for s in watch.stale(100 * HOUR_NS)] == ["bars X"]
    watch.start(6 * HOUR_NS)
    watch.start(50 * HOUR_NS)  # only the first decision counts
    assert watch.ages(30 * HOUR_NS + 1)["funding X"] == 24 * HOUR_NS + 1
    assert "funding X" in [s.feed for s in watch.stale(30 * HOUR_NS + 1)]


def test_unknown_feeds_are_ignored_and_the_state_survives_a_save():
    watch = _watch()
    watch.seen("gas price", HOUR_NS)  # not expected: not tracked
    watch.seen("bars X", 2 * HOUR_NS)
    watch.seen("bars X", HOUR_NS)  # a late point never moves the last one back
    watch.start(3 * HOUR_NS)
    restored = _watch()
    restored.load_json(watch.to_json())
    assert (
        restored.ages(7 * HOUR_NS)
        == watch.ages(7 * HOUR_NS)
        == {"bars X": 5 * HOUR_NS, "funding X": 4 * HOUR_NS}
    )


def test_a_tolerance_below_one_interval_is_refused():
    with pytest.raises(ValueError, match="stale_after_intervals must be >= 1"):
        FeedWatch(0.5)
