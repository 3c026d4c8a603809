"""Aave v3 protocol math for the simulated lending backend, the leveraged strategies and their tests.

Pure Python, floats, no Nautilus: health factor / LTV / borrowing power, liquidation amounts,
leverage sizing and supply/borrow caps, on the risk parameters of :mod:`adapters.defi.aave_params`
(the reserve indices are :mod:`adapters.defi.aave_index`).

All values are in whole tokens (not wei) and in one common price base chosen by the caller
(ETH for the leveraged modes: WETH = 1, LSTs at their exchange-rate oracle).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from adapters.defi.aave_params import EModeParams, ReserveParams

CLOSE_FACTOR_HF_THRESHOLD = 0.95
"""Below this HF a liquidator may repay the whole debt (Aave v3 ``CLOSE_FACTOR_HF_THRESHOLD``)."""

DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5
MAX_LIQUIDATION_CLOSE_FACTOR = 1.0


# --------------------------------------------------------------------------------------------------
# Account risk
# --------------------------------------------------------------------------------------------------


def _threshold(symbol: str, params: Mapping[str, ReserveParams], emode: EModeParams | None) -> float:
    """Aave v3: a user in an e-mode gets the category's LT for its assets, the reserve's otherwise."""
    if emode is not None and symbol in emode.assets:
        return emode.liquidation_threshold
    return _reserve(symbol, params).liquidation_threshold


def _max_ltv(symbol: str, params: Mapping[str, ReserveParams], emode: EModeParams | None) -> float:
    """The LTV that sets borrowing power: the category's for e-mode assets, the reserve's otherwise."""
    if emode is not None and symbol in emode.assets:
        return emode.ltv
    return _reserve(symbol, params).ltv


def _reserve(symbol: str, params: Mapping[str, ReserveParams]) -> ReserveParams:
    if symbol not in params:
        raise ValueError(f"no reserve parameters for {symbol!r}")
    return params[symbol]


def _value(
    amounts: Mapping[str, float],
    prices: Mapping[str, float],
    weight: Callable[[str], float] | None = None,
) -> float:
    """Σ amount × price (× weight(symbol)), skipping zero amounts; refuses negatives and gaps."""
    total = 0.0
    for symbol, amount in amounts.items():
        if amount < 0.0:
            raise ValueError(f"negative amount {amount} of {symbol!r}")
        if amount == 0.0:
            continue
        price = prices.get(symbol)
        if price is None or not (math.isfinite(price) and price > 0.0):
            raise ValueError(f"no valid price for {symbol!r}: {price}")
        total += amount * price * (1.0 if weight is None else weight(symbol))
    return total


def health_factor(
    collateral: Mapping[str, float],
    debt: Mapping[str, float],
    prices: Mapping[str, float],
    params: Mapping[str, ReserveParams],
    emode: EModeParams | None = None,
) -> float:
    """HF = Σ coll × price × LT / Σ debt × price (``GenericLogic.calculateUserAccountData``).

    ``math.inf`` without debt. In the ETH e-mode the caller prices LSTs at their exchange-rate
    oracle in ETH (WETH = 1), so ETH/USD moves leave HF unchanged.
    """
    debt_value = _value(debt, prices)
    weighted = _value(collateral, prices, lambda s: _threshold(s, params, emode))
    return math.inf if debt_value == 0.0 else weighted / debt_value


def loan_to_value(
    collateral: Mapping[str, float],
    debt: Mapping[str, float],
    prices: Mapping[str, float],
    params: Mapping[str, ReserveParams],
    emode: EModeParams | None = None,
) -> float:
    """Current LTV = debt value / collateral value.

    Collateral counts only assets with a liquidation threshold > 0, like Aave's
    ``totalCollateralBase``. 0 without debt (also with no collateral); ``math.inf`` for debt with
    no collateral, so any "LTV above target" rule fires.
    """
    debt_value = _value(debt, prices)
    if debt_value == 0.0:
        return 0.0
    collateral_value = _value(collateral, prices, lambda s: float(_threshold(s, params, emode) > 0.0))
    return math.inf if collateral_value == 0.0 else debt_value / collateral_value


def borrowing_power(
    collateral: Mapping[str, float],
    debt: Mapping[str, float],
    prices: Mapping[str, float],
    params: Mapping[str, ReserveParams],
    emode: EModeParams | None = None,
) -> float:
    """Σ coll × price × LTV − debt value, in the price base (Aave's ``availableBorrowsBase``).

    Negative when the debt already exceeds the max LTV: then no borrow or collateral withdrawal
    passes ``validateBorrow``/HF checks, although the position is not yet liquidatable.
    """
    capacity = _value(collateral, prices, lambda s: _max_ltv(s, params, emode))
    return capacity - _value(debt, prices)


def liquidation(
    hf: float,
    debt_amount: float,
    collateral_amount: float,
    debt_price: float,
    collateral_price: float,
    bonus: float,
) -> tuple[float, float]:
    """(debt repaid, collateral seized) by a maximal liquidation (``LiquidationLogic``).

    Nothing at HF ≥ 1. The close factor is 50 % of the debt for 0.95 ≤ HF < 1 and 100 % below
    0.95. The liquidator receives repaid × debt_price × (1 + bonus) / collateral_price of
    collateral; when that exceeds the collateral available, all of it is seized and the repaid
    debt shrinks to match. (The protocol's cut of the bonus goes to the treasury, not back to the
    borrower, so it does not change these amounts; v3.3's small-position 100 % rule is not modelled.)
    """
    if math.isnan(hf) or hf < 0.0:
        raise ValueError(f"health factor must be ≥ 0, got {hf}")
    if debt_amount < 0.0 or collateral_amount < 0.0:
        raise ValueError(f"amounts must be ≥ 0, got debt {debt_amount}, collateral {collateral_amount}")
    if not (debt_price > 0.0 and collateral_price > 0.0):
        raise ValueError(f"prices must be > 0, got debt {debt_price}, collateral {collateral_price}")
    if bonus < 0.0:
        raise ValueError(f"liquidation bonus must be ≥ 0, got {bonus}")
    if hf >= 1.0:
        return 0.0, 0.0
    close_factor = (
        DEFAULT_LIQUIDATION_CLOSE_FACTOR if hf >= CLOSE_FACTOR_HF_THRESHOLD else MAX_LIQUIDATION_CLOSE_FACTOR
    )
    repaid = debt_amount * close_factor
    seized = repaid * debt_price * (1.0 + bonus) / collateral_price
    if seized > collateral_amount:
        seized = collateral_amount
        repaid = collateral_amount * collateral_price / (debt_price * (1.0 + bonus))
    return repaid, seized


# --------------------------------------------------------------------------------------------------
# Leverage
# --------------------------------------------------------------------------------------------------


def leverage_targets(equity: float, target_ltv: float) -> tuple[float, float]:
    """(supply value S, debt value D) for equity E at LTV λ: S = E/(1−λ), D = E·λ/(1−λ).

    Then S − D = E and D/S = λ exactly; the old "supply = E·λ/(1−λ)" does not give LTV λ.
    """
    if not 0.0 <= target_ltv < 1.0:
        raise ValueError(f"target LTV must be in [0, 1), got {target_ltv}")
    if not (math.isfinite(equity) and equity >= 0.0):
        raise ValueError(f"equity must be finite and ≥ 0, got {equity}")
    return equity / (1.0 - target_ltv), equity * target_ltv / (1.0 - target_ltv)


def target_ltv(emode_ltv: float, max_stake_spread_move: float) -> float:
    """λ = e-mode LTV × (1 − move): headroom so an LST/ETH oracle drop of ``move`` stays borrowable."""
    if not 0.0 < emode_ltv < 1.0:
        raise ValueError(f"e-mode LTV must be in (0, 1), got {emode_ltv}")
    if not 0.0 <= max_stake_spread_move < 1.0:
        raise ValueError(f"max stake spread move must be in [0, 1), got {max_stake_spread_move}")
    return emode_ltv * (1.0 - max_stake_spread_move)


def validate_thresholds(target_ltv: float, deleverage_hf: float, emode: EModeParams) -> None:
    """Refuse mutually inconsistent leverage settings before a run starts.

    At prices 1 the position opened at λ has HF = LT/λ; it must sit above the deleverage HF, or
    the strategy would deleverage right after levering (e.g. λ 0.9, LT 0.95 gives HF 1.056, so a
    minimum HF of 1.1 is impossible). λ must also be below the e-mode LTV, or the borrow fails,
    and the deleverage HF above 1, or Aave liquidates first.
    """
    if not 0.0 < target_ltv < emode.ltv:
        raise ValueError(f"target LTV {target_ltv} must be in (0, e-mode LTV {emode.ltv})")
    if not deleverage_hf > 1.0:
        raise ValueError(f"deleverage HF {deleverage_hf} must be > 1 (Aave liquidates below HF 1)")
    hf_at_target = emode.liquidation_threshold / target_ltv
    if not hf_at_target > deleverage_hf:
        raise ValueError(
            f"target LTV {target_ltv} gives HF {emode.liquidation_threshold}/{target_ltv} = "
            f"{hf_at_target:.3f}, not above the deleverage HF {deleverage_hf}"
        )


# --------------------------------------------------------------------------------------------------
# Caps
# --------------------------------------------------------------------------------------------------


def _check_total(total: float) -> None:
    if not (math.isfinite(total) and total >= 0.0):
        raise ValueError(f"reserve total must be finite and ≥ 0, got {total}")


def check_supply_cap(params: ReserveParams, total_supplied_after: float) -> str | None:
    """Why a supply would revert (``SUPPLY_CAP_EXCEEDED``), or None; reaching the cap is allowed."""
    _check_total(total_supplied_after)
    if params.supply_cap is not None and total_supplied_after > params.supply_cap:
        return (
            f"{params.symbol} supply cap {params.supply_cap:,.0f} exceeded: "
            f"total supplied would be {total_supplied_after:,.2f}"
        )
    return None


def check_borrow_cap(params: ReserveParams, total_borrowed_after: float) -> str | None:
    """Why a borrow would revert (``BORROWING_NOT_ENABLED`` / ``BORROW_CAP_EXCEEDED``), or None."""
    _check_total(total_borrowed_after)
    if not params.borrowing_enabled:
        return f"{params.symbol} borrowing is not enabled"
    if params.borrow_cap is not None and total_borrowed_after > params.borrow_cap:
        return (
            f"{params.symbol} borrow cap {params.borrow_cap:,.0f} exceeded: "
            f"total borrowed would be {total_borrowed_after:,.2f}"
        )
    return None
