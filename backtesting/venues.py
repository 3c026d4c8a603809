"""Adding the simulated venues to a host, the one way every run and test does it.

The host is a ``BacktestEngine`` (through :class:`BacktestHost`) or a paper ``TradingNode``
(``live.paper``): the same venues, modules and execution clients in both.
"""

from __future__ import annotations

from typing import Any

from nautilus_trader.accounting.factory import AccountFactory
from nautilus_trader.accounting.margin_models import StandardMarginModel
from nautilus_trader.backtest.engine import BacktestEngine, SimulatedExchange
from nautilus_trader.backtest.execution_client import BacktestExecClient
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Currency, Money

from adapters.cex.config import CexVenueConfig
from adapters.cex.fees import spot_fee_model
from adapters.cex.instruments import SPOT_VENUES, exchange_of
from adapters.cex.spot_account import SpotAccountModule
from adapters.cex.venue import CexVenueModule
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import currency, wallet_currency_codes
from adapters.defi.execution import install_defi_client
from adapters.defi.instruments import wallet_instruments
from adapters.defi.wallet import ScheduledFlow, WalletModule
from adapters.execution import VenueHost, install_pre_trade_checks


class BacktestHost:
    """A ``BacktestEngine`` as the host of the simulated venues."""

    def __init__(self, engine: BacktestEngine) -> None:
        self.engine = engine
        self.msgbus = engine.kernel.msgbus
        self.cache = engine.kernel.cache
        self.clock = engine.kernel.clock
        self.add_venue = engine.add_venue
        self.add_instrument = engine.add_instrument

    def use_exec_client(self, exchange: SimulatedExchange, client: BacktestExecClient) -> None:
        previous = exchange.exec_client
        exchange.register_client(client)
        exec_engine = self.engine.kernel.exec_engine
        exec_engine.deregister_client(previous)
        exec_engine.register_client(client)


def add_cex_venue(
    host: VenueHost,
    config: CexVenueConfig,
    settlement: Currency = USDT,
    balance: float = 0.0,
    spot_balance: float = 0.0,
) -> CexVenueModule:
    """A CEX as a NETTING MARGIN venue with its simulation module and checks, and, for an exchange
    that keeps spot in an account of its own, that account as a CASH venue beside it, charging
    fees in the currency the YAML's ``spot_fee_currency`` names.

    ``settlement`` is the MARGIN account's currency: USDT, or the coin of a coin-margined
    (inverse) venue; ``balance`` is pre-funded capital in it and ``spot_balance`` pre-funded USDT
    in the spot account (by default the venue starts empty and is funded by transfers from the
    wallet).
    """
    module = CexVenueModule(config, settlement)
    spot_venue = SPOT_VENUES.get(config.venue)
    if spot_balance and spot_venue is None:
        raise ValueError(f"{config.venue} keeps no spot account of its own to pre-fund")
    host.add_venue(
        Venue(config.venue),
        OmsType.NETTING,
        AccountType.MARGIN,
        [Money(balance, settlement)],
        base_currency=settlement,
        margin_model=StandardMarginModel(),
        modules=[module],
    )
    install_pre_trade_checks(host, module)
    if spot_venue is not None:
        coins = sorted({spec.base for spec in config.instruments if spec.kind == "spot"})
        spot = SpotAccountModule(spot_venue, module)
        host.add_venue(
            Venue(spot_venue),
            OmsType.NETTING,
            AccountType.CASH,
            [Money(spot_balance, USDT), *(Money(0, Currency.from_str(code)) for code in coins)],
            modules=[spot],
            fee_model=spot_fee_model(config.spot_fee_currency),
        )
        install_pre_trade_checks(host, spot)
    return module


def add_wallet_venue(
    host: VenueHost,
    config: WalletVenueConfig,
    cex_modules: dict[str, CexVenueModule],
    *,
    balances: dict[str, float],
    flows: list[ScheduledFlow] | None = None,
    flow_currency: str = "USDT",
    aave_params: dict[str, Any] | None = None,
    credit_rewards: bool = True,
    flash_provider: str | None = None,
    instrument_ids: set[InstrumentId] | None = None,
) -> WalletModule:
    """The on-chain wallet as a CASH venue holding ``balances`` at the start, with every protocol
    instrument and the DeFi execution client.

    Every wallet currency gets a (zero) starting balance: interest, rewards and fees are booked by
    adjusting the account, which needs the currency's balance to exist. Borrowing is allowed
    because Aave debt is held as a negative debt-token balance. ``instrument_ids`` limits the
    instruments to the ones a run uses (each one costs the engine time on every event); None adds
    all of them.
    """
    codes = wallet_currency_codes(config)
    unknown = set(balances) - set(codes)
    if unknown:
        raise ValueError(f"starting balances in unknown wallet currencies: {sorted(unknown)}")
    wallet = WalletModule(
        config,
        cex_modules,
        flows=flows,
        flow_currency=flow_currency,
        aave_params=aave_params,
        credit_rewards=credit_rewards,
        flash_provider=flash_provider,
    )
    # Nautilus keeps cash-borrowing issuers in a process-wide registry that refuses a second
    # registration: clear a previous engine's so every engine in a process can add the wallet
    AccountFactory.deregister_cash_borrowing(config.venue)
    host.add_venue(
        Venue(config.venue),
        OmsType.NETTING,
        AccountType.CASH,
        [Money(balances.get(code, 0.0), currency(code)) for code in codes],
        modules=[wallet],
        allow_cash_borrowing=True,
    )
    for instrument in wallet_instruments(config):
        if instrument_ids is None or instrument.id in instrument_ids:
            host.add_instrument(instrument)
    install_defi_client(host, wallet.exchange, wallet.backend, wallet)
    return wallet


def add_instruments(
    host: VenueHost,
    instruments: list[Instrument],
    cex_modules: dict[str, CexVenueModule],
) -> None:
    """Add CEX instruments; every perp is registered with its venue's module for funding and liquidation."""
    for instrument in instruments:
        host.add_instrument(instrument)
        if isinstance(instrument, CryptoPerpetual):
            cex_modules[exchange_of(instrument.id)].add_perp(instrument)
