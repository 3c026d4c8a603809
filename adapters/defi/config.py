"""Typed configuration of the on-chain wallet venue (``configs/venues/ethereum.yaml``).

Gas units per operation, the DEX pools the wallet trades through (with the modelled depth that
sets their price impact), the liquid-staking tokens, the Aave v3 markets and the flash-loan
providers. Every number is documented in the YAML; protocol risk parameters themselves come from
the data set (``aave/params``) through the catalog.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from adapters.config import VENUE_CONFIG_DIR, ConfigError, load_yaml_as


class PoolSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A DEX pool traded as a spot pair on the wallet venue (price = quote per base)."""

    symbol: str
    base: str
    quote: str
    fee: str
    """Pool fee, charged on the input token (fraction)."""
    depth: float
    """Modelled pool value in quote units; sets the constant-product price impact (not data)."""
    history: str
    """Where prices come from: ``dex:<PAIR>`` (Uniswap 1h OHLCV file) or ``lst_market:<LST>``."""
    price_increment: str
    size_increment: str
    proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= float(self.fee) < 0.05:
            raise ValueError(f"pool {self.symbol}: fee must be in [0, 0.05)")
        if self.depth <= 0:
            raise ValueError(f"pool {self.symbol}: depth must be positive")
        if not self.history.startswith(("dex:", "lst_market:")):
            raise ValueError(f"pool {self.symbol}: history must be 'dex:<PAIR>' or 'lst_market:<LST>'")


class StakingSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A liquid-staking token: minted at the protocol rate, redeemed through a withdrawal queue."""

    token: str
    """Currency code of the LST (e.g. WEETH)."""
    asset: str
    """Name in the data set (``weETH``)."""
    protocol: str
    withdrawal_delay_hours: float
    market_pool: str
    """Symbol of the DEX pool selling this LST for ETH (the fast exit)."""

    @property
    def mint_symbol(self) -> str:
        return f"{self.token}-{self.protocol}"

    @property
    def queue_symbol(self) -> str:
        return f"{self.token}-{self.protocol}Q"


class AaveReserveSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An Aave v3 reserve the wallet can supply to (and borrow from, with ``debt_token``)."""

    asset: str
    """Reserve symbol in the data set (``USDT``, ``WETH``, ``weETH``)."""
    underlying: str
    """Currency code the wallet holds (``USDT``, ``ETH`` for WETH, ``WEETH``)."""
    a_token: str
    debt_token: str | None = None


class AaveSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    emode_category: str
    """Key of the e-mode block in ``aave/params/aave_v3_risk_parameters.json``."""
    reserves: tuple[AaveReserveSpec, ...]


class FlashLoanSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default: str
    fees: dict[str, float]
    """Provider → fee as a fraction of the amount borrowed."""

    def __post_init__(self) -> None:
        if self.default not in self.fees:
            raise ValueError(f"flash_loans.default {self.default!r} is not in fees {sorted(self.fees)}")
        if any(not 0 <= fee < 0.01 for fee in self.fees.values()):
            raise ValueError("flash_loans.fees must be in [0, 0.01)")


class WalletVenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The on-chain wallet venue."""

    venue: str
    eth_usd_pool: str
    """Pool whose price marks ETH in USD (and USDT in ETH)."""
    gas_units: dict[str, int]
    pools: tuple[PoolSpec, ...]
    staking: tuple[StakingSpec, ...]
    aave: AaveSpec
    flash_loans: FlashLoanSpec

    def __post_init__(self) -> None:
        symbols = {p.symbol for p in self.pools}
        if self.eth_usd_pool not in symbols:
            raise ValueError(f"eth_usd_pool {self.eth_usd_pool!r} is not one of the pools {sorted(symbols)}")
        for lst in self.staking:
            if lst.market_pool not in symbols:
                raise ValueError(
                    f"staking {lst.token}: market_pool {lst.market_pool!r} is not a configured pool"
                )

    def gas_units_for(self, operation: str) -> int:
        try:
            return self.gas_units[operation]
        except KeyError:
            raise ConfigError(
                f"no gas units configured for operation {operation!r} in {self.venue} venue config "
                f"(known: {sorted(self.gas_units)})",
            ) from None

    def pool(self, symbol: str) -> PoolSpec:
        return next(p for p in self.pools if p.symbol == symbol)


def load_wallet_venue(config_dir: Path = VENUE_CONFIG_DIR) -> WalletVenueConfig:
    """Load the on-chain wallet venue config (``ethereum.yaml``)."""
    return load_yaml_as(config_dir / "ethereum.yaml", WalletVenueConfig)
