"""Sandbox funding: a live stream's quotes of the next rate become the prints the simulations settle."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity

from adapters.bars import bar_type_for
from live.sandbox import FundingPrints, PrintMarks

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


def _bar(closing: str, instrument: InstrumentId = PERP) -> Bar:
    """A live hourly bar of ``instrument`` stamped as Binance stamps it (1 ms before the hour)."""
    ts = _ns(closing) - 1_000_000
    px = Price.from_str("60000.0")
    return Bar(bar_type_for(instrument), px, px, px, px, Quantity.from_str("1"), ts, ts)


def test_a_print_due_before_its_bar_waits_for_the_bar_that_marks_it() -> None:
    marks = PrintMarks()
    quote = _quote("2024-08-01 08:00:01", "0.00005", "2024-08-01 16:00")
    settled = FundingRateUpdate(
        PERP, Decimal("0.00013"), ts_event=_ns("2024-08-01 08:00"), ts_init=_ns("2024-08-01 08:00")
    )
    # the stream's new quote came before the perp's 08:00 bar: the last bar is 07:00's
    assert not marks.ready(settled, quote, _bar("2024-08-01 07:00"))
    assert marks.released_by(_bar("2024-08-01 08:00", OTHER)) is None  # another instrument's bar
    assert marks.released_by(_bar("2024-08-01 08:00")) == (settled, quote)
    assert marks.released_by(_bar("2024-08-01 09:00")) is None  # released once


def test_a_print_whose_bar_is_in_is_settled_at_once() -> None:
    marks = PrintMarks()
    quote = _quote("2024-08-01 08:00:01", "0.00005", "2024-08-01 16:00")
    settled = FundingRateUpdate(
        PERP, Decimal("0.00013"), ts_event=_ns("2024-08-01 08:00"), ts_init=_ns("2024-08-01 08:00")
    )
    assert marks.ready(settled, quote, _bar("2024-08-01 08:00"))
    assert marks.released_by(_bar("2024-08-01 09:00")) is None  # nothing held
    assert not marks.ready(settled, quote, None)  # no bar yet at all: held


def test_the_bar_closing_at_the_funding_time_makes_its_print_due_before_the_quote_moves_on() -> None:
    """The perp's 08:00 bar came before the stream's quote for 16:00: the print for 08:00 is due
    with that bar (settled before the strategy acts on it), and not made again by the quote."""
    prints = FundingPrints()
    quote = _quote("2024-08-01 07:59:58", "0.00013", "2024-08-01 08:00")
    assert prints.on_quote(quote) is None
    assert prints.due_at(_bar("2024-08-01 07:00")) is None  # the funding time has not come
    assert prints.due_at(_bar("2024-08-01 08:00", OTHER)) is None  # another perp's bar
    settled, source = prints.due_at(_bar("2024-08-01 08:00"))  # Binance's stamp: 1 ms before the hour
    assert source == quote
    assert (settled.instrument_id, settled.rate, settled.next_funding_ns) == (PERP, Decimal("0.00013"), None)
    assert settled.ts_event == settled.ts_init == _ns("2024-08-01 08:00")
    assert prints.due_at(_bar("2024-08-01 09:00")) is None  # made once
    assert prints.on_quote(_quote("2024-08-01 08:00:01", "0.00005", "2024-08-01 16:00")) is None
    # the next funding time is made due by whichever comes first, again
    assert prints.on_quote(_quote("2024-08-01 16:00:01", "0.00002", "2024-08-02 00:00")) is not None
    assert prints.due_at(_bar("2024-08-01 16:00")) is None
