"""The end of a data hour as data: what closes an hour of NAV sampling in every world.

A backtest and a paper replay carry one :class:`HourClosed` a nanosecond after each round hour
of the window, so everything stamped at or before the hour (its bars, funding prints, fills and
transfers) is in when it arrives, and a replay at any speed samples the same hours. Live, a
publisher emits the same mark when the wall clock passes the hour plus a grace period.

This module must not use ``from __future__ import annotations`` (``customdataclass``).
"""

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.data import CustomData, DataType

from adapters.hours import HOUR_NS


@customdataclass
class HourClosed(Data):
    """Every event of the hour ending at ``hour_ns`` has been published."""

    hour_ns: int = 0


def hour_marks(first_hour_ns: int, last_hour_ns: int) -> list[CustomData]:
    """One mark per round hour from ``first_hour_ns`` to ``last_hour_ns`` (both included)."""
    return [
        CustomData(DataType(HourClosed), HourClosed(ts_event=h + 1, ts_init=h + 1, hour_ns=h))
        for h in range(first_hour_ns, last_hour_ns + 1, HOUR_NS)
    ]
