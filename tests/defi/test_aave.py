"""Aave v3 protocol math: every expectation is worked out by hand in the comments next to it.

Two groups read the real reference data (params CSV, risk JSON, WETH rates) from
``$BASIS_DATA_DIR`` (default ``../shared/data``) and are skipped when it is absent.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from pathlib import Path

import pytest

from adapters.defi.aave import (
    borrowing_power,
    check_borrow_cap,
    check_supply_cap,
    health_factor,
    leverage_targets,
    liquidation,
    loan_to_value,
    target_ltv,
    validate_thresholds,
)
from adapters.defi.aave_index import ReserveIndex
from adapters.defi.aave_params import (
    EModeParams,
    ReserveParams,
    load_emode,
    load_optimal_utilization,
    load_reserve_params,
)
from adapters.hours import DAY_NS

PROJECT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("BASIS_DATA_DIR", PROJECT.parent / "shared" / "data"))
PARAMS_CSV = DATA_DIR / "aave" / "params" / "aave_current_v3_prams_etherum_mainnet.csv"
RISK_JSON = DATA_DIR / "aave" / "params" / "aave_v3_risk_parameters.json"
WETH_RATES = DATA_DIR / "aave" / "rates" / "aave_v3_aave-v3-ethereum_WETH_rates_2024-01-01_2025-09-18.csv"
needs_params = pytest.mark.skipif(
    not PARAMS_CSV.is_file(), reason=f"Aave params CSV not found at {PARAMS_CSV}"
)
needs_risk_json = pytest.mark.skipif(
    not RISK_JSON.is_file(), reason=f"Aave risk JSON not found at {RISK_JSON}"
)
needs_rates = pytest.mark.skipif(
    not WETH_RATES.is_file(), reason=f"Aave WETH rates not found at {WETH_RATES}"
)

T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01 00:00 UTC

EMODE = EModeParams(
    ltv=0.93, liquidation_threshold=0.95, liquidation_bonus=0.01, assets=("WETH", "weETH", "wstETH")
)


def reserve(symbol: str, ltv: float, lt: float, bonus: float, **overrides) -> ReserveParams:
    fields = {
        "reserve_factor": 0.1,
        "supply_cap": None,
        "borrow_cap": None,
        "borrowing_enabled": True,
        "collateral_enabled": True,
        "flashloan_enabled": True,
    } | overrides
    return ReserveParams(symbol=symbol, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus, **fields)


# Real standard parameters of Aave v3 Ethereum (params CSV), typed in by hand.
PARAMS = {
    "WETH": reserve("WETH", 0.805, 0.83, 0.05),
    "weETH": reserve("weETH", 0.775, 0.80, 0.07),
    "USDT": reserve("USDT", 0.75, 0.78, 0.045),
}


# ---------------------------------------------------------------------------------------------
# Index accrual
# ---------------------------------------------------------------------------------------------


def index_at_5pct() -> ReserveIndex:
    index = ReserveIndex("WETH")
    index.update(T0, 1.0, 1.0, 0.05, 0.05)
    return index


def test_liquidity_index_accrues_linearly() -> None:
    # 1 day at 5 % APR from 1.0: 1 + 0.05 × 86400 / 31,536,000 = 1 + 0.05/365 = 1.000136986301...
    assert index_at_5pct().liquidity_index(T0 + DAY_NS) == pytest.approx(1.0001369863013698, rel=1e-15)
    # half a day: 1 + 0.05/730 = 1.0000684931506849
    assert index_at_5pct().liquidity_index(T0 + DAY_NS // 2) == pytest.approx(1.0000684931506849, rel=1e-15)


def test_borrow_index_compounds_per_second() -> None:
    # (1 + 0.05/31,536,000)^86,400 = 1.00013699568431307942… (50-digit decimal arithmetic)
    borrow = index_at_5pct().borrow_index(T0 + DAY_NS)
    assert borrow == pytest.approx(1.0001369956843131, rel=1e-13)
    # compounding beats linear by ≈ x²/2 with x = 0.05/365: (1.3699e-4)²/2 = 9.383e-9
    assert borrow - (1 + 0.05 / 365) == pytest.approx(9.383e-9, rel=1e-3)


def test_index_at_snapshot_time_is_the_snapshot() -> None:
    index = ReserveIndex("WETH")
    index.update(T0, 1.0180859234631308, 1.0328689505465785, 0.0175, 0.0269)
    assert index.liquidity_index(T0) == 1.0180859234631308
    assert index.borrow_index(T0) == 1.0328689505465785
    assert index.last_ts_ns == T0


def test_later_snapshot_replaces_accrual_without_look_ahead() -> None:
    index = index_at_5pct()
    # Before the next snapshot arrives, day 1 is the 5 % accrual: 1 + 0.05/365.
    assert index.liquidity_index(T0 + DAY_NS) == pytest.approx(1 + 0.05 / 365, rel=1e-15)
    index.update(T0 + DAY_NS, 1.001, 1.002, 0.10, 0.20)
    # The snapshot itself is returned exactly, not the old accrual.
    assert index.liquidity_index(T0 + DAY_NS) == 1.001
    assert index.borrow_index(T0 + DAY_NS) == 1.002
    # Half a day later it accrues at the new rates: 1.001 × (1 + 0.10 × 0.5/365) = 1.001137123...
    assert index.liquidity_index(T0 + DAY_NS * 3 // 2) == pytest.approx(1.001 * (1 + 0.05 / 365), rel=1e-15)
    # 1.002 × (1 + 0.2/31,536,000)^43,200 = 1.00227455815606351… (50-digit decimal arithmetic)
    assert index.borrow_index(T0 + DAY_NS * 3 // 2) == pytest.approx(1.0022745581560635, rel=1e-13)


def test_query_before_latest_snapshot_raises() -> None:
    index = index_at_5pct()
    index.update(T0 + DAY_NS, 1.001, 1.002, 0.05, 0.05)
    with pytest.raises(ValueError, match="before the latest snapshot"):
        index.liquidity_index(T0 + DAY_NS // 2)
    with pytest.raises(ValueError, match="before the latest snapshot"):
        index.borrow_index(T0)


def test_query_before_any_snapshot_raises() -> None:
    with pytest.raises(ValueError, match="WETH: no index snapshot yet"):
        ReserveIndex("WETH").liquidity_index(T0)
    assert ReserveIndex("WETH").last_ts_ns is None


@pytest.mark.parametrize("ts_ns", [T0 - 1, T0], ids=["older", "same-time"])
def test_snapshots_must_move_forward(ts_ns: int) -> None:
    index = index_at_5pct()
    with pytest.raises(ValueError, match="is not after the latest one"):
        index.update(ts_ns, 1.0, 1.0, 0.05, 0.05)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ((0.0, 1.0, 0.05, 0.05), "liquidity_index"),
        ((1.0, math.nan, 0.05, 0.05), "variable_borrow_index"),
        ((1.0, 1.0, -0.01, 0.05), "liquidity_rate"),
        ((1.0, 1.0, 0.05, math.inf), "variable_borrow_rate"),
    ],
)
def test_bad_snapshot_values_rejected(values: tuple[float, float, float, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ReserveIndex("WETH").update(T0, *values)


@needs_rates
def test_streaming_index_predicts_real_next_day_snapshot() -> None:
    """Accrue each real WETH snapshot to the next day's time, before seeing that snapshot.

    Rates move within a day, so predictions are not exact; a model holding the index flat would be
    off by ≈ r/365 ≈ 5e-5 a day, one misreading the APR (e.g. as a percent) by far more.
    """
    with WETH_RATES.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    index = ReserveIndex("WETH")
    supply_errors, borrow_errors = [], []
    for row in rows:
        ts_ns = int(row["timestamp"]) * 1_000_000_000
        liquidity, borrow = float(row["liquidityIndex"]), float(row["variableBorrowIndex"])
        if index.last_ts_ns is not None:
            supply_errors.append(abs(index.liquidity_index(ts_ns) / liquidity - 1))
            borrow_errors.append(abs(index.borrow_index(ts_ns) / borrow - 1))
        index.update(
            ts_ns,
            liquidity,
            borrow,
            float(row["currentLiquidityRate"]),
            float(row["currentVariableBorrowRate"]),
        )
    assert len(supply_errors) > 600
    assert statistics.median(supply_errors) < 5e-6
    assert statistics.median(borrow_errors) < 5e-6
    assert max(supply_errors + borrow_errors) < 1e-3  # the worst day is a rate spike (≈5e-4)


# ---------------------------------------------------------------------------------------------
# Parameter loading
# ---------------------------------------------------------------------------------------------


@needs_params
@pytest.mark.parametrize(
    ("symbol", "ltv", "lt", "bonus", "reserve_factor", "supply_cap", "borrow_cap"),
    [
        # "75%", "78%", "4.50%", "10%", "9.5000B" = 9.5e9, "8.8000B" = 8.8e9
        ("USDT", 0.75, 0.78, 0.045, 0.10, 9.5e9, 8.8e9),
        # "80.50%", "83%", "5%", "15%", "0.0032B" = 3.2e6, "0.0029B" = 2.9e6
        ("WETH", 0.805, 0.83, 0.05, 0.15, 3.2e6, 2.9e6),
        # "77.50%", "80%", "7%", "45%", "0.0022B" = 2.2e6, "0.0000B" = 0 → no cap
        ("weETH", 0.775, 0.80, 0.07, 0.45, 2.2e6, None),
        # "78.50%", "81%", "6%", "35%", "0.0018B" = 1.8e6, "0.0005B" = 5e5
        ("wstETH", 0.785, 0.81, 0.06, 0.35, 1.8e6, 5e5),
    ],
)
def test_real_reserve_params(
    symbol: str,
    ltv: float,
    lt: float,
    bonus: float,
    reserve_factor: float,
    supply_cap: float,
    borrow_cap: float | None,
) -> None:
    params = load_reserve_params(PARAMS_CSV, [symbol])[symbol]
    assert params.symbol == symbol
    assert params.ltv == pytest.approx(ltv, abs=1e-12)
    assert params.liquidation_threshold == pytest.approx(lt, abs=1e-12)
    assert params.liquidation_bonus == pytest.approx(bonus, abs=1e-12)
    assert params.reserve_factor == pytest.approx(reserve_factor, abs=1e-12)
    assert params.supply_cap == pytest.approx(supply_cap, rel=1e-12)
    assert params.borrow_cap == (None if borrow_cap is None else pytest.approx(borrow_cap, rel=1e-12))
    assert (params.borrowing_enabled, params.collateral_enabled, params.flashloan_enabled) == (
        True,
        True,
        True,
    )


@needs_params
def test_real_params_load_several_reserves_in_order() -> None:
    assert list(load_reserve_params(PARAMS_CSV, ["wstETH", "USDT"])) == ["wstETH", "USDT"]


@needs_risk_json
def test_real_emode_block() -> None:
    emode = load_emode(RISK_JSON)
    assert (emode.ltv, emode.liquidation_threshold, emode.liquidation_bonus) == (0.93, 0.95, 0.01)
    assert set(emode.assets) == {"WETH", "weETH", "wstETH"}
    assert load_emode(RISK_JSON, "weETH_WETH") == emode


def write_params_csv(path: Path, ltv: str = "80.50%", drop: str | None = None) -> Path:
    rows = [
        ["", "WETH", "USDT"],
        ["Collateral Enabled", "TRUE", "TRUE"],
        ["LTV", ltv, "75%"],
        ["Liquidation Threshold", "83%", "78%"],
        ["Liquidation Bonus", "5%", "4.50%"],
        ["Reserve Factor", "15%", "10%"],
        ["Borrowing Enabled", "TRUE", "TRUE"],
        ["Supply Cap", "0.0032B", "9.5000B"],
        ["Borrow Cap", "0.0029B", "N/A"],
        ["Flashloan Enabled", "TRUE", "TRUE"],
    ]
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(row for row in rows if row[0] != drop)
    return path


def test_params_csv_with_bom_parses(tmp_path: Path) -> None:
    params = load_reserve_params(write_params_csv(tmp_path / "p.csv"), ["WETH", "USDT"])
    assert params["WETH"].ltv == pytest.approx(0.805, abs=1e-12)
    assert params["USDT"].borrow_cap is None  # "N/A"


def test_params_unknown_reserve(tmp_path: Path) -> None:
    path = write_params_csv(tmp_path / "p.csv")
    with pytest.raises(ValueError, match=r"p\.csv: unknown reserve 'DAI'"):
        load_reserve_params(path, ["WETH", "DAI"])


def test_params_unparseable_value(tmp_path: Path) -> None:
    path = write_params_csv(tmp_path / "p.csv", ltv="eighty%")
    with pytest.raises(ValueError, match=r"p\.csv: reserve 'WETH', field 'LTV': 'eighty%'"):
        load_reserve_params(path, ["WETH"])


def test_params_missing_field(tmp_path: Path) -> None:
    path = write_params_csv(tmp_path / "p.csv", drop="Borrow Cap")
    with pytest.raises(ValueError, match=r"p\.csv: field 'Borrow Cap' missing \(needed for reserve 'WETH'\)"):
        load_reserve_params(path, ["WETH"])


@needs_params
def test_real_optimal_utilization() -> None:
    # "92%", "92%", "80%", "30%": the interest-rate kinks a local chain's strategies get
    kinks = load_optimal_utilization(PARAMS_CSV, ["WETH", "USDT", "wstETH", "weETH"])
    assert kinks == pytest.approx({"WETH": 0.92, "USDT": 0.92, "wstETH": 0.80, "weETH": 0.30}, abs=1e-12)


def test_optimal_utilization_missing_field(tmp_path: Path) -> None:
    path = write_params_csv(tmp_path / "p.csv")
    with pytest.raises(ValueError, match=r"p\.csv: field 'Optimal Utilization' missing"):
        load_optimal_utilization(path, ["WETH"])


def test_params_ltv_above_threshold_rejected(tmp_path: Path) -> None:
    path = write_params_csv(tmp_path / "p.csv", ltv="90%")  # LTV 90 % > LT 83 %
    with pytest.raises(ValueError, match=r"p\.csv: WETH: need 0 ≤ ltv ≤ liquidation_threshold"):
        load_reserve_params(path, ["WETH"])


def write_risk_json(path: Path, ltv_for_wsteth: float = 0.93, lt: float = 0.95) -> Path:
    def block(value: float, wsteth: float | None = None) -> str:
        return f'{{"weETH_WETH": {value}, "wstETH_WETH": {value if wsteth is None else wsteth}, "ETH_WETH": {value}}}'

    path.write_text(
        f'{{"emode": {{"ltv_limits": {block(0.93, ltv_for_wsteth)}, '
        f'"liquidation_thresholds": {block(lt)}, "liquidation_bonus": {block(0.01)}}}, '
        f'"standard": {{"ltv_limits": {block(0.8)}}}}}'
    )
    return path


def test_emode_entries_must_agree(tmp_path: Path) -> None:
    path = write_risk_json(tmp_path / "r.json", ltv_for_wsteth=0.9)
    with pytest.raises(ValueError, match=r"emode\.ltv_limits values disagree"):
        load_emode(path)


def test_emode_unknown_category(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no category 'BTC'"):
        load_emode(write_risk_json(tmp_path / "r.json"), "BTC")


def test_emode_ltv_must_be_below_threshold(tmp_path: Path) -> None:
    path = write_risk_json(tmp_path / "r.json", lt=0.93)  # LTV 0.93 = LT 0.93
    with pytest.raises(ValueError, match=r"r\.json: e-mode: need 0 < ltv < liquidation_threshold < 1"):
        load_emode(path)


def test_reserve_zero_cap_must_be_none() -> None:
    # A literal 0 cap would be ambiguous; the loader maps Aave's "0 = no cap" to None.
    with pytest.raises(ValueError, match=r"supply_cap 0\.0 must be > 0 or None"):
        reserve("WETH", 0.805, 0.83, 0.05, supply_cap=0.0)


# ---------------------------------------------------------------------------------------------
# Health factor, LTV, borrowing power
# ---------------------------------------------------------------------------------------------

# 10 weETH at 1.05 ETH (exchange-rate oracle) = 10.5 ETH of collateral, 9 WETH of debt.
COLLATERAL = {"weETH": 10.0}
DEBT = {"WETH": 9.0}
PRICES = {"weETH": 1.05, "WETH": 1.0, "USDT": 1 / 3000}


def test_health_factor_emode_vs_standard() -> None:
    # e-mode: 10 × 1.05 × 0.95 / 9 = 9.975 / 9 = 1.108333...
    assert health_factor(COLLATERAL, DEBT, PRICES, PARAMS, EMODE) == pytest.approx(1.1083333333333)
    # standard weETH LT 0.80: 10 × 1.05 × 0.80 / 9 = 8.4 / 9 = 0.933333... (liquidatable)
    assert health_factor(COLLATERAL, DEBT, PRICES, PARAMS) == pytest.approx(0.9333333333333)


def test_health_factor_emode_keeps_own_threshold_outside_category() -> None:
    # + 3000 USDT at 1/3000 ETH = 1 ETH at its own LT 0.78; debt 10 WETH:
    # (10.5 × 0.95 + 1 × 0.78) / 10 = (9.975 + 0.78) / 10 = 1.0755
    collateral = {"weETH": 10.0, "USDT": 3000.0}
    assert health_factor(collateral, {"WETH": 10.0}, PRICES, PARAMS, EMODE) == pytest.approx(1.0755)


def test_health_factor_without_debt_is_infinite() -> None:
    assert health_factor(COLLATERAL, {}, PRICES, PARAMS, EMODE) == math.inf
    assert health_factor(COLLATERAL, {"WETH": 0.0}, PRICES, PARAMS, EMODE) == math.inf


def test_health_factor_bad_inputs() -> None:
    with pytest.raises(ValueError, match="no valid price for 'weETH'"):
        health_factor(COLLATERAL, DEBT, {"WETH": 1.0}, PARAMS, EMODE)
    with pytest.raises(ValueError, match="negative amount"):
        health_factor({"weETH": -1.0}, DEBT, PRICES, PARAMS, EMODE)
    with pytest.raises(ValueError, match="no reserve parameters for 'wstETH'"):
        health_factor({"wstETH": 1.0}, DEBT, {**PRICES, "wstETH": 1.2}, PARAMS)


def test_loan_to_value() -> None:
    # 9 / 10.5 = 0.857142...
    assert loan_to_value(COLLATERAL, DEBT, PRICES, PARAMS, EMODE) == pytest.approx(0.8571428571428)
    assert loan_to_value(COLLATERAL, {}, PRICES, PARAMS, EMODE) == 0.0
    assert loan_to_value({}, {}, PRICES, PARAMS, EMODE) == 0.0
    assert loan_to_value({}, DEBT, PRICES, PARAMS, EMODE) == math.inf


def test_loan_to_value_ignores_assets_without_threshold() -> None:
    # DAI-like reserve with LT 0 is not collateral: LTV = 9 / 10.5 whatever DAI is held.
    params = {**PARAMS, "DAI": reserve("DAI", 0.0, 0.0, 0.0, collateral_enabled=False)}
    prices = {**PRICES, "DAI": 1 / 3000}
    collateral = {"weETH": 10.0, "DAI": 30_000.0}
    assert loan_to_value(collateral, DEBT, prices, params, EMODE) == pytest.approx(0.8571428571428)


def test_borrowing_power() -> None:
    # e-mode: 10.5 × 0.93 − 9 = 9.765 − 9 = 0.765 ETH more can be borrowed
    assert borrowing_power(COLLATERAL, DEBT, PRICES, PARAMS, EMODE) == pytest.approx(0.765)
    # standard weETH LTV 0.775: 10.5 × 0.775 − 9 = 8.1375 − 9 = −0.8625 (over-borrowed)
    assert borrowing_power(COLLATERAL, DEBT, PRICES, PARAMS) == pytest.approx(-0.8625)


# ---------------------------------------------------------------------------------------------
# Liquidation
# ---------------------------------------------------------------------------------------------


def test_liquidation_half_close_factor() -> None:
    # hf 0.97 ≥ 0.95: repay 50 % of 100 WETH = 50; seize 50 × 1 × 1.01 / 1.05 = 48.095238 weETH
    repaid, seized = liquidation(0.97, 100.0, 200.0, 1.0, 1.05, 0.01)
    assert repaid == pytest.approx(50.0)
    assert seized == pytest.approx(48.0952380952381)


def test_liquidation_full_close_factor() -> None:
    # hf 0.9 < 0.95: repay 100 % = 100; seize 100 × 1.01 / 1.05 = 96.190476 (< 200 available)
    repaid, seized = liquidation(0.9, 100.0, 200.0, 1.0, 1.05, 0.01)
    assert repaid == pytest.approx(100.0)
    assert seized == pytest.approx(96.19047619047619)


def test_liquidation_capped_by_collateral() -> None:
    # hf 0.9, only 80 weETH: 96.19 > 80 → seize all 80, repay 80 × 1.05 / 1.01 = 83.168317
    repaid, seized = liquidation(0.9, 100.0, 80.0, 1.0, 1.05, 0.01)
    assert seized == pytest.approx(80.0)
    assert repaid == pytest.approx(83.16831683168317)


def test_liquidation_boundaries() -> None:
    assert liquidation(1.0, 100.0, 200.0, 1.0, 1.05, 0.01) == (0.0, 0.0)
    assert liquidation(math.inf, 100.0, 200.0, 1.0, 1.05, 0.01) == (0.0, 0.0)
    # exactly 0.95 still uses the 50 % close factor
    assert liquidation(0.95, 100.0, 200.0, 1.0, 1.05, 0.01)[0] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((math.nan, 1.0, 1.0, 1.0, 1.0, 0.01), "health factor"),
        ((0.9, -1.0, 1.0, 1.0, 1.0, 0.01), "amounts must be ≥ 0"),
        ((0.9, 1.0, 1.0, 0.0, 1.0, 0.01), "prices must be > 0"),
        ((0.9, 1.0, 1.0, 1.0, 1.0, -0.01), "bonus must be ≥ 0"),
    ],
)
def test_liquidation_bad_inputs(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        liquidation(*args)


# ---------------------------------------------------------------------------------------------
# Leverage
# ---------------------------------------------------------------------------------------------


def test_leverage_targets() -> None:
    # E = 10, λ = 0.909: S = 10 / 0.091 = 109.89011, D = 9.09 / 0.091 = 99.89011; S − D = 10, D/S = 0.909
    supply, debt = leverage_targets(10.0, 0.909)
    assert supply == pytest.approx(109.8901098901099)
    assert debt == pytest.approx(99.8901098901099)
    assert debt / supply == pytest.approx(0.909, rel=1e-12)
    assert supply - debt == pytest.approx(10.0)
    assert leverage_targets(10.0, 0.0) == (10.0, 0.0)


@pytest.mark.parametrize(("equity", "ltv"), [(10.0, 1.0), (10.0, -0.1), (-1.0, 0.5), (math.nan, 0.5)])
def test_leverage_targets_bad_inputs(equity: float, ltv: float) -> None:
    with pytest.raises(ValueError):
        leverage_targets(equity, ltv)


def test_target_ltv() -> None:
    # 0.93 × (1 − 0.0225) = 0.93 × 0.9775 = 0.909075
    assert target_ltv(0.93, 0.0225) == pytest.approx(0.909075)
    with pytest.raises(ValueError, match="max stake spread move"):
        target_ltv(0.93, 1.0)
    with pytest.raises(ValueError, match="e-mode LTV"):
        target_ltv(1.2, 0.0225)


def test_validate_thresholds_accepts_domain_defaults() -> None:
    # HF at λ = 0.909075: 0.95 / 0.909075 = 1.04502 > 1.02
    validate_thresholds(0.909075, 1.02, EMODE)


def test_validate_thresholds_rejects_impossible_min_hf() -> None:
    # DOMAIN pitfall: λ 0.9 at LT 0.95 gives HF 0.95 / 0.9 = 1.0556, below a minimum HF of 1.1
    with pytest.raises(
        ValueError, match=r"target LTV 0\.9 gives HF 0\.95/0\.9 = 1\.056, not above the deleverage HF 1\.1"
    ):
        validate_thresholds(0.9, 1.1, EMODE)


def test_validate_thresholds_rejects_ltv_at_emode_ltv_and_hf_at_one() -> None:
    with pytest.raises(ValueError, match=r"must be in \(0, e-mode LTV 0\.93\)"):
        validate_thresholds(0.93, 1.01, EMODE)
    with pytest.raises(ValueError, match=r"deleverage HF 1\.0 must be > 1"):
        validate_thresholds(0.9, 1.0, EMODE)


# ---------------------------------------------------------------------------------------------
# Caps
# ---------------------------------------------------------------------------------------------

WETH_CAPPED = reserve("WETH", 0.805, 0.83, 0.05, supply_cap=3.2e6, borrow_cap=2.9e6)


def test_supply_cap() -> None:
    assert check_supply_cap(WETH_CAPPED, 3.2e6) is None  # reaching the cap is allowed
    assert check_supply_cap(WETH_CAPPED, 3_200_001.0) == (
        "WETH supply cap 3,200,000 exceeded: total supplied would be 3,200,001.00"
    )
    assert check_supply_cap(PARAMS["WETH"], 1e12) is None  # no cap


def test_borrow_cap() -> None:
    assert check_borrow_cap(WETH_CAPPED, 2.9e6) is None
    assert check_borrow_cap(WETH_CAPPED, 2_900_000.5) == (
        "WETH borrow cap 2,900,000 exceeded: total borrowed would be 2,900,000.50"
    )
    disabled = reserve("USDT", 0.75, 0.78, 0.045, borrowing_enabled=False)
    assert check_borrow_cap(disabled, 1.0) == "USDT borrowing is not enabled"


def test_caps_reject_bad_totals() -> None:
    with pytest.raises(ValueError, match="reserve total"):
        check_supply_cap(WETH_CAPPED, -1.0)
    with pytest.raises(ValueError, match="reserve total"):
        check_borrow_cap(WETH_CAPPED, math.nan)
