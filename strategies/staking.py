"""ETH staking: hold a liquid-staking token (EtherFi weETH or Lido wstETH), no leverage.

Free ETH (capital beyond the gas reserve) is minted into the LST at the protocol rate. The LST's
rate growth is the base yield; weETH holders also receive EtherFi rewards (EIGEN, ETHFI) when
``rewards_mode`` is ``base_and_rewards``, which ``sell_dust`` sells for ETH once they are worth
more than ``dust_threshold_usd`` — and the ETH goes back into the LST. Exits either sell the LST
on its DEX pool at the market rate (``exit_route: dex``, immediate, pays fee and impact) or
redeem it through the protocol's withdrawal queue (``queue``: the protocol rate, after the
queue's delay); a DEX exit with no market price at that hour falls back to the queue.
"""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.margin import last_price
from adapters.defi.currencies import WITHDRAWAL_QUEUE
from strategies.defi import DefiStrategy, StakingModeConfig
from strategies.needs import DataNeeds
from strategies.plan import Phase

EXIT_ROUTES = ("dex", "queue")
QUEUE_DUST = 1e-6
"""Queue ETH below this (rounding) counts as paid out."""
DEX_EXIT_BUFFER = 1.003
"""Sell this much more LST than the fee-adjusted need, for price impact (the rest stays ETH)."""


class StakingStrategyConfig(StakingModeConfig, frozen=True):
    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("ETH",)

    exit_route: str = "dex"
    """How withdrawals leave the LST: ``dex`` (sell at the market rate now) or ``queue`` (protocol
    rate, after the withdrawal delay)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.exit_route not in EXIT_ROUTES:
            raise ValueError(f"exit_route must be one of {EXIT_ROUTES}, got {self.exit_route!r}")


class StakingStrategy(DefiStrategy):
    def __init__(self, config: StakingStrategyConfig) -> None:
        super().__init__(config)
        self.staking = config
        self.lst = self.staking_spec(config.lst)

    def legs(self) -> list[InstrumentId]:
        return [self.wallet_id(self.lst.mint_symbol), self.pool_id]

    def data_needs(self) -> DataNeeds:
        rewards = self.rewards_credited(self.staking)
        optional = (self.wallet_id(self.lst.market_pool), *(self.reward_pools() if rewards else ()))
        queue = self.wallet_id(self.lst.queue_symbol)
        return DataNeeds(required=tuple(self.legs()), optional=optional, rewards=rewards, trades=(queue,))

    def position_tokens(self) -> set[str]:
        return {self.lst.token, WITHDRAWAL_QUEUE}

    def deploy_phases(self) -> list[Phase]:
        return [self._stake]

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        return [lambda: self._unstake(amount)]

    def rebalance_phases(self) -> list[Phase] | None:
        return self.idle_phases()

    def _stake(self) -> None:
        free = self.free_eth()
        if free > 0:
            mint = self.wallet_instrument(self.lst.mint_symbol)
            self.submit_market(mint, OrderSide.BUY, free / self.lst_rate(self.lst))

    def _unstake(self, amount: float) -> None:
        held = self.wallet_balance(self.lst.token)
        shortfall = float("inf") if amount == float("inf") else amount - self.free_eth()
        if shortfall <= 0 or held <= 0:
            return
        pool = self.wallet_instrument(self.lst.market_pool)
        market = last_price(self.cache, pool.id)
        if self.staking.exit_route == "dex" and market is not None and self.priced_this_hour(pool.id):
            need = shortfall / (market * (1 - float(pool.taker_fee))) * DEX_EXIT_BUFFER
            self.submit_market(pool, OrderSide.SELL, min(held, need))
            return
        if self.staking.exit_route == "dex":
            self.log.warning(f"no {pool.id} price this hour: redeeming through the withdrawal queue")
        need = shortfall / self.lst_rate(self.lst)
        self.submit_market(self.wallet_instrument(self.lst.queue_symbol), OrderSide.SELL, min(held, need))
        self.plans.wait_until(lambda: self.wallet_balance(WITHDRAWAL_QUEUE) < QUEUE_DUST)
