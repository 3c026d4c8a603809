"""Adding the simulated venues to a ``BacktestEngine``, the one way every run and test does it."""

from __future__ import annotations

from nautilus_trader.accounting.margin_models import StandardMarginModel
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.currencies import ETH, USDT
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Money

from adapters.cex.config import CexVenueConfig, WalletVenueConfig
from adapters.cex.venue import CexVenueModule
from adapters.defi.wallet import ScheduledFlow, WalletModule
from adapters.execution import install_pre_trade_checks


def add_cex_venue(engine: BacktestEngine, config: CexVenueConfig) -> CexVenueModule:
    """A CEX as a NETTING MARGIN venue (USDT, starting empty) with its simulation module and checks."""
    module = CexVenueModule(config)
    engine.add_venue(
        Venue(config.venue),
        OmsType.NETTING,
        AccountType.MARGIN,
        [Money(0, USDT)],
        base_currency=USDT,
        margin_model=StandardMarginModel(),
        modules=[module],
    )
    install_pre_trade_checks(engine, module)
    return module


def add_wallet_venue(
    engine: BacktestEngine,
    config: WalletVenueConfig,
    cex_modules: dict[str, CexVenueModule],
    *,
    capital_usdt: float,
    eth: float = 0.0,
    flows: list[ScheduledFlow] | None = None,
) -> WalletModule:
    """The on-chain wallet as a CASH venue holding ``capital_usdt`` (and ``eth``) at the start."""
    cex_configs = {venue: module.venue_config for venue, module in cex_modules.items()}
    wallet = WalletModule(config, cex_modules, cex_configs, flows)
    engine.add_venue(
        Venue(config.venue),
        OmsType.NETTING,
        AccountType.CASH,
        [Money(capital_usdt, USDT), Money(eth, ETH)],
        modules=[wallet],
    )
    install_pre_trade_checks(engine, wallet)
    return wallet


def add_instruments(
    engine: BacktestEngine,
    instruments: list[Instrument],
    cex_modules: dict[str, CexVenueModule],
) -> None:
    """Add instruments; every perp is registered with its venue's module for funding and liquidation."""
    for instrument in instruments:
        engine.add_instrument(instrument)
        if isinstance(instrument, CryptoPerpetual):
            cex_modules[instrument.id.venue.value].add_perp(instrument)
