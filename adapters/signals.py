"""A model's call as custom Nautilus data, subscribed by the ML strategies beside the bars.

This module must not use ``from __future__ import annotations``: ``customdataclass`` reads the
real annotation types to build the Arrow schema.
"""

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.identifiers import InstrumentId


@customdataclass
class SignalPrediction(Data):
    """A model's call made at the close of the bar stamped ``ts_event``, from data stamped at or
    before it only; it is about the return over the next ``horizon_hours``.

    Written to the catalog by ``python -m signals build`` (one series per traded instrument);
    the ML strategies subscribe to it beside the bars.
    """

    instrument_id: InstrumentId = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
    """The instrument whose bars the features came from."""
    signal: int = 0
    """+1 long, -1 short, 0 neutral."""
    confidence: float = 0.0
    """The model's probability of ``signal`` (the predicted class), in [0, 1]."""
    sd: float = 0.0
    """Forecast standard deviation of the log return over the horizon (a fraction, e.g. 0.012)."""
    horizon_hours: int = 1
    model_version: str = ""
    """Identifies the model and feature set (e.g. ``hgb-v1``); the training window is per row."""
    train_start_ns: int = 0
    """First sample time of the training set of the model that made this call."""
    train_end_ns: int = 0
    """Last label time used in training: always before ``ts_event`` (walk-forward, no look-ahead)."""
