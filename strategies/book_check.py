"""The restart gate: the book a strategy saved against the one the venues report when it restarts.

A strategy saves what it held on the venues (each spot holding and perp position, in the units
the venue wallets report). When a node restarts, Nautilus first reconciles its cache with the
venues; the strategy then compares. A difference beyond the tolerance means something happened
that the strategy did not do or did not see (a manual trade, a liquidation while it was down, the
wrong account): it starts HALTED and says what differs, and it never trades that book away on its
own (no flattening, and its resting orders stay).
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.cex.margin import VenueWallets

Book = dict[str, float]
"""Instrument id → quantity held: spot base units, a perp's signed contracts × multiplier."""


def held_book(wallets: Iterable[VenueWallets]) -> Book:
    """What the venues hold, instrument by instrument (nothing held: not listed)."""
    book: Book = {}
    for venue in wallets:
        for spot in venue.spots:
            if spot.qty:
                book[str(spot.instrument_id)] = spot.qty
        for perp in venue.perps:
            if perp.signed_qty:
                book[str(perp.instrument_id)] = perp.signed_qty
    return book


def book_differences(saved: Book, held: Book, tolerance: float, steps: dict[str, float]) -> list[str]:
    """Each instrument whose held quantity differs from the saved one by more than ``tolerance``
    of the larger of the two, and by more than one size increment (``steps``), as text."""
    differences = []
    for instrument_id in sorted(set(saved) | set(held)):
        before, now = saved.get(instrument_id, 0.0), held.get(instrument_id, 0.0)
        gap = abs(now - before)
        step = steps.get(instrument_id, 0.0) * (1 + 1e-9)  # a float sum of steps is a step
        if gap > tolerance * max(abs(before), abs(now)) and gap > step:
            differences.append(f"{instrument_id}: saved {before:+.8g}, venue {now:+.8g}")
    return differences
