"""Sandbox funding: a live stream's quotes of the next rate become the prints the simulations settle."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId

from live.sandbox import FundingPrints

PERP = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
OTHER = InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT")


def _ns(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def _quote(at: str, rate: str, next_funding: str, instrument: InstrumentId = PERP) -> FundingRateUpdate:
    return FundingRateUpdate(
        instrument, Decimal(rate), next_funding_ns=_ns(next_funding), ts_event=_ns(at), ts_init=_ns(at)
    )


def test_the_last_quote_before_a_funding_time_is_its_print() -> None:
    prints = FundingPrints()
    assert prints.on_quote(_quote("2024-08-01 05:00", "0.0001", "2024-08-01 08:00")) is None
    assert prints.on_quote(_quote("2024-08-01 07:59:58", "0.00013", "2024-08-01 08:00")) is None
    assert prints.on_quote(_quote("2024-08-01 07:59:59", "0.00012", "2024-08-01 08:00", OTHER)) is None
    settled = prints.on_quote(_quote("2024-08-01 08:00:01", "0.00005", "2024-08-01 16:00"))
    assert settled is not None
    assert settled.instrument_id == PERP
    assert settled.rate == Decimal("0.00013")  # the last quote for 08:00, not the new period's
    assert settled.ts_event == settled.ts_init == _ns("2024-08-01 08:00")
    assert settled.next_funding_ns is None  # a print, which the simulations settle
    # the next quotes of the same period settle nothing more
    assert prints.on_quote(_quote("2024-08-01 09:00", "0.00006", "2024-08-01 16:00")) is None


def test_a_print_passes_through_untouched() -> None:
    prints = FundingPrints()
    catalog_print = FundingRateUpdate(
        PERP, Decimal("0.0001"), ts_event=_ns("2024-08-01 08:00"), ts_init=_ns("2024-08-01 08:00")
    )
    assert prints.on_quote(catalog_print) is None
