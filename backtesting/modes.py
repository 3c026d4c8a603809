"""The registry of modes: name → strategy class and its config class."""

from __future__ import annotations

from dataclasses import dataclass

from strategies.base import YieldStrategy, YieldStrategyConfig
from strategies.basis import BasisStrategy, BasisStrategyConfig
from strategies.directional import DirectionalConfig, DirectionalStrategy
from strategies.hedged import (
    HedgedLeveragedConfig,
    HedgedLeveragedStrategy,
    HedgedStakingConfig,
    HedgedStakingStrategy,
)
from strategies.lending import LendingStrategy, LendingStrategyConfig
from strategies.leveraged import LeveragedStakingConfig, LeveragedStakingStrategy
from strategies.staking import StakingStrategy, StakingStrategyConfig


@dataclass(frozen=True)
class ModeSpec:
    name: str
    strategy: type[YieldStrategy]
    config: type[YieldStrategyConfig]
    description: str
    share_class: str = "USDT"
    """The currency the mode reports in (DOMAIN.md fixes it per mode)."""
    asset: str | None = None
    """The asset the mode trades, when its strategy config has an ``asset`` (it must match)."""


MODES: dict[str, ModeSpec] = {
    spec.name: spec
    for spec in (
        ModeSpec(
            "btc_basis",
            BasisStrategy,
            BasisStrategyConfig,
            "long BTC spot + short BTC perp on 3 CEXs",
            asset="BTC",
        ),
        ModeSpec(
            "eth_basis",
            BasisStrategy,
            BasisStrategyConfig,
            "long ETH spot + short ETH perp on 3 CEXs",
            asset="ETH",
        ),
        ModeSpec("pure_lending_usdt", LendingStrategy, LendingStrategyConfig, "USDT supplied to Aave v3"),
        ModeSpec(
            "pure_lending_eth",
            LendingStrategy,
            LendingStrategyConfig,
            "ETH (WETH) supplied to Aave v3",
            "ETH",
        ),
        ModeSpec(
            "eth_staking_only",
            StakingStrategy,
            StakingStrategyConfig,
            "ETH staked into weETH or wstETH",
            "ETH",
        ),
        ModeSpec(
            "eth_leveraged",
            LeveragedStakingStrategy,
            LeveragedStakingConfig,
            "LST on Aave e-mode against a WETH borrow, flash-loan loop",
            "ETH",
        ),
        ModeSpec(
            "usdt_eth_staking_hedged_simple",
            HedgedStakingStrategy,
            HedgedStakingConfig,
            "staked ETH (LST) hedged with short ETH perps on 3 CEXs",
        ),
        ModeSpec(
            "usdt_eth_staking_hedged_leveraged",
            HedgedLeveragedStrategy,
            HedgedLeveragedConfig,
            "flash-loan LST loop hedged with short ETH perps on 3 CEXs (the sUSDe trade)",
        ),
        ModeSpec(
            "ml_btc_directional_usdt_margin",
            DirectionalStrategy,
            DirectionalConfig,
            "Binance BTCUSDT perp traded on walk-forward model signals, bracketed SL/TP",
        ),
        ModeSpec(
            "ml_btc_directional_btc_margin",
            DirectionalStrategy,
            DirectionalConfig,
            "Binance inverse BTCUSD perp (coin-margined) on the same signals, NAV in BTC",
            "BTC",
        ),
    )
}


def mode_spec(name: str) -> ModeSpec:
    try:
        return MODES[name]
    except KeyError:
        raise ValueError(f"unknown mode {name!r}; available: {', '.join(MODES)}") from None
