"""Aave v3 protocol math for the simulated lending backend, the leveraged strategies and their tests.

Pure Python, floats, no Nautilus: reserve and e-mode risk parameters loaded from the reference data,
a streaming (no look-ahead) model of the liquidity and variable-borrow indices,
health factor / LTV / borrowing power, liquidation amounts, leverage sizing and supply/borrow caps.

All values are in whole tokens (not wei) and in one common price base chosen by the caller
(ETH for the leveraged modes: WETH = 1, LSTs at their exchange-rate oracle).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

SECONDS_PER_YEAR = 365 * 86400
"""Aave v3 ``MathUtils.SECONDS_PER_YEAR``: rates are APRs over a 365-day year."""

NANOS_PER_SECOND = 1_000_000_000

CLOSE_FACTOR_HF_THRESHOLD = 0.95
"""Below this HF a liquidator may repay the whole debt (Aave v3 ``CLOSE_FACTOR_HF_THRESHOLD``)."""

DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5
MAX_LIQUIDATION_CLOSE_FACTOR = 1.0

ETH_CORRELATED_ASSETS = ("WETH", "weETH", "wstETH")
"""Reserves of Aave v3 Ethereum's "ETH correlated" e-mode category used by the leveraged modes."""


# --------------------------------------------------------------------------------------------------
# Risk parameters
# --------------------------------------------------------------------------------------------------


def _check_risk_triple(where: str, ltv: float, threshold: float, bonus: float) -> None:
    """Aave v3 ``PoolConfigurator`` rejects LTV > LT and LT × (1 + bonus) > 100 %.

    The second rule guarantees a liquidation can always pay its bonus out of the collateral.
    """
    if not 0.0 <= ltv <= threshold <= 1.0:
        raise ValueError(f"{where}: need 0 ≤ ltv ≤ liquidation_threshold ≤ 1, got {ltv} and {threshold}")
    if bonus < 0.0 or threshold * (1.0 + bonus) > 1.0:
        raise ValueError(
            f"{where}: liquidation_bonus {bonus} must be ≥ 0 with threshold × (1 + bonus) ≤ 1 "
            f"(threshold {threshold})"
        )


@dataclass(frozen=True)
class ReserveParams:
    """One Aave v3 reserve's risk configuration (fractions, caps in whole tokens).

    Caps: on-chain ``supplyCap``/``borrowCap`` of 0 means "no cap" (``ValidationLogic`` skips the
    check when the cap is 0), so a cap of 0 is stored as ``None`` like "N/A". The reference CSV
    shows caps in billions with 4 decimals (resolution 10⁵ tokens), so its "0.0000B" could also
    hide a cap below 5·10⁴ tokens; weETH's "Borrow Cap 0.0000B" with "Borrowing Enabled TRUE" is
    therefore read as Aave's "no cap", not as "borrowing disabled". The leveraged modes only
    supply weETH, so this reading does not affect them.

    ``collateral_enabled`` is informational for the backend: the health factor uses the
    liquidation threshold alone, as on-chain (LUSD, SNX, … show collateral disabled with LT > 0:
    existing collateral still protects positions, only LTV 0 stops new borrowing against it).
    """

    symbol: str
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    reserve_factor: float
    supply_cap: float | None
    borrow_cap: float | None
    borrowing_enabled: bool
    collateral_enabled: bool
    flashloan_enabled: bool

    def __post_init__(self) -> None:
        _check_risk_triple(self.symbol, self.ltv, self.liquidation_threshold, self.liquidation_bonus)
        if not 0.0 <= self.reserve_factor <= 1.0:
            raise ValueError(f"{self.symbol}: reserve_factor {self.reserve_factor} outside [0, 1]")
        for name in ("supply_cap", "borrow_cap"):
            cap = getattr(self, name)
            if cap is not None and not cap > 0.0:
                raise ValueError(f"{self.symbol}: {name} {cap} must be > 0 or None (no cap)")


@dataclass(frozen=True)
class EModeParams:
    """An e-mode category: its LTV / LT / bonus replace the reserves' own for its assets."""

    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    assets: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 0.0 < self.ltv < self.liquidation_threshold < 1.0:
            raise ValueError(
                f"e-mode: need 0 < ltv < liquidation_threshold < 1, got {self.ltv} and "
                f"{self.liquidation_threshold}"
            )
        _check_risk_triple("e-mode", self.ltv, self.liquidation_threshold, self.liquidation_bonus)
        if not self.assets:
            raise ValueError("e-mode: a category needs at least one asset")


_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_BILLIONS = re.compile(r"^(\d+(?:\.\d+)?)B$")
_FLAGS = {"TRUE": True, "FALSE": False}

_PERCENT_FIELDS = {
    "ltv": "LTV",
    "liquidation_threshold": "Liquidation Threshold",
    "liquidation_bonus": "Liquidation Bonus",
    "reserve_factor": "Reserve Factor",
}
_CAP_FIELDS = {"supply_cap": "Supply Cap", "borrow_cap": "Borrow Cap"}
_FLAG_FIELDS = {
    "borrowing_enabled": "Borrowing Enabled",
    "collateral_enabled": "Collateral Enabled",
    "flashloan_enabled": "Flashloan Enabled",
}


def _parse_percent(text: str) -> float:
    """Parse "80.50%" → 0.805 (via Decimal, so the fraction is the correctly rounded float)."""
    match = _PERCENT.match(text)
    if match is None:
        raise ValueError("expected a percentage like '80.50%'")
    return float(Decimal(match.group(1)) / 100)


def _parse_cap(text: str) -> float | None:
    """Parse "0.0032B" → 3.2e6 tokens; "N/A" and 0 → None (Aave: a cap of 0 means no cap)."""
    if text == "N/A":
        return None
    match = _BILLIONS.match(text)
    if match is None:
        raise ValueError("expected a cap like '0.0032B' (billions of tokens) or 'N/A'")
    tokens = Decimal(match.group(1)) * 1_000_000_000
    return float(tokens) if tokens else None


def _parse_flag(text: str) -> bool:
    if text not in _FLAGS:
        raise ValueError("expected TRUE or FALSE")
    return _FLAGS[text]


def _read_transposed(csv_path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The params CSV is transposed: header = reserves, each row = one parameter for all of them."""
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:  # the file starts with a BOM
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise ValueError(f"{csv_path}: empty reserve parameters file")
    header = [cell.strip() for cell in rows[0][1:]]
    fields = {row[0].strip(): [cell.strip() for cell in row[1:]] for row in rows[1:]}
    return header, fields


def load_reserve_params(csv_path: str | Path, symbols: Iterable[str]) -> dict[str, ReserveParams]:
    """Read the requested reserves from the real Aave v3 Ethereum parameters snapshot.

    Only that CSV is trusted for non-e-mode parameters (the JSON's "standard" block is wrong).
    Every failure names the file, the reserve and the field.
    """
    path = Path(csv_path)
    header, fields = _read_transposed(path)
    parsers = (
        [(name, label, _parse_percent) for name, label in _PERCENT_FIELDS.items()]
        + [(name, label, _parse_cap) for name, label in _CAP_FIELDS.items()]
        + [(name, label, _parse_flag) for name, label in _FLAG_FIELDS.items()]
    )
    result: dict[str, ReserveParams] = {}
    for symbol in symbols:
        if header.count(symbol) != 1:
            problem = "unknown reserve" if symbol not in header else "duplicated reserve column"
            raise ValueError(f"{path}: {problem} {symbol!r}")
        column = header.index(symbol)
        values: dict[str, object] = {}
        for name, label, parse in parsers:
            if label not in fields:
                raise ValueError(f"{path}: field {label!r} missing (needed for reserve {symbol!r})")
            row = fields[label]
            text = row[column] if column < len(row) else ""
            try:
                values[name] = parse(text)
            except ValueError as exc:
                raise ValueError(f"{path}: reserve {symbol!r}, field {label!r}: {text!r}: {exc}") from None
        try:
            result[symbol] = ReserveParams(symbol=symbol, **values)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return result


def _agreeing_value(block: Mapping[str, object], json_path: Path, key: str, category: str) -> float:
    """The category's value, after checking every pair of the (single) ETH category agrees."""
    if category not in block:
        raise ValueError(f"{json_path}: emode.{key} has no category {category!r} (has {sorted(block)})")
    numbers = {name: value for name, value in block.items() if isinstance(value, int | float)}
    if len(numbers) != len(block):
        raise ValueError(f"{json_path}: emode.{key} holds non-numeric values: {dict(block)}")
    if len(set(numbers.values())) != 1:
        raise ValueError(f"{json_path}: emode.{key} values disagree: {numbers}")
    return float(numbers[category])


def load_emode(json_path: str | Path, category: str = "ETH_WETH") -> EModeParams:
    """The ETH-correlated e-mode from the risk JSON's ``emode`` block (its ``standard`` block is wrong).

    The JSON lists one entry per asset pair (weETH_WETH, wstETH_WETH, ETH_WETH) but on Aave v3
    they are one category, so the entries must carry identical numbers.
    """
    path = Path(json_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    emode = document.get("emode") if isinstance(document, dict) else None
    if not isinstance(emode, dict):
        raise ValueError(f"{path}: no 'emode' block")
    values: dict[str, float] = {}
    for key in ("ltv_limits", "liquidation_thresholds", "liquidation_bonus"):
        block = emode.get(key)
        if not isinstance(block, dict) or not block:
            raise ValueError(f"{path}: emode.{key} missing or empty")
        values[key] = _agreeing_value(block, path, key, category)
    try:
        return EModeParams(
            ltv=values["ltv_limits"],
            liquidation_threshold=values["liquidation_thresholds"],
            liquidation_bonus=values["liquidation_bonus"],
            assets=ETH_CORRELATED_ASSETS,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# Indices and balances
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    ts_ns: int
    liquidity_index: float
    variable_borrow_index: float
    liquidity_rate: float
    variable_borrow_rate: float


class ReserveIndex:
    """Streaming liquidity / variable-borrow index of one reserve, with no look-ahead.

    Holds only the latest snapshot. Between snapshots the index is accrued forward from it at its
    own current rate, exactly as Aave updates its state on-chain (``ReserveLogic._updateIndexes``):

    - liquidity index, linear: ``I · (1 + r · Δt / SECONDS_PER_YEAR)``
      (``MathUtils.calculateLinearInterest``);
    - variable-borrow index, compounded per second: ``I · (1 + r / SECONDS_PER_YEAR) ** Δt``
      (``calculateCompoundedInterest``, which on-chain is a 3-term binomial expansion of this
      expression; the difference is ≈1e-17 relative over a day at 5 %).

    It never interpolates toward the next snapshot: that snapshot lies in the future of any time
    between the two, so using it would be look-ahead. A later snapshot simply replaces the
    accrual. A query before the latest snapshot raises, because the history it would need has
    been dropped; at a snapshot's time the value is the snapshot's exactly.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._latest: _Snapshot | None = None

    @property
    def last_ts_ns(self) -> int | None:
        """Time of the latest snapshot, None before the first one."""
        return None if self._latest is None else self._latest.ts_ns

    def update(
        self,
        ts_ns: int,
        liquidity_index: float,
        variable_borrow_index: float,
        liquidity_rate: float,
        variable_borrow_rate: float,
    ) -> None:
        """Record a snapshot; snapshots must arrive strictly in time order.

        A second snapshot at the same time is refused too: an index is a function of time, so two
        values at one instant are a data defect for ingestion to resolve, not to overwrite here.
        """
        if self._latest is not None and ts_ns <= self._latest.ts_ns:
            raise ValueError(
                f"{self.symbol}: snapshot at {ts_ns} ns is not after the latest one "
                f"at {self._latest.ts_ns} ns"
            )
        indices = {"liquidity_index": liquidity_index, "variable_borrow_index": variable_borrow_index}
        rates = {"liquidity_rate": liquidity_rate, "variable_borrow_rate": variable_borrow_rate}
        for name, value in indices.items():
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{self.symbol}: {name} must be finite and > 0, got {value}")
        for name, value in rates.items():
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{self.symbol}: {name} must be a finite APR ≥ 0, got {value}")
        self._latest = _Snapshot(
            ts_ns, liquidity_index, variable_borrow_index, liquidity_rate, variable_borrow_rate
        )

    def _since_latest(self, ts_ns: int) -> tuple[_Snapshot, float]:
        """The latest snapshot and the seconds elapsed since it; refuses to look backwards."""
        if self._latest is None:
            raise ValueError(f"{self.symbol}: no index snapshot yet, cannot value at {ts_ns} ns")
        if ts_ns < self._latest.ts_ns:
            raise ValueError(
                f"{self.symbol}: {ts_ns} ns is before the latest snapshot at {self._latest.ts_ns} ns "
                "(earlier history is not kept)"
            )
        return self._latest, (ts_ns - self._latest.ts_ns) / NANOS_PER_SECOND

    def liquidity_index(self, ts_ns: int) -> float:
        """Supply (aToken) index at ``ts_ns``: linear accrual from the latest snapshot."""
        snap, seconds = self._since_latest(ts_ns)
        return snap.liquidity_index * (1.0 + snap.liquidity_rate * seconds / SECONDS_PER_YEAR)

    def borrow_index(self, ts_ns: int) -> float:
        """Variable-debt index at ``ts_ns``: per-second compounding from the latest snapshot."""
        snap, seconds = self._since_latest(ts_ns)
        return snap.variable_borrow_index * (1.0 + snap.variable_borrow_rate / SECONDS_PER_YEAR) ** seconds


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
