"""What the on-chain modes share: idle capital goes back to work, LST specs and rates.

An on-chain mode keeps its whole book in the wallet venue. Between investor flows its only
routine decision besides its own risk bands is whether share currency sitting idle in the wallet
(a reward sale's proceeds, what an exit left over) is worth deploying: only above
``min_deploy_usd``, because every deployment costs gas.
"""

from __future__ import annotations

from nautilus_trader.model.identifiers import InstrumentId

from adapters.defi.config import StakingSpec
from adapters.defi.rewards import REWARD_TOKENS
from strategies.base import YieldStrategy, YieldStrategyConfig
from strategies.plan import Decision, Phase

REWARDS_MODES = ("base_only", "base_and_rewards")


class DefiStrategyConfig(YieldStrategyConfig, frozen=True):
    min_deploy_usd: float = 500.0
    """Idle share currency in the wallet is deployed once it is worth more than this (USD)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_deploy_usd < 0:
            raise ValueError(f"min_deploy_usd must be >= 0, got {self.min_deploy_usd}")


class StakingModeConfig(DefiStrategyConfig, frozen=True):
    """The liquid-staking choice of the staking modes."""

    lst: str = "WEETH"
    """Which LST to hold: ``WEETH`` (EtherFi, earns restaking rewards) or ``WSTETH`` (Lido)."""
    rewards_mode: str = "base_and_rewards"
    """``base_only`` (LST rate growth only) or ``base_and_rewards`` (plus EtherFi rewards, weETH only)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lst not in ("WEETH", "WSTETH"):
            raise ValueError(f"lst must be 'WEETH' or 'WSTETH', got {self.lst!r}")
        if self.rewards_mode not in REWARDS_MODES:
            raise ValueError(f"rewards_mode must be one of {REWARDS_MODES}, got {self.rewards_mode!r}")


class DefiStrategy(YieldStrategy):
    """Base of the on-chain modes (see the module docstring)."""

    def __init__(self, config: DefiStrategyConfig) -> None:
        super().__init__(config)
        self.defi = config

    def idle_phases(self) -> list[Phase] | None:
        """Deploy idle share currency when it is worth more than ``min_deploy_usd``."""
        free = self.free_capital()
        if free <= 0:
            return None
        value = free * self.valuation.numeraire_price(self.share, self.cache)
        return self.deploy_phases() if value > self.defi.min_deploy_usd else None

    def rebalance_plan(self) -> Decision | None:
        """The on-chain books' rebalance deploys idle capital (``idle_phases``): say how much."""
        free = self.free_capital()
        phases = self.rebalance_phases()
        if phases is None:
            return None
        why = f"idle capital to deploy ({free:,.6g} {self.share} free in the wallet)"
        return Decision("rebalance", phases, why)

    def free_eth(self) -> float:
        """ETH in the wallet beyond the gas reserve: what a staking book can put to work (for an
        ETH share class this is its free capital)."""
        return self.wallet_balance("ETH") - self.cfg.gas_reserve_eth

    def staking_spec(self, token: str) -> StakingSpec:
        return next(s for s in self.wallet_config.staking if s.token == token)

    def lst_rate(self, lst: StakingSpec) -> float:
        """ETH per LST at the protocol rate (what minting costs and Aave's oracle reads)."""
        return self.price(self.wallet_id(lst.mint_symbol))

    def rewards_credited(self, config: StakingModeConfig) -> bool:
        lst = self.staking_spec(config.lst)
        return config.rewards_mode == "base_and_rewards" and lst.protocol == "ETHERFI"

    def reward_pools(self) -> tuple[InstrumentId, ...]:
        """Pools that price EtherFi's reward tokens (for valuing and selling them)."""
        return tuple(self.wallet_id(p.symbol) for p in self.wallet_config.pools if p.base in REWARD_TOKENS)
