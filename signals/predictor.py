"""The live signal source: a Nautilus actor that makes the model's calls from streaming bars.

Backtests read the calls from the catalog; live and paper runs need them made as the bars close.
:class:`SignalPredictor` does it with the very pieces the build uses — :class:`FeatureState`
(the batch feature function on a rolling buffer), the saved model of the latest walk-forward
window (:mod:`signals.saved_model`) and the build's call decision — so on replayed history its
calls equal the catalog's bit for bit (``tests/signals/test_predictor.py``).

Each call is sent to the data engine as ``CustomData(DataType(SignalPrediction), call)``, the
form the catalog's predictions are replayed in, so subscribers see the same object on the same
topic (``data.SignalPrediction.<venue>.<symbol>``) with the same stamps (``ts_event = ts_init`` =
the round hour the bar closes in, as in the catalog, also for a live kline stamped …:59:59.999).
One difference is inherent: a replayed call stamped t arrives before the bar stamped t, a live one
right after it (it is computed from that bar).

Warm-up: the features read the last :func:`~signals.features.lookback_rows` hours, so on start the
actor requests that much perp and spot history and the funding prints before it
(``request_bars`` / ``request_funding_rates``), feeds it in stamp order (funding, spot, perp) and
only then handles the bars that arrived meanwhile. Live adapters serve these requests. A backtest
engine's data client does not (in Nautilus 1.231 ``BacktestDataClient.request_bars`` does nothing),
but its data engine serves requests from a registered catalog
(``engine.kernel.data_engine.register_catalog``): that is how the replay test warms up. Without
either, the actor warms up on the streamed bars. Until the buffer is full it publishes nothing,
because a partial-window feature would differ from the catalog's.

The model is the saved model's folder. Before each call the actor checks the manifest (one
``stat``) and, when a retrain replaced it, loads the new model — the manifest is replaced by an
atomic rename, so it always names a complete file. A model is never used for a bar stamped before
its window (it was trained on labels that end after such a bar: look-ahead).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.core.data import Data
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.data import Bar, CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId

from adapters.bars import bar_type_for
from adapters.hours import closing_hour
from adapters.signals import SignalPrediction
from signals.model import class_probabilities, decide
from signals.saved_model import LoadedModel, ModelWatcher, SavedModelError
from signals.streaming import FeatureRow, FeatureState

FUNDING_WARMUP_HOURS = 24
"""Extra hours of funding history requested before the first bar: the first row needs the latest
print at or before it, and prints come every 8 h (24 h also covers a late or missing print)."""


MODEL_SPOT_INSTRUMENT = "BTCUSDT.BINANCE_SPOT"
"""The spot pair the model's basis features read (a live node streams it for the predictor)."""


class PredictorConfig(ActorConfig, frozen=True):
    """The predictor's settings; the feature and label parameters come from the saved model."""

    model_dir: str
    """Folder of the saved model: ``<catalog>/signals/<instrument>/model``, written by
    ``python -m signals build`` and replaced by ``python -m signals retrain``."""
    instrument_id: str = "BTCUSDT-PERP.BINANCE"
    """Perp whose bars feed the features and whose calls are published; must be the model's."""
    spot_instrument_id: str = MODEL_SPOT_INSTRUMENT
    """Spot pair of the basis features; must be the model's."""
    confidence_threshold: float = 0.8
    """Calls at or above it are counted and logged as confident (default 0.8, the signal config's
    reporting threshold; the strategies apply their own from the mode config)."""
    threads: int = 1
    """OpenMP threads for prediction (default 1; the calls do not depend on it)."""
    reload: bool = True
    """Switch to a newer saved model when the manifest changes (default on)."""

    def __post_init__(self) -> None:
        if not 0 < self.confidence_threshold < 1:
            raise ValueError(f"`confidence_threshold` must be in (0, 1), got {self.confidence_threshold}")
        if self.threads < 1:
            raise ValueError(f"`threads` must be >= 1, got {self.threads}")
        for field in ("instrument_id", "spot_instrument_id"):
            if getattr(self, field).count(".") != 1:
                raise ValueError(f"`{field}` must look like SYMBOL.VENUE, got {getattr(self, field)!r}")


class SignalPredictor(Actor):
    """See the module docstring."""

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.perp_id = InstrumentId.from_str(config.instrument_id)
        self.spot_id = InstrumentId.from_str(config.spot_instrument_id)
        self.folder = Path(config.model_dir)
        self.watcher: ModelWatcher | None = None
        self.features: FeatureState | None = None
        self.calls = 0
        self.confident_calls = 0
        self._pending_requests: set[UUID4] = set()
        self._history: list[Data] = []
        self._queued: list[Data] = []
        self._early_warned = False
        self._venue_time: Callable[[], int] | None = None

    def use_venue_time(self, now_ns: Callable[[], int]) -> None:
        """Measure the warm-up window back from ``now_ns`` instead of the node's clock: the time of
        venues replaying history (their node keeps a live clock that runs ahead of it)."""
        self._venue_time = now_ns

    # -- start: model, subscriptions, warm-up ------------------------------------------------

    def on_start(self) -> None:
        try:
            self.watcher = ModelWatcher(self.folder)
        except SavedModelError as e:
            self.log.error(f"{e}; the predictor publishes nothing and stops")
            self.stop()
            return
        config = self.watcher.loaded.manifest.config
        if (config.instrument_id, config.spot_instrument_id) != (str(self.perp_id), str(self.spot_id)):
            self.log.error(
                f"the model in {self.folder} is for {config.instrument_id} / {config.spot_instrument_id}, "
                f"not {self.perp_id} / {self.spot_id}: stopping"
            )
            self.stop()
            return
        self.features = FeatureState(config)
        for instrument_id in (self.perp_id, self.spot_id):
            self.subscribe_bars(bar_type_for(instrument_id))
        self.subscribe_funding_rates(self.perp_id)
        self._request_history()

    def _request_history(self) -> None:
        assert self.features is not None
        now = self.clock.utc_now() if self._venue_time is None else pd.Timestamp(self._venue_time(), tz="UTC")
        bars_from = now - timedelta(hours=self.features.capacity)
        funding_from = bars_from - timedelta(hours=FUNDING_WARMUP_HOURS)
        spot, perp, funding = UUID4(), UUID4(), UUID4()
        # all three are pending before the first is sent: a backtest engine answers inside the call
        self._pending_requests = {spot, perp, funding}
        done = self._history_done
        self.request_bars(bar_type_for(self.spot_id), bars_from, callback=done, request_id=spot)
        self.request_bars(bar_type_for(self.perp_id), bars_from, callback=done, request_id=perp)
        self.request_funding_rates(self.perp_id, funding_from, callback=done, request_id=funding)

    def on_stop(self) -> None:
        if self.features is None:
            return  # stopped in on_start: nothing was subscribed
        for instrument_id in (self.perp_id, self.spot_id):
            self.unsubscribe_bars(bar_type_for(instrument_id))
        self.unsubscribe_funding_rates(self.perp_id)
        self.log.info(f"made {self.calls} calls, {self.confident_calls} confident")

    def on_historical_data(self, data: Data) -> None:
        self._history.append(data)

    def _history_done(self, request_id: UUID4) -> None:
        self._pending_requests.discard(request_id)
        if self._pending_requests:
            return
        history, self._history = self._history, []
        for item in sorted(history, key=_feed_order(self.perp_id)):
            self._feed(item)
        self.log.info(
            f"warmed up on {len(history)} historical points: "
            f"{'ready' if self.features is not None and self.features.warm else 'warming on live bars'}"
        )
        queued, self._queued = self._queued, []
        for item in queued:
            self._handle(item)

    # -- streaming ---------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        self._handle(bar)

    def on_funding_rate(self, funding_rate: FundingRateUpdate) -> None:
        self._handle(funding_rate)

    def _handle(self, item: Data) -> None:
        if self._pending_requests:
            self._queued.append(item)  # history first, then what arrived meanwhile
            return
        row = self._feed(item)
        if row is not None and self.features is not None and self.features.warm and row.predictable:
            self._publish(row)

    def _feed(self, item: Data) -> FeatureRow | None:
        """Give ``item`` to the feature state; the perp's bars return their feature row (a bar
        older than the newest one — history overlapping the live stream — is dropped)."""
        assert self.features is not None
        if isinstance(item, FundingRateUpdate):
            self.features.on_funding(item)
            return None
        if not isinstance(item, Bar):
            return None
        last = self.features.last_ts
        if (
            item.bar_type.instrument_id == self.perp_id
            and last is not None
            and closing_hour(item.ts_event) < last
        ):
            return None
        return self.features.on_bar(item)

    # -- the call ----------------------------------------------------------------------------

    def _current_model(self) -> LoadedModel:
        """The watched model, replaced first if a retrain swapped the manifest."""
        assert self.watcher is not None
        if self.cfg.reload:
            try:
                if self.watcher.refresh():
                    manifest = self.watcher.loaded.manifest
                    self.log.info(f"switched to model {manifest.file} (bars from {manifest.window_start_ns})")
            except SavedModelError as e:
                self.log.error(f"keeping model {self.watcher.loaded.manifest.file}: {e}")
        return self.watcher.loaded

    def _publish(self, row: FeatureRow) -> None:
        loaded = self._current_model()
        manifest = loaded.manifest
        if row.ts_ns < manifest.window_start_ns:
            if not self._early_warned:
                self.log.warning(
                    f"bars before the model's window ({manifest.window_start_ns}) get no call: "
                    "its training labels reach past them"
                )
                self._early_warned = True
            return
        proba = class_probabilities(loaded.model, row.values.reshape(1, -1), self.cfg.threads)
        signal, confidence = decide(proba)
        call = SignalPrediction(
            ts_event=row.ts_ns,
            ts_init=row.ts_ns,
            instrument_id=self.perp_id,
            signal=int(signal[0]),
            confidence=float(confidence[0]),
            sd=row.sd,
            horizon_hours=manifest.config.horizon_hours,
            model_version=manifest.model_version,
            train_start_ns=manifest.train_start_ns,
            train_end_ns=manifest.train_end_ns,
        )
        self.calls += 1
        if call.confidence >= self.cfg.confidence_threshold:
            self.confident_calls += 1
            self.log.info(f"confident call {call.signal:+d} ({call.confidence:.3f}) at {row.ts_ns}")
        self.msgbus.send("DataEngine.process", CustomData(DataType(SignalPrediction), call))


def _feed_order(perp_id: InstrumentId) -> Callable[[Data], tuple[int, int]]:
    """Sort key of historical points: by stamp, then funding, other bars (spot), the perp's bar —
    the order :class:`FeatureState` needs at one stamp."""

    def key(item: Data) -> tuple[int, int]:
        if isinstance(item, FundingRateUpdate):
            return (closing_hour(item.ts_event), 0)
        return (closing_hour(item.ts_event), 2 if item.bar_type.instrument_id == perp_id else 1)

    return key
