"""Assemble a Nautilus ``BacktestEngine`` for one mode from the catalog.

Venues: one simulated MARGIN venue per CEX the strategy trades (with its funding / liquidation
module and margin-checked execution client) and the CASH wallet venue holding the capital (with
its protocol backend, gas and transfer module). Data: what the strategy declares it needs
(:class:`~strategies.base.DataNeeds`) — its bars, the perps' funding prints, Aave reserve
snapshots, EtherFi reward payouts — and the gas price, all inside the run window except gas and
Aave snapshots, which start a day or two earlier so the first action has a gas price and an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.core.data import Data
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.identifiers import ClientId, InstrumentId, TraderId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from adapters.cex.config import load_cex_venue
from adapters.cex.venue import CexVenueModule
from adapters.config import ConfigError as RunConfigError
from adapters.defi.config import WalletVenueConfig, load_wallet_venue
from adapters.defi.currencies import register_wallet_currencies
from adapters.defi.data import AaveReserveSnapshot, GasPrice, RewardDistribution
from adapters.defi.valuation import WalletValuation
from adapters.defi.wallet import ScheduledFlow, WalletModule
from adapters.hours import DAY_NS
from adapters.signals import SignalPrediction
from backtesting.config import RunConfig
from backtesting.venues import add_cex_venue, add_instruments, add_wallet_venue
from data_catalog.manifest import CatalogManifest
from data_catalog.protocol_data import AAVE_PARAMS_KEY, REWARDS_KEY, read_aave_params
from portfolio.accounting import AccountingActor, AccountingConfig
from strategies.base import DataNeeds, YieldStrategy


@dataclass
class Backtest:
    """An assembled, not yet run, backtest and the components the results are read from."""

    run: RunConfig
    engine: BacktestEngine
    strategy: YieldStrategy
    accounting: AccountingActor
    cex_modules: dict[str, CexVenueModule]
    wallet: WalletModule
    series_keys: list[str]
    """Series the run needs over its whole window."""
    report_keys: list[str]
    """Every series the run reads (its data warnings and proxies are reported)."""
    manifest: CatalogManifest
    data_points: int


def reserve_key(wallet: WalletVenueConfig, a_token_symbol: str) -> str:
    return f"{a_token_symbol}.{wallet.venue}/reserve"


def series_keys(needs: DataNeeds, perps: list[InstrumentId], wallet: WalletVenueConfig) -> list[str]:
    """Catalog series that must cover the window: required bars, the perps' funding, the gas price
    (when the run acts on-chain), and the Aave reserves used."""
    keys = [str(i) for i in needs.required]
    keys += [f"{p}/funding" for p in perps]
    keys += [reserve_key(wallet, symbol) for symbol in needs.aave_reserves]
    return [*keys, "GAS"] if needs.gas else keys


def report_keys(needs: DataNeeds, required_keys: list[str], manifest: CatalogManifest) -> list[str]:
    keys = [*required_keys, *(str(i) for i in needs.optional if str(i) in manifest.series)]
    if needs.aave_reserves:
        keys.append(AAVE_PARAMS_KEY)
    if needs.rewards:
        keys.append(REWARDS_KEY)
    return keys


def build_backtest(run: RunConfig, catalog_dir: Path, log_level: str = "ERROR") -> Backtest:
    """Build the engine for ``run`` from the catalog at ``catalog_dir`` (validating the window first)."""
    wallet_config = load_wallet_venue()
    register_wallet_currencies(wallet_config)
    strategy = run.spec.strategy(run.strategy)
    needs = strategy.data_needs()
    manifest = CatalogManifest(catalog_dir)
    catalog = ParquetDataCatalog(str(catalog_dir))
    wallet_venue = wallet_config.venue
    cex_ids = [i for i in needs.required if i.venue.value != wallet_venue]
    instruments = catalog.instruments(instrument_ids=[str(i) for i in cex_ids]) if cex_ids else []
    missing = set(map(str, cex_ids)) - {str(i.id) for i in instruments}
    if missing:
        raise FileNotFoundError(
            f"instruments {sorted(missing)} are not in the catalog {catalog_dir}; rebuild it"
        )
    perps = [i.id for i in instruments if isinstance(i, CryptoPerpetual)]
    keys = series_keys(needs, perps, wallet_config)
    start_ns, end_ns = run.start.value, run.end.value
    manifest.check_window(keys, start_ns, end_ns)
    aave_params = read_aave_params(catalog_dir) if needs.aave_reserves else None
    if aave_params is not None:
        try:
            strategy.use_protocol_params(aave_params)
        except ValueError as e:
            raise RunConfigError(
                f"{run.source}: strategy: {e} (Aave parameters from {catalog_dir})"
            ) from None

    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BACKTESTER-001"),
            logging=LoggingConfig(log_level=log_level),
            run_analysis=False,
        ),
    )
    cex_venues = sorted({i.venue.value for i in cex_ids})
    share_class = run.share_class
    capital_venue = strategy.capital_venue()
    if capital_venue is not None and run.flows:
        raise RunConfigError(
            f"{run.source}: capital_flows are not supported by {run.mode}: its capital is pre-funded on "
            f"{capital_venue} (DOMAIN.md), not in the on-chain wallet"
        )
    cex_modules = {}
    for venue in cex_venues:
        settlement = next(
            (i.settlement_currency for i in instruments if i.id.venue.value == venue and i.is_inverse), USDT
        )
        capital = run.file.capital if venue == capital_venue else 0.0
        cex_modules[venue] = add_cex_venue(engine, load_cex_venue(venue), settlement, capital)
    wallet = add_wallet_venue(
        engine,
        wallet_config,
        cex_modules,
        balances={} if capital_venue is not None else {share_class: run.file.capital},
        flows=[ScheduledFlow(at.value, amount) for at, amount in run.flows],
        flow_currency=share_class,
        aave_params=aave_params,
        credit_rewards=needs.rewards,
        flash_provider=getattr(run.strategy, "flash_loan_provider", None),
        instrument_ids=needs.wallet_instruments(Venue(wallet_venue)),
    )
    add_instruments(engine, instruments, cex_modules)

    points = _add_data(engine, catalog, needs, perps, wallet_config, start_ns, end_ns)
    valuation = WalletValuation(wallet_config, share_class)
    if needs.share_price is not None:
        valuation.price_by(share_class, needs.share_price)
    accounting = AccountingActor(
        AccountingConfig(
            cex_venues=tuple(cex_venues),
            start_ns=start_ns,
            end_ns=end_ns,
            wallet_venue=wallet_venue,
            eth_price_instrument=f"{wallet_config.eth_usd_pool}.{wallet_venue}",
            share_class=share_class,
        ),
        valuation,
        risk_probe=wallet.risk_figures if needs.aave_reserves else None,
    )
    engine.add_strategy(strategy)
    engine.add_actor(accounting)
    reported = report_keys(needs, keys, manifest)
    return Backtest(run, engine, strategy, accounting, cex_modules, wallet, keys, reported, manifest, points)


def _custom(items: list[Any], data_type: type[Data]) -> list[CustomData]:
    return [i if isinstance(i, CustomData) else CustomData(DataType(data_type), i) for i in items]


def _add_data(
    engine: BacktestEngine,
    catalog: ParquetDataCatalog,
    needs: DataNeeds,
    perps: list[InstrumentId],
    wallet: WalletVenueConfig,
    start_ns: int,
    end_ns: int,
) -> int:
    start, end = pd.Timestamp(start_ns, tz="UTC"), pd.Timestamp(end_ns, tz="UTC")
    early = pd.Timestamp(start_ns - 2 * DAY_NS, tz="UTC")
    bar_ids = dict.fromkeys([*needs.required, *needs.optional])  # ordered, unique
    bars = catalog.bars(bar_types=[str(bar_type_for(i)) for i in bar_ids], start=start, end=end)
    # at equal timestamps optional prices come first: the legs' last bar triggers the decision,
    # which may read them (the engine's sort keeps this order)
    legs = set(needs.required)
    bars.sort(key=lambda b: (b.ts_init, b.bar_type.instrument_id in legs))
    # One query per identifier: a multi-identifier query of custom data in Nautilus 1.231 labels
    # every row with the last identifier (checked: 3 venues' funding prints all came back as OKX).
    funding = [
        f
        for perp in perps
        for f in catalog.query(FundingRateUpdate, identifiers=[str(perp)], start=start, end=end)
    ]
    chain: list[CustomData] = _custom(catalog.query(GasPrice, start=early, end=end), GasPrice)
    for symbol in needs.aave_reserves:
        identifier = f"{symbol}.{wallet.venue}"
        snapshots = catalog.query(AaveReserveSnapshot, identifiers=[identifier], start=early, end=end)
        chain += _custom(snapshots, AaveReserveSnapshot)
    if needs.rewards:
        chain += _custom(catalog.query(RewardDistribution, end=end), RewardDistribution)
    for instrument_id in needs.predictions:
        predictions = catalog.query(SignalPrediction, identifiers=[str(instrument_id)], start=start, end=end)
        if not predictions:
            raise FileNotFoundError(
                f"the catalog {catalog.path} has no model predictions for {instrument_id} in "
                f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}: build them with `python -m signals build`"
            )
        chain += _custom(predictions, SignalPrediction)
    # Added before the bars (the sort keeps insertion order at equal timestamps): a snapshot, gas
    # sample or funding print stamped t is known when the bars closing at t are acted on.
    engine.add_data(chain, client_id=ClientId(wallet.venue), sort=False)
    if funding:
        engine.add_data(funding, sort=False)
    engine.add_data(bars, sort=False)
    engine.sort_data()
    return len(bars) + len(funding) + len(chain)
