"""The venue's netting position from Nautilus' open positions on an instrument
(``adapters.cex.margin.net_position``): a restart's reconciliation can split it between the
strategy's position and an ``EXTERNAL`` one; the venue holds their sum, and its P&L is theirs."""

from types import SimpleNamespace

import pytest

from adapters.cex.margin import net_position, position_pnl


def _position(signed_qty: float, avg_px_open: float) -> SimpleNamespace:
    return SimpleNamespace(signed_qty=signed_qty, avg_px_open=avg_px_open)


def test_one_position_is_the_venues_as_it_is():
    assert net_position([_position(-0.591, 67_555.8)]) == (-0.591, 67_555.8)


def test_nothing_open_or_summing_to_zero_is_flat():
    assert net_position([]) == (0.0, 0.0)
    assert net_position([_position(-0.5, 100.0), _position(0.5, 120.0)]) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("inverse", "positions", "price"),
    [
        (False, [(-1.0, 100.0), (0.25, 120.0)], 110.0),
        (True, [(-1000.0, 50_000.0), (250.0, 40_000.0)], 45_000.0),
    ],
)
def test_a_split_position_sums_and_keeps_the_pnl(inverse, positions, price):
    contracts, avg_px = net_position([_position(q, a) for q, a in positions], inverse)
    assert contracts == pytest.approx(sum(q for q, _ in positions))
    # the P&L of the sum at its entry price is the sum of the parts' P&L, at any price
    for mark in (price, price * 0.9):
        parts = sum(position_pnl(q, a, mark, inverse) for q, a in positions)
        assert position_pnl(contracts, avg_px, mark, inverse) == pytest.approx(parts, rel=1e-12)
    # e.g. linear: (-1 x 100 + 0.25 x 120) / -0.75
    expected = 280 / 3 if not inverse else -750 / (-1000 / 50_000 + 250 / 40_000)
    assert avg_px == pytest.approx(expected, rel=1e-12)
