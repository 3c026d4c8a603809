"""The live path: the same features, one bar at a time, from a rolling buffer.

:class:`FeatureState` keeps the last :func:`~signals.features.lookback_rows` hourly input rows —
built exactly like :func:`signals.inputs.assemble_inputs` builds them (spot close at the same stamp,
latest funding print at or before it, an all-NaN row for a missing hour) — and runs
:func:`signals.features.feature_arrays`, the batch function, on that buffer. The last row is the
feature row of the newest bar, identical to the batch value at that stamp (tested on real data).

Feed order per stamp: funding prints and the spot bar first, then the perp bar (the backtest
engine delivers data stamped ``t`` in that order when the perp is the strategy's required leg).
Live, they can come the other way round — a Binance kline closes at …:59:59.999, the funding print
of that hour is stamped at the round hour, and spot and perp klines come on separate streams — so
the rows keep only the perp's OHLCV and look the spot close and the funding print up each time the
features are computed: a late spot bar or print is missing from the call of that hour only, never
from the rows later calls read.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np
from nautilus_trader.model.data import Bar, FundingRateUpdate

from adapters.hours import HOUR_NS, closing_hour
from signals.config import SignalConfig
from signals.features import FEATURES, feature_arrays, forecast_sd, lookback_rows

_BAR_COLUMNS = ("open", "high", "low", "close", "volume")
"""The perp's own :data:`~signals.inputs.INPUT_COLUMNS`; the other two are looked up per row."""
_NAN_ROW = (np.nan,) * len(_BAR_COLUMNS)


@dataclass(frozen=True)
class FeatureRow:
    """Features of the bar closing at ``ts_ns`` and the forecast sd over the horizon."""

    ts_ns: int
    values: np.ndarray
    """In :data:`~signals.features.FEATURES` order (NaN while the buffer warms up)."""
    sd: float

    @property
    def features(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.values.tolist(), strict=True))

    @property
    def complete(self) -> bool:
        """Every feature is known (the buffer holds a full lookback of bars)."""
        return bool(np.isfinite(self.values).all())

    @property
    def predictable(self) -> bool:
        """The batch build predicts a row when its forecast sd is known and positive."""
        return bool(np.isfinite(self.sd) and self.sd > 0)


class FeatureState:
    """Rolling inputs of one perp (plus its spot pair and funding) for live feature rows."""

    def __init__(self, config: SignalConfig | None = None) -> None:
        self.config = config or SignalConfig()
        self.capacity = lookback_rows(self.config.vol_halflife_hours)
        self._rows: deque[tuple[float, ...]] = deque(maxlen=self.capacity)
        """The perp's OHLCV per hour; the spot close and funding are looked up when computing."""
        self._hours: deque[int | None] = deque(maxlen=self.capacity)
        """Each row's stamp (None for an hour without a perp bar: a row of NaN, as on the batch grid)."""
        self._last_ts: int | None = None
        self._spot: dict[int, float] = {}
        self._funding_ts: list[int] = []
        self._funding_rate: list[float] = []

    @property
    def warm(self) -> bool:
        """The buffer holds a full lookback: the newest row equals the batch row at its stamp
        (before that, features reaching past the first streamed bar are NaN or partial)."""
        return len(self._rows) == self.capacity

    @property
    def last_ts(self) -> int | None:
        """Stamp of the newest perp bar (None before the first)."""
        return self._last_ts

    # -- inputs ------------------------------------------------------------------------------

    def add_funding(self, ts_ns: int, rate: float) -> None:
        """A funding print stamped ``ts_ns`` (the rate applies to bars stamped at or after it)."""
        i = bisect.bisect_right(self._funding_ts, ts_ns)
        if i and self._funding_ts[i - 1] == ts_ns:
            self._funding_rate[i - 1] = rate
            return
        self._funding_ts.insert(i, ts_ns)
        self._funding_rate.insert(i, rate)
        self._prune_funding()

    def _prune_funding(self) -> None:
        """Drop prints no row can read: all but the latest at or before the oldest row."""
        if self._last_ts is None:
            return
        oldest = self._last_ts - (self.capacity - 1) * HOUR_NS
        keep_from = bisect.bisect_right(self._funding_ts, oldest) - 1
        if keep_from > 0:
            del self._funding_ts[:keep_from], self._funding_rate[:keep_from]

    def add_spot_close(self, ts_ns: int, close: float) -> None:
        """The spot bar closing at ``ts_ns`` (the perp bar of that stamp sees it if added first)."""
        self._spot[ts_ns] = close
        if len(self._spot) > 2 * self.capacity:
            oldest = max(self._spot) - self.capacity * HOUR_NS
            self._spot = {t: c for t, c in self._spot.items() if t > oldest}

    def add_bar(
        self, ts_ns: int, open_: float, high: float, low: float, close: float, volume: float
    ) -> FeatureRow:
        """The perp bar closing at ``ts_ns``: appended (a repeated stamp replaces the last row) and
        the newest feature row returned."""
        if self._last_ts is not None:
            step = ts_ns - self._last_ts
            if step < 0 or step % HOUR_NS:
                raise ValueError(
                    f"bar at {ts_ns} is not a whole number of hours after the previous one at {self._last_ts}"
                )
            if step == 0:
                self._rows.pop()
                self._hours.pop()
            for _ in range(min(step // HOUR_NS - 1, self.capacity)):
                self._rows.append(_NAN_ROW)  # missing hours, as on the batch grid
                self._hours.append(None)
        self._rows.append((open_, high, low, close, volume))
        self._hours.append(ts_ns)
        self._last_ts = ts_ns
        self._prune_funding()
        return self.latest()

    def on_bar(self, bar: Bar) -> FeatureRow | None:
        """Route a Nautilus bar: the spot pair's is stored, the perp's returns the feature row.

        Bars are keyed by the hour they close in (:func:`~adapters.hours.closing_hour`): live
        Binance klines are stamped …:59:59.999, the catalog's at the round hour, and both must
        meet the funding print of that round hour the same way.
        """
        instrument = str(bar.bar_type.instrument_id)
        hour = closing_hour(bar.ts_event)
        if instrument == self.config.spot_instrument_id:
            self.add_spot_close(hour, float(bar.close))
            return None
        if instrument != self.config.instrument_id:
            return None
        return self.add_bar(
            hour,
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            float(bar.volume),
        )

    def on_funding(self, update: FundingRateUpdate) -> None:
        """A funding print is stamped at its funding time. The catalog's prints are (``ts_event``);
        a venue's stream announces the rate of the coming print, ``next_funding_ns``, at any
        time before it (Binance's mark price, Bybit's and OKX's tickers): stamped at its
        ``ts_event`` the announced rate would replace the current print's from that hour on."""
        if str(update.instrument_id) == self.config.instrument_id:
            at = update.next_funding_ns if update.next_funding_ns is not None else update.ts_event
            self.add_funding(at, float(update.rate))

    # -- output ------------------------------------------------------------------------------

    def _funding_at(self, ts_ns: int) -> float:
        i = bisect.bisect_right(self._funding_ts, ts_ns)
        return self._funding_rate[i - 1] if i else np.nan

    def latest(self) -> FeatureRow:
        """Feature row of the newest bar (computed by the batch feature function on the buffer)."""
        if self._last_ts is None:
            raise ValueError("no bar yet")
        bars = np.array(self._rows, dtype="float64")
        inputs = {c: np.ascontiguousarray(bars[:, j]) for j, c in enumerate(_BAR_COLUMNS)}
        inputs["spot_close"] = np.array(
            [self._spot.get(t, np.nan) if t is not None else np.nan for t in self._hours]
        )
        inputs["funding_rate"] = np.array(
            [self._funding_at(t) if t is not None else np.nan for t in self._hours]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            arrays = feature_arrays(inputs, self.config.vol_halflife_hours)
        values = np.array([arrays[name][-1] for name in FEATURES])
        sd = float(forecast_sd(values[FEATURES.index("vol_ewma")], self.config.horizon_hours))
        return FeatureRow(self._last_ts, values, sd)
