"""The spot account of an exchange that keeps spot apart from futures (Binance's classic mode).

Live, such an account is its own execution client and so its own Nautilus venue: a CASH account
whose spot holdings are coin balances. Its simulated exchange carries this module, which lends the
exchange to the exchange's :class:`~adapters.cex.venue.CexVenueModule` (deposits land here,
withdrawals and moves to futures leave from here) and runs that module's pre-trade checks for the
spot orders sent here.
"""

from __future__ import annotations

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.model.orders import Order


class SpotAccountModuleConfig(SimulationModuleConfig, frozen=True):
    venue: str


class SpotAccountModule(SimulationModule):
    """Joins a spot CASH venue to its exchange's simulation (see the module docstring)."""

    def __init__(self, venue: str, exchange_module) -> None:
        super().__init__(SpotAccountModuleConfig(venue=venue, component_id=f"SpotAccount-{venue}"))
        self._exchange_module = exchange_module

    def register_venue(self, exchange) -> None:
        super().register_venue(exchange)
        self._exchange_module.spot_exchange = exchange

    def check_order(self, order: Order) -> str | None:
        return self._exchange_module.check_order(order)

    def process(self, ts_now: int) -> None:
        return None

    def log_diagnostics(self, logger) -> None:
        return None

    def reset(self) -> None:
        return None
