"""Sizing arithmetic of the basis mode, checked against hand computations."""

from __future__ import annotations

import pytest

from strategies.sizing import (
    basis_notional,
    basis_target_qty,
    common_step,
    hedge_drift,
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
