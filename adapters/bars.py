"""The bar type every hourly series is stored and subscribed under."""

from __future__ import annotations

import functools

from nautilus_trader.model.data import BarType
from nautilus_trader.model.identifiers import InstrumentId


@functools.cache
def bar_type_for(instrument_id: InstrumentId | str) -> BarType:
    """The catalog's bar type for an instrument: 1-hour LAST bars from an external source.

    Cached: parsing a bar type costs ~9 µs and it is asked for on every bar."""
    return BarType.from_str(f"{instrument_id}-1-HOUR-LAST-EXTERNAL")
