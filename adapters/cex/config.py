"""Typed venue configuration (``configs/venues/<venue>.yaml``) for the simulated CEX venues.

Every number a simulated exchange uses (fees, increments, margin rates, transfer costs) lives in
these YAML files so a user can check each one against the venue's published schedule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from adapters.config import VENUE_CONFIG_DIR, load_yaml_as


class MarginTier(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """First-tier margin rates of a perpetual, as fractions of notional."""

    initial: float
    maintenance: float
    tier_notional_cap: float
    """Notional (quote currency) up to which the first tier applies."""

    def __post_init__(self) -> None:
        if not 0 < self.maintenance < self.initial <= 1:
            raise ValueError(
                f"margin rates need 0 < maintenance < initial <= 1, got maintenance={self.maintenance}, "
                f"initial={self.initial}",
            )


class CexInstrumentSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One tradable instrument of a CEX venue: a USDT spot pair, a linear (USDT-margined)
    perpetual, or an inverse (coin-margined) perpetual quoted in USD whose contracts are worth
    ``multiplier`` USD and whose margin and P&L are in the base coin."""

    base: str
    kind: Literal["spot", "perp", "inverse"]
    price_increment: str
    size_increment: str
    maker_fee: str
    taker_fee: str
    min_notional: float = 0.0
    multiplier: str = "1"
    """Base units per contract (OKX swaps: ctVal); for an inverse perp, USD per contract."""
    quote: str = "USDT"
    margin: MarginTier | None = None
    proxies: tuple[str, ...] = ()
    """Instrument ids whose history fills hours this instrument's own history lacks, in order."""

    def __post_init__(self) -> None:
        if self.kind != "spot" and self.margin is None:
            raise ValueError(f"{self.kind} perp {self.base}{self.quote} needs a `margin` block")
        if self.kind == "spot" and self.margin is not None:
            raise ValueError(f"spot {self.base}{self.quote} is fully funded and takes no `margin` block")

    @property
    def data_symbol(self) -> str:
        """Symbol used in raw file names (``BTCUSDT``)."""
        return f"{self.base}{self.quote}"


class TransferSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Costs and delays of moving USDT (and spot ETH out) between the on-chain wallet and the venue."""

    deposit_delay_minutes: float
    withdrawal_fee_usdt: float
    withdrawal_delay_minutes: float
    withdrawal_fee_eth: float = 0.0
    """Flat fee per ETH withdrawal to Ethereum mainnet (ETH)."""

    def __post_init__(self) -> None:
        for name in (
            "deposit_delay_minutes",
            "withdrawal_fee_usdt",
            "withdrawal_delay_minutes",
            "withdrawal_fee_eth",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"`transfers.{name}` must be >= 0")


AccountMode = Literal["classic", "unified"]
"""How the venue keeps a trader's spot and derivatives (see ``CexVenueConfig.account_mode``)."""

UNIFIED_CAPABLE = ("BYBIT", "OKX")
"""Exchanges whose unified account the simulation models. Binance's classic spot account is a
venue of its own (``BINANCE_SPOT``), so Binance is classic only here."""

SPOT_VENUES = {"BINANCE": "BINANCE_SPOT"}
"""Exchanges whose spot account is a venue of its own (exchange → Nautilus venue, a CASH account)."""

SpotFeeCurrency = Literal["quote", "received"]
"""The currency a spot fill's fee is charged in (see ``CexVenueConfig.spot_fee_currency``)."""


class CexVenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A CEX venue: its instruments, liquidation fee, wallet-transfer terms and account mode."""

    venue: str
    liquidation_fee_rate: float
    transfers: TransferSpec
    instruments: tuple[CexInstrumentSpec, ...]
    account_mode: AccountMode = "classic"
    """``classic``: separate spot and derivatives wallets joined by internal transfers; spot coins
    are not margin (Bybit's classic account, OKX's "spot and futures mode", Binance).
    ``unified``: one margin account holds spot coins and perps; coins count as margin at their
    ``collateral_ratios`` (Bybit's Unified Trading Account, OKX's multi-currency margin mode).
    Absent: classic, the conservative reading (spot gains never support perp margin)."""
    collateral_ratios: dict[str, float] = msgspec.field(default_factory=dict)
    """Unified mode: the share of a coin's market value that counts as margin, by coin (Bybit's
    collateral value ratio, OKX's discount rate). Every spot coin the venue lists needs one."""
    spot_fee_currency: SpotFeeCurrency = "quote"
    """``received``: a spot fill's fee is taken from the asset it delivers, a buy's in the coin
    (quantity × rate), a sell's in the quote (notional × rate), as Binance spot charges without BNB
    discounts; only for an exchange whose spot account is a venue of its own (``SPOT_VENUES``:
    coins are its balances). ``quote`` (absent field): both sides in the quote (Nautilus'
    ``MakerTakerFeeModel``), how the simulation books Bybit's and OKX's spot, as positions on
    their MARGIN accounts."""
    live: dict[str, dict[str, str]] | None = None
    """Endpoint overrides for the live clients, by Nautilus venue (``live/endpoints.py`` validates
    them; simulations ignore them). Absent: the live adapters' own endpoints."""

    def __post_init__(self) -> None:
        if not 0 <= self.liquidation_fee_rate < 0.1:
            raise ValueError("`liquidation_fee_rate` must be in [0, 0.1)")
        if self.spot_fee_currency == "received" and self.venue not in SPOT_VENUES:
            raise ValueError(
                f"`spot_fee_currency: received`: {self.venue}'s spot is simulated on its margin account "
                f"(spot as positions, fees in the quote); received is supported for {', '.join(SPOT_VENUES)}"
            )
        for coin, ratio in self.collateral_ratios.items():
            if not 0 <= ratio <= 1:
                raise ValueError(f"`collateral_ratios.{coin}` must be in [0, 1], got {ratio}")
        if self.account_mode == "unified":
            if self.venue not in UNIFIED_CAPABLE:
                raise ValueError(
                    f"`account_mode`: {self.venue} is modelled in classic mode only (its spot account is a "
                    f"venue of its own); unified is supported for {', '.join(UNIFIED_CAPABLE)}"
                )
            coins = sorted({spec.base for spec in self.instruments if spec.kind == "spot"})
            missing = [coin for coin in coins if coin not in self.collateral_ratios]
            if missing:
                raise ValueError(
                    f"`collateral_ratios` needs a ratio for {', '.join(missing)}: "
                    "account_mode unified counts spot coins as margin"
                )

    @property
    def unified(self) -> bool:
        """Whether spot coins and perps share one margin account (no internal transfers)."""
        return self.account_mode == "unified"

    def collateral_ratio(self, coin: str) -> float:
        """Share of ``coin``'s value that counts as perp margin: 0 in classic mode."""
        return self.collateral_ratios.get(coin, 0.0) if self.unified else 0.0


def load_cex_venue(name: str, config_dir: Path = VENUE_CONFIG_DIR) -> CexVenueConfig:
    """Load ``<config_dir>/<name>.yaml`` (e.g. ``binance``) as a CEX venue config."""
    return load_yaml_as(config_dir / f"{name.lower()}.yaml", CexVenueConfig)


CEX_VENUES = ("BINANCE", "BYBIT", "OKX")


def load_all_cex_venues(config_dir: Path = VENUE_CONFIG_DIR) -> dict[str, CexVenueConfig]:
    """Every CEX venue config keyed by venue name."""
    return {venue: load_cex_venue(venue, config_dir) for venue in CEX_VENUES}
