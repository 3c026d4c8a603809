"""What the accounting attributes an hour's NAV change to, and the arithmetic that splits it.

The categories are DOMAIN.md's; an :class:`Interval` collects the cash-flow ones between two
samples, a :class:`Snapshot` keeps the book the next hour's price moves apply to, and the price
move of the previous holdings splits into delta (each holding at its venue's spot move) and basis
(a perp's move beyond its spot's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nautilus_trader.model.identifiers import InstrumentId

CATEGORIES = (
    "funding",
    "price_pnl",
    "basis_pnl",
    "supply_interest",
    "borrow_interest",
    "staking_yield",
    "restaking_rewards",
    "trading_fees",
    "gas",
    "transfer_fees",
    "flash_loan_fees",
    "slippage",
    "liquidation_losses",
)


Book = dict[InstrumentId, float]
"""A number (quantity or price) per instrument."""


@dataclass(frozen=True)
class Snapshot:
    """The book at the previous sample: what this hour's price moves apply to."""

    nav: float
    """In the share class."""
    nav_usdt: float
    """The same holdings in USDT (tokens without a price at zero)."""
    qty: dict[InstrumentId, float]
    prices: dict[InstrumentId, float]
    eth_in_flight: float = 0.0
    """ETH withdrawn from a CEX and not yet in the wallet (valued at the wallet's ETH price)."""


@dataclass(frozen=True)
class InstrumentMeta:
    is_perp: bool
    venue: str
    base: str


@dataclass
class Interval:
    """Cash-flow categories accumulated between two samples."""

    amounts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0.0))
    """USDT."""
    flow: float = 0.0
    """Share class."""
    coin_amounts: list[tuple[str, str, float]] = field(default_factory=list)
    """(venue, category, amount) booked in a coin-margined venue's coin."""
    eth_sent: list[tuple[str, float, float]] = field(default_factory=list)
    """Spot ETH withdrawn from a CEX as (venue, amount in flight, venue fee)."""
    trades: list[tuple[InstrumentId, float, float]] = field(default_factory=list)
    """CEX fills as (instrument, signed base qty, mark at the fill): a position changed at a mark
    other than the sample's price (a bar inside the hour) earns the move from there to the sample."""


def price_attribution(
    qty: dict[InstrumentId, float],
    prev_prices: dict[InstrumentId, float],
    prices: dict[InstrumentId, float],
    metas: dict[InstrumentId, InstrumentMeta],
) -> tuple[float, float]:
    """(delta, basis) P&L of the previous holdings: perps are measured against their venue's spot."""
    moves = {i: prices[i] - prev_prices[i] for i in qty if i in prices and i in prev_prices}
    spot_move = {}
    for instrument_id, move in moves.items():
        meta = metas[instrument_id]
        if not meta.is_perp:
            spot_move[(meta.venue, meta.base)] = move
    delta = basis = 0.0
    for instrument_id, move in moves.items():
        meta = metas[instrument_id]
        reference = spot_move.get((meta.venue, meta.base), move)
        delta += qty[instrument_id] * reference
        basis += qty[instrument_id] * (move - reference)
    return delta, basis


def delta_columns(
    qty: dict[InstrumentId, float],
    prices: dict[InstrumentId, float],
    wallet_eth: float,
    eth_price: float,
    metas: dict[InstrumentId, InstrumentMeta],
    assets: list[str],
) -> dict[str, float]:
    """Net quantity per asset across venues (wallet ETH includes staked, supplied and owed ETH).

    ``net_delta_usd`` values each asset's net quantity at one reference price (the wallet's
    ETH/USD, or the asset's spot — its perp where no spot is held), so a hedged book reads
    zero rather than the perp/spot spread times the gross exposure.
    """
    by_asset = dict.fromkeys(assets, 0.0)
    spot_ref: dict[str, float] = {}
    perp_ref: dict[str, float] = {}
    gross = 0.0
    for instrument_id, q in qty.items():
        meta = metas[instrument_id]
        by_asset[meta.base] += q
        gross += abs(q) * prices[instrument_id]
        (perp_ref if meta.is_perp else spot_ref).setdefault(meta.base, prices[instrument_id])
    reference = {**perp_ref, **spot_ref, **({"ETH": eth_price} if eth_price else {})}
    by_asset["ETH"] += wallet_eth
    usd = sum(q * reference.get(asset, 0.0) for asset, q in by_asset.items())
    columns = {f"net_delta_{asset.lower()}": q for asset, q in by_asset.items()}
    return {**columns, "net_delta_usd": usd, "gross_exposure_usd": gross}
