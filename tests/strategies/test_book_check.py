"""The restart gate's comparison: saved book against the venues', with a tolerance and a step."""

from __future__ import annotations

import pytest
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.margin import PerpState, SpotState, VenueWallets
from strategies.book_check import book_differences, held_book

SPOT = InstrumentId.from_str("BTCUSDT.BINANCE_SPOT")
PERP = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
STEPS = {str(SPOT): 0.00001, str(PERP): 0.001}


def test_held_book_lists_spot_holdings_and_signed_perp_positions() -> None:
    wallets = VenueWallets(
        venue="BINANCE",
        balance=600.0,
        spot_cash=100.0,
        futures_wallet=500.0,
        spots=(SpotState(SPOT, 0.5, 60_000.0, 61_000.0),),
        perps=(
            PerpState(PERP, -0.5, 60_100.0, 61_050.0, 0.004, 0.01),
            PerpState(InstrumentId.from_str("ETHUSDT-PERP.BINANCE"), 0.0, 0.0, 3_000.0, 0.005, 0.01),
        ),
    )
    assert held_book([wallets]) == {str(SPOT): 0.5, str(PERP): -0.5}


def test_the_same_book_within_tolerance_passes() -> None:
    saved = {str(SPOT): 0.5, str(PERP): -0.5}
    assert book_differences(saved, {str(SPOT): 0.5004, str(PERP): -0.5}, 0.001, STEPS) == []
    # one size increment is never a difference, whatever the tolerance
    assert book_differences(saved, {str(SPOT): 0.5, str(PERP): -0.501}, 0.0, STEPS) == []


def test_a_position_changed_gone_or_new_is_reported() -> None:
    saved = {str(SPOT): 0.5, str(PERP): -0.5}
    held = {str(PERP): -0.3, "ETHUSDT-PERP.BINANCE": 2.0}
    assert book_differences(saved, held, 0.01, STEPS) == [
        "BTCUSDT-PERP.BINANCE: saved -0.5, venue -0.3",
        "BTCUSDT.BINANCE_SPOT: saved +0.5, venue +0",
        "ETHUSDT-PERP.BINANCE: saved +0, venue +2",
    ]


@pytest.mark.parametrize("tolerance", [0.0, 0.01])
def test_a_sign_flip_is_always_a_difference(tolerance: float) -> None:
    assert book_differences({str(PERP): -0.5}, {str(PERP): 0.5}, tolerance, STEPS)
