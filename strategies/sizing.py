"""Pure sizing arithmetic shared by the modes (no Nautilus state: easy to test by hand)."""

from __future__ import annotations

import math


def round_down(value: float, step: float) -> float:
    """``value`` rounded down to a multiple of ``step``; float noise just under a step rounds up."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    units = math.floor(value / step + 1e-6)
    return max(0, units) * step


def basis_notional(capital: float, margin_fraction: float, spot_fee: float) -> float:
    """Hedge notional N for capital C on one venue: C = N·(1 + m) plus the spot purchase fee.

    DOMAIN.md's capital split puts N into spot and m·N into the futures wallet as perp margin;
    the spot fee is reserved too so the purchase never exceeds the spot wallet.
    """
    if capital <= 0:
        return 0.0
    return capital / (1 + margin_fraction + spot_fee)


def basis_target_qty(
    capital: float, price: float, margin_fraction: float, spot_fee: float, step: float
) -> float:
    """Base quantity held long spot and short perp on one venue."""
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    return round_down(basis_notional(capital, margin_fraction, spot_fee) / price, step)


def common_step(spot_step: float, perp_step_base: float) -> float:
    """The coarser of the two legs' quantity steps (in base units), so both legs can match exactly."""
    return max(spot_step, perp_step_base)


def split_by_weights(total: float, weights: dict[str, float]) -> dict[str, float]:
    """``total`` split proportionally to ``weights`` (which need not sum to one)."""
    norm = sum(weights.values())
    if norm <= 0:
        return dict.fromkeys(weights, 0.0)
    return {k: total * w / norm for k, w in weights.items()}


def hedge_drift(net_base_qty: float, price: float, gross_exposure: float) -> float:
    """|net delta| as a fraction of gross exposure (0 when flat)."""
    if gross_exposure <= 0:
        return 0.0
    return abs(net_base_qty) * price / gross_exposure


def margin_release(
    margins: dict[str, float],
    exposures: dict[str, float],
    weights: dict[str, float],
    target: float,
    ceiling: float,
) -> dict[str, float]:
    """Nothing while every venue's margin M_v is at most ``ceiling`` × its notional E_v; once one
    is above, the USDT each venue gives back so that its margin ends at ``target`` × its notional
    once the released total S, staked and hedged, has grown every venue's short by its weight's
    share of S.

    For the giving venues C: M_v − S_v = target·(E_v + w_v·S), which summed over C gives
    S = (Σ_C M_v − target·Σ_C E_v) / (1 + target·Σ_C w_v) (weights normalised to sum to 1). A venue
    whose share comes out ≤ 0 (under target once the shorts grow) leaves C and S is solved again.
    """
    if not any(margins[v] > ceiling * exposures[v] > 0 for v in margins):
        return {}
    norm = sum(weights.values())
    share = {v: w / norm for v, w in weights.items()} if norm > 0 else dict.fromkeys(weights, 0.0)
    giving = {v for v in margins if margins[v] > target * exposures[v]}
    while giving:
        surplus = sum(margins[v] - target * exposures[v] for v in giving)
        total = surplus / (1 + target * sum(share[v] for v in giving))
        releases = {v: margins[v] - target * (exposures[v] + share[v] * total) for v in giving}
        short = {v for v, amount in releases.items() if amount <= 0}
        if not short:
            return releases
        giving -= short
    return {}
