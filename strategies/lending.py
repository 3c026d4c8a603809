"""Pure lending: supply the share currency to Aave v3 and let the aToken balance grow.

``pure_lending_usdt`` supplies USDT (and buys a small ETH gas reserve with USDT);
``pure_lending_eth`` supplies ETH as WETH, keeping ``gas_reserve_eth`` of its capital for gas.
Withdrawals redeem aTokens 1:1 for the underlying; nothing else ever needs rebalancing.
"""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.defi.config import AaveReserveSpec
from strategies.defi import DefiStrategy, DefiStrategyConfig
from strategies.needs import DataNeeds
from strategies.plan import Phase


class LendingStrategyConfig(DefiStrategyConfig, frozen=True):
    """Supplies the share currency to its Aave v3 reserve (USDT → USDT, ETH → WETH)."""

    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("USDT", "ETH")


class LendingStrategy(DefiStrategy):
    def __init__(self, config: LendingStrategyConfig) -> None:
        super().__init__(config)
        self.reserve: AaveReserveSpec = next(
            r for r in self.wallet_config.aave.reserves if r.underlying == config.share_class
        )
        self.a_symbol = f"{self.reserve.a_token}-AAVE"

    def legs(self) -> list[InstrumentId]:
        return [self.pool_id]  # the hourly ETH/USDT price: gas and USD thresholds are valued with it

    def data_needs(self) -> DataNeeds:
        return DataNeeds(
            required=(self.pool_id,), aave_reserves=(self.a_symbol,), trades=(self.wallet_id(self.a_symbol),)
        )

    def position_tokens(self) -> set[str]:
        return {self.reserve.a_token}

    def deploy_phases(self) -> list[Phase]:
        return [self._supply]

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        return [lambda: self._withdraw(amount)]

    def rebalance_phases(self) -> list[Phase] | None:
        return self.idle_phases()

    def _supply(self) -> None:
        free = self.free_capital()
        if free > 0:
            self.submit_market(self.wallet_instrument(self.a_symbol), OrderSide.BUY, free)

    def _withdraw(self, amount: float) -> None:
        supplied = self.wallet_balance(self.reserve.a_token)
        shortfall = supplied if amount == float("inf") else amount - self.free_capital()
        if shortfall > 0:
            self.submit_market(
                self.wallet_instrument(self.a_symbol), OrderSide.SELL, min(shortfall, supplied)
            )
