"""Sizing arithmetic of the basis mode, checked against hand computations."""

from __future__ import annotations

import pytest

from strategies.sizing import (
    basis_notional,
    basis_target_qty,
    common_step,
    hedge_drift,
    margin_release,
    round_down,
    split_by_weights,
)


def test_capital_split_puts_n_in_spot_and_m_n_in_margin():
    # C = N (1 + m + fee): 40,000 with m = 0.25 and a 0.1% spot fee → N = 40,000 / 1.251
    n = basis_notional(40_000, 0.25, 0.001)
    assert n == pytest.approx(31_974.42, abs=0.01)
    assert n * (1 + 0.25 + 0.001) == pytest.approx(40_000)
    assert basis_notional(0, 0.25, 0.001) == 0.0
    assert basis_notional(-5, 0.25, 0.001) == 0.0


def test_target_quantity_is_rounded_down_to_the_common_step():
    # 31,974.42 / 61,000 = 0.52417 BTC → 0.524 on a 0.001 step
    assert basis_target_qty(40_000, 61_000, 0.25, 0.001, 0.001) == pytest.approx(0.524)
    assert basis_target_qty(40_000, 61_000, 0.25, 0.001, 0.0001) == pytest.approx(0.5241)
    with pytest.raises(ValueError, match="price must be positive"):
        basis_target_qty(40_000, 0, 0.25, 0.001, 0.001)


def test_round_down_absorbs_float_noise_but_not_real_remainders():
    assert round_down(0.07 - 1e-12, 0.001) == pytest.approx(0.07)  # 0.069999999… is 0.07
    assert round_down(0.0699, 0.001) == pytest.approx(0.069)
    assert round_down(-1.0, 0.001) == 0.0
    with pytest.raises(ValueError):
        round_down(1.0, 0.0)


def test_common_step_is_the_coarser_leg():
    # Binance spot 0.00001 BTC vs perp 0.001 BTC; OKX swap 0.01 contracts × 0.01 BTC = 0.0001 BTC
    assert common_step(0.00001, 0.001) == 0.001
    assert common_step(0.00000001, 0.01 * 0.01) == pytest.approx(0.0001)


def test_split_by_weights_and_hedge_drift():
    assert split_by_weights(100.0, {"A": 0.4, "B": 0.3, "C": 0.3}) == pytest.approx(
        {"A": 40.0, "B": 30.0, "C": 30.0}
    )
    assert split_by_weights(100.0, {"A": 0.0, "B": 0.0}) == {"A": 0.0, "B": 0.0}
    # 0.01 BTC net long at 60,000 over 120,000 of gross exposure = 0.5%
    assert hedge_drift(0.01, 60_000, 120_000) == pytest.approx(0.005)
    assert hedge_drift(-0.01, 60_000, 120_000) == pytest.approx(0.005)
    assert hedge_drift(0.01, 60_000, 0) == 0.0


# -- the market-neutral modes' margin ceiling ---------------------------------------------------

WEIGHTS = {"BINANCE": 0.4, "BYBIT": 0.3, "OKX": 0.3}


def test_margin_under_the_ceiling_releases_nothing():
    exposures = {"BINANCE": 20_000.0, "BYBIT": 15_000.0, "OKX": 15_000.0}
    at_ceiling = {v: 1.5 * e for v, e in exposures.items()}  # 1.5 × notional: not above it
    assert margin_release(at_ceiling, exposures, WEIGHTS, 0.5, 1.5) == {}
    assert margin_release({v: 0.0 for v in exposures}, dict.fromkeys(exposures, 0.0), WEIGHTS, 0.5, 1.5) == {}


def test_one_venue_over_the_ceiling_gives_back_to_the_target_of_its_grown_short():
    """Binance 3.0 × its 10,000 notional, Bybit exactly at target: only Binance gives. By hand,
    S = (30,000 − 0.5 × 10,000) / (1 + 0.5 × 0.5) = 20,000; the staked 20,000 grows Binance's short
    by half of it, so Binance keeps 0.5 × (10,000 + 10,000) = 10,000 = 30,000 − 20,000."""
    weights = {"BINANCE": 1.0, "BYBIT": 1.0}  # not normalised: the split is what counts
    exposures = {"BINANCE": 10_000.0, "BYBIT": 10_000.0}
    released = margin_release({"BINANCE": 30_000.0, "BYBIT": 5_000.0}, exposures, weights, 0.5, 1.5)
    assert released == pytest.approx({"BINANCE": 20_000.0})


def test_every_venue_above_target_gives_and_ends_at_target_after_the_shorts_grow():
    """Checked by the outcome: each giver's margin after, M_v − S_v, is target × its notional
    grown by its weight's share of the total released; a venue under target gives nothing."""
    margins = {"BINANCE": 60_000.0, "BYBIT": 20_000.0, "OKX": 6_000.0}
    exposures = {"BINANCE": 20_000.0, "BYBIT": 15_000.0, "OKX": 15_000.0}
    released = margin_release(margins, exposures, WEIGHTS, 0.5, 1.5)
    assert set(released) == {"BINANCE", "BYBIT"}  # OKX is at 0.4 < 0.5
    total = sum(released.values())
    for venue, amount in released.items():
        assert amount > 0
        grown = exposures[venue] + WEIGHTS[venue] * total
        assert (margins[venue] - amount) / grown == pytest.approx(0.5)
    # by hand: S = (80,000 − 0.5 × 35,000) / (1 + 0.5 × 0.7) = 62,500 / 1.35
    assert total == pytest.approx(62_500 / 1.35)


def test_a_venue_pushed_under_target_by_the_grown_short_leaves_the_givers():
    """Bybit at 0.52 × notional would give a little, but Binance's release grows Bybit's short
    too: with both, Bybit's share is negative, so it keeps its margin and only Binance gives
    S = (60,000 − 0.5 × 20,000) / (1 + 0.5 × 0.4) = 41,666.67."""
    margins = {"BINANCE": 60_000.0, "BYBIT": 7_800.0, "OKX": 6_000.0}
    exposures = {"BINANCE": 20_000.0, "BYBIT": 15_000.0, "OKX": 15_000.0}
    released = margin_release(margins, exposures, WEIGHTS, 0.5, 1.5)
    assert released == pytest.approx({"BINANCE": 50_000 / 1.2})
