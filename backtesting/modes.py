"""The registry of modes: name → strategy class and its config class."""

from __future__ import annotations

from dataclasses import dataclass

from strategies.base import YieldStrategy, YieldStrategyConfig
from strategies.basis import BasisStrategy, BasisStrategyConfig


@dataclass(frozen=True)
class ModeSpec:
    name: str
    strategy: type[YieldStrategy]
    config: type[YieldStrategyConfig]
    description: str


MODES: dict[str, ModeSpec] = {
    spec.name: spec
    for spec in (
        ModeSpec("btc_basis", BasisStrategy, BasisStrategyConfig, "long BTC spot + short BTC perp on 3 CEXs"),
        ModeSpec("eth_basis", BasisStrategy, BasisStrategyConfig, "long ETH spot + short ETH perp on 3 CEXs"),
    )
}


def mode_spec(name: str) -> ModeSpec:
    try:
        return MODES[name]
    except KeyError:
        raise ValueError(f"unknown mode {name!r}; available: {', '.join(MODES)}") from None
