"""Aave v3 reserve and e-mode risk parameters, read from the reference data and checked.

The reserve CSV is a real snapshot of Aave v3 Ethereum (LTV, liquidation threshold and bonus,
reserve factor, caps, flags); the e-mode block comes from the risk-parameter JSON.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ETH_CORRELATED_ASSETS = ("WETH", "weETH", "wstETH")
"""Reserves of Aave v3 Ethereum's "ETH correlated" e-mode category used by the leveraged modes."""


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

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EModeParams:
        """From the catalog's ``aave_params.json`` ``emode`` block (JSON keeps the assets as a list)."""
        return cls(**{**values, "assets": tuple(values["assets"])})


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


def load_optimal_utilization(csv_path: str | Path, symbols: Iterable[str]) -> dict[str, float]:
    """Each reserve's interest-rate kink ("Optimal Utilization") from the reserve CSV, as a fraction.

    The simulated backend does not need it (rates come from the recorded indices); a local chain
    running Aave's own interest-rate strategy does.
    """
    path = Path(csv_path)
    header, fields = _read_transposed(path)
    row = fields.get("Optimal Utilization")
    if row is None:
        raise ValueError(f"{path}: field 'Optimal Utilization' missing")
    result: dict[str, float] = {}
    for symbol in symbols:
        if symbol not in header:
            raise ValueError(f"{path}: unknown reserve {symbol!r}")
        text = row[header.index(symbol)]
        try:
            result[symbol] = _parse_percent(text)
        except ValueError as exc:
            where = f"{path}: reserve {symbol!r}, field 'Optimal Utilization'"
            raise ValueError(f"{where}: {text!r}: {exc}") from None
    return result
