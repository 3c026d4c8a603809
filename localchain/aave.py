"""Deploy the real Aave v3 (``@aave/core-v3`` 1.19 = protocol v3.0.x) on a local chain, configured
from the real mainnet parameters.

What comes from where:

* reserves' LTV, liquidation threshold and bonus, reserve factor, caps, borrowing and flash-loan
  flags, and the interest-rate kink ("Optimal Utilization"): the reserve CSV in
  ``aave/params`` (through :mod:`adapters.defi.aave_params`, as the backtest reads them);
* the ETH-correlated e-mode category (LTV / LT / bonus): the risk JSON's ``emode`` block;
* the flash-loan premium: the model's Aave fee (``configs/venues/ethereum.yaml``), since a fresh
  pool's premium differs from mainnet's;
* the starting oracle prices, the LSTs' exchange rates and each rate curve's one free number: the
  last daily snapshot in ``aave/rates`` (see :func:`rate_curve`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from adapters.defi.aave_params import load_emode, load_optimal_utilization, load_reserve_params
from adapters.defi.config import load_wallet_venue
from adapters.defi.rate_curve import RateCurve, curve_through
from data_catalog import raw_files
from data_catalog.paths import resolve_data_dir
from localchain.deployer import Deployer
from localchain.tools import AAVE

RAY = 10**27
BPS = 10_000
ORACLE_DECIMALS = 8
ETH_EMODE_CATEGORY = 1
"""The "ETH correlated" category's id on Aave v3 Ethereum."""
ZERO = "0x0000000000000000000000000000000000000000"
RESERVES = ("WETH", "USDT", "wstETH", "weETH")
LSTS = {"wstETH": ("LidoStETH", "WstETH"), "weETH": ("EtherFiEETH", "WeETH")}
"""Each LST reserve's stand-ins: (rebasing staking token, wrapped token held on Aave)."""


@dataclass(frozen=True)
class Snapshot:
    """A reserve's last recorded day: its utilization, variable borrow rate and USD oracle price."""

    utilization: float
    borrow_rate: float
    price: float


def last_snapshot(data_dir: Path, symbol: str) -> Snapshot:
    paths = sorted(data_dir.glob(raw_files.aave_rates_glob(symbol)))
    if not paths:
        raise FileNotFoundError(f"no {raw_files.aave_rates_glob(symbol)} under {data_dir}")
    with paths[-1].open(newline="") as handle:
        *_, row = csv.DictReader(handle)
    debt = float(row["totalVariableDebt"]) + float(row["totalStableDebt"])
    utilization = debt / float(row["totalAToken"])
    return Snapshot(utilization, float(row["currentVariableBorrowRate"]), float(row["price"]))


def rate_curve(optimal: float, snapshot: Snapshot) -> RateCurve:
    """A curve with the real kink that passes through the last recorded (utilization, rate)
    (:func:`~adapters.defi.rate_curve.curve_through`: WETH gives slope1 ≈2.6 %, USDT ≈6.5 %)."""
    return curve_through(optimal, snapshot.utilization, snapshot.borrow_rate)


@dataclass(frozen=True)
class LocalAave:
    """The deployed market: contract handles by role and symbol."""

    w3: Web3
    admin: str
    pool: Contract
    configurator: Contract
    oracle: Contract
    tokens: dict[str, Contract]
    a_tokens: dict[str, Contract]
    debt_tokens: dict[str, Contract]
    aggregators: dict[str, Contract]
    staking: dict[str, Contract]
    """Each LST's rebasing staking contract (Lido stETH, EtherFi eETH): its rate steers the LST."""
    curves: dict[str, RateCurve]
    """The interest-rate curves the reserves were given (slopes derived from the data)."""


def _bps(fraction: float) -> int:
    return round(fraction * BPS)


def deploy_aave(w3: Web3, data_dir: Path | None = None) -> LocalAave:
    """Deploy Aave v3 with WETH, USDT, wstETH and weETH reserves and the ETH-correlated e-mode.

    The LSTs are stand-ins (:file:`localchain/contracts/LiquidStaking.sol`) starting at the
    recorded exchange rate; their Aave price is ETH/USD × that rate, as on mainnet.
    """
    data_dir = data_dir or resolve_data_dir()
    params_csv = data_dir / raw_files.AAVE_PARAMS_FILE
    kinks = load_optimal_utilization(params_csv, RESERVES)
    snapshots = {symbol: last_snapshot(data_dir, symbol) for symbol in RESERVES}
    curves = {symbol: rate_curve(kinks[symbol], snapshots[symbol]) for symbol in RESERVES}

    d = Deployer(w3)
    admin = w3.eth.default_account
    provider = d.deploy_artifact(AAVE, "PoolAddressesProvider", "Local Aave v3", admin)
    d.send(provider.functions.setACLAdmin(admin))
    acl = d.deploy_artifact(AAVE, "ACLManager", provider.address)
    d.send(provider.functions.setACLManager(acl.address))
    d.send(acl.functions.addPoolAdmin(admin))
    d.send(provider.functions.setPoolImpl(d.deploy_artifact(AAVE, "Pool", provider.address).address))
    pool = d.at(AAVE, "Pool", provider.functions.getPool().call())
    d.send(provider.functions.setPoolConfiguratorImpl(d.deploy_artifact(AAVE, "PoolConfigurator").address))
    configurator = d.at(AAVE, "PoolConfigurator", provider.functions.getPoolConfigurator().call())

    tokens, aggregators, staking = _deploy_assets(d, snapshots)
    oracle = d.deploy_artifact(
        AAVE,
        "AaveOracle",
        provider.address,
        [tokens[s].address for s in RESERVES],
        [aggregators[s].address for s in RESERVES],
        ZERO,
        ZERO,  # base currency USD, as on Ethereum mainnet
        10**ORACLE_DECIMALS,
    )
    d.send(provider.functions.setPriceOracle(oracle.address))
    _init_reserves(d, provider, pool, configurator, tokens, curves)
    _configure_risk(d, configurator, tokens, data_dir)

    reserve_data = {s: pool.functions.getReserveData(tokens[s].address).call() for s in RESERVES}
    return LocalAave(
        w3=w3,
        admin=admin,
        pool=pool,
        configurator=configurator,
        oracle=oracle,
        tokens=tokens,
        a_tokens={s: d.at(AAVE, "AToken", data[8]) for s, data in reserve_data.items()},
        debt_tokens={s: d.at(AAVE, "VariableDebtToken", data[10]) for s, data in reserve_data.items()},
        aggregators=aggregators,
        staking=staking,
        curves=curves,
    )


def _deploy_assets(
    d: Deployer, snapshots: dict[str, Snapshot]
) -> tuple[dict[str, Contract], dict[str, Contract], dict[str, Contract]]:
    """The reserve tokens, their USD price feeds at the recorded prices, and the LSTs' staking pools."""
    tokens = {"WETH": d.deploy_artifact(AAVE, "WETH9"), "USDT": d.deploy_ours("TetherLike")}
    aggregators = {
        symbol: d.deploy_ours("SettableAggregator", round(snapshots[symbol].price * 10**ORACLE_DECIMALS))
        for symbol in ("WETH", "USDT")
    }
    staking = {}
    for symbol, (staking_name, wrapper_name) in LSTS.items():
        staking[symbol] = d.deploy_ours(staking_name)
        exchange_rate = snapshots[symbol].price / snapshots["WETH"].price  # as Aave's oracle priced it
        d.send(staking[symbol].functions.setEthPerShare(round(exchange_rate * 10**18)))
        tokens[symbol] = d.deploy_ours(wrapper_name, staking[symbol].address)
        aggregators[symbol] = d.deploy_ours(
            "ExchangeRateAggregator", aggregators["WETH"].address, staking[symbol].address
        )
    return tokens, aggregators, staking


def _init_reserves(
    d: Deployer,
    provider: Contract,
    pool: Contract,
    configurator: Contract,
    tokens: dict[str, Contract],
    curves: dict[str, RateCurve],
) -> None:
    """List the reserves: aToken / debt-token proxies and one interest-rate strategy each."""
    implementations = {
        name: d.deploy_artifact(AAVE, name, pool.address).address
        for name in ("AToken", "StableDebtToken", "VariableDebtToken")
    }
    inputs = []
    for symbol in RESERVES:
        curve = curves[symbol]
        strategy = d.deploy_artifact(
            AAVE,
            "DefaultReserveInterestRateStrategy",
            provider.address,
            round(curve.optimal * RAY),
            round(curve.base * RAY),
            round(curve.slope1 * RAY),
            round(curve.slope2 * RAY),
            0,  # stable borrowing stays disabled, as on mainnet: no stable-rate slopes or offsets
            0,
            0,
            0,
            0,
        )
        inputs.append(
            (
                implementations["AToken"],
                implementations["StableDebtToken"],
                implementations["VariableDebtToken"],
                tokens[symbol].functions.decimals().call(),
                strategy.address,
                tokens[symbol].address,
                d.w3.eth.default_account,  # treasury
                ZERO,  # no incentives controller
                f"Aave Ethereum {symbol}",
                f"aEth{symbol}",
                f"Aave Ethereum Variable Debt {symbol}",
                f"variableDebtEth{symbol}",
                f"Aave Ethereum Stable Debt {symbol}",
                f"stableDebtEth{symbol}",
                b"",
            )
        )
    d.send(configurator.functions.initReserves(inputs))


def _configure_risk(d: Deployer, configurator: Contract, tokens: dict[str, Contract], data_dir: Path) -> None:
    """Each reserve's real risk parameters, the ETH-correlated e-mode, and the model's flash fee."""
    reserves = load_reserve_params(data_dir / raw_files.AAVE_PARAMS_FILE, RESERVES)
    wallet = load_wallet_venue()
    emode = load_emode(data_dir / raw_files.AAVE_RISK_FILE, wallet.aave.emode_category)
    for symbol, p in reserves.items():
        asset = tokens[symbol].address
        d.send(
            configurator.functions.configureReserveAsCollateral(
                asset, _bps(p.ltv), _bps(p.liquidation_threshold), BPS + _bps(p.liquidation_bonus)
            )
        )
        d.send(configurator.functions.setReserveBorrowing(asset, p.borrowing_enabled))
        d.send(configurator.functions.setReserveFlashLoaning(asset, p.flashloan_enabled))
        d.send(configurator.functions.setReserveFactor(asset, _bps(p.reserve_factor)))
        d.send(configurator.functions.setSupplyCap(asset, round(p.supply_cap or 0)))
        d.send(configurator.functions.setBorrowCap(asset, round(p.borrow_cap or 0)))

    d.send(
        configurator.functions.setEModeCategory(
            ETH_EMODE_CATEGORY,
            _bps(emode.ltv),
            _bps(emode.liquidation_threshold),
            BPS + _bps(emode.liquidation_bonus),
            ZERO,  # no category oracle: each asset's own source
            "ETH correlated",
        )
    )
    for symbol in RESERVES:
        if symbol in emode.assets:
            d.send(configurator.functions.setAssetEModeCategory(tokens[symbol].address, ETH_EMODE_CATEGORY))
    d.send(configurator.functions.updateFlashloanPremiumTotal(_bps(wallet.flash_loans.fees["AAVE"])))
