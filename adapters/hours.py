"""Time units and the hour a data stamp belongs to, shared by every layer.

Venues stamp the same hourly bar differently: Binance closes a kline at …:59:59.999, Bybit and
OKX at the round hour. Decisions group data into the hour it closes in (:func:`closing_hour`),
never compare stamps for equality across venues or with the clock.
"""

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS


def closing_hour(ts_ns: int) -> int:
    """The round hour (ns) a stamp closes in: ``10:59:59.999`` and ``11:00:00`` both give 11:00."""
    return -(-ts_ns // HOUR_NS) * HOUR_NS
