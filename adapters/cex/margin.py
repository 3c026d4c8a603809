"""Spot and futures wallets of a CEX venue, and the margin arithmetic on them.

On a real exchange the spot wallet and the futures (margin) wallet are separate: spot gains do
not support perp margin. Nautilus keeps both legs on one MARGIN account, so the split is
recovered here from the account and a :class:`~adapters.transfers.VenueLedger`:

- futures wallet ``F = to_futures + realized PnL of the venue's perps`` (fills, fees, funding,
  liquidation fees — everything booked on the perp positions);
- spot cash ``S = balance − F − cost basis of open spot holdings``.

The same function serves the venue simulation (pre-trade checks, liquidation), the strategies
and the accounting actor, so all three see identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import AccountId, InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.portfolio.portfolio import Portfolio

from adapters.transfers import VenueLedger


@dataclass(frozen=True)
class PerpState:
    """One perp position of a venue, in base units (contracts × multiplier)."""

    instrument_id: InstrumentId
    signed_qty: float
    avg_px: float
    price: float
    maint_rate: float
    init_rate: float

    @property
    def notional(self) -> float:
        return abs(self.signed_qty) * self.price

    @property
    def unrealized(self) -> float:
        return self.signed_qty * (self.price - self.avg_px)

    @property
    def maintenance(self) -> float:
        return self.notional * self.maint_rate

    @property
    def initial(self) -> float:
        return self.notional * self.init_rate


@dataclass(frozen=True)
class SpotState:
    instrument_id: InstrumentId
    qty: float
    avg_px: float
    price: float

    @property
    def value(self) -> float:
        return self.qty * self.price

    @property
    def cost_basis(self) -> float:
        return self.qty * self.avg_px


@dataclass(frozen=True)
class VenueWallets:
    """A CEX venue's wallets marked at the latest prices (all USDT)."""

    venue: str
    balance: float
    spot_cash: float
    futures_wallet: float
    spots: tuple[SpotState, ...]
    perps: tuple[PerpState, ...]

    @property
    def unrealized_perp(self) -> float:
        return sum(p.unrealized for p in self.perps)

    @property
    def margin_balance(self) -> float:
        """Futures wallet plus unrealized perp PnL: what maintenance margin is compared with."""
        return self.futures_wallet + self.unrealized_perp

    @property
    def maintenance_margin(self) -> float:
        return sum(p.maintenance for p in self.perps)

    @property
    def initial_margin(self) -> float:
        return sum(p.initial for p in self.perps)

    @property
    def perp_notional(self) -> float:
        return sum(p.notional for p in self.perps)

    @property
    def spot_value(self) -> float:
        return sum(s.value for s in self.spots)

    @property
    def equity(self) -> float:
        return self.spot_cash + self.spot_value + self.margin_balance

    @property
    def margin_ratio(self) -> float:
        """Maintenance margin ÷ margin balance (the venues' definition): liquidation at 1.0."""
        if not self.perps or self.maintenance_margin == 0:
            return 0.0
        return self.maintenance_margin / self.margin_balance if self.margin_balance > 0 else float("inf")

    @property
    def transferable_from_futures(self) -> float:
        """What may leave the futures wallet: no unrealized profit, initial margin stays."""
        return max(0.0, self.futures_wallet + min(0.0, self.unrealized_perp) - self.initial_margin)


def last_price(cache: Cache, instrument_id: InstrumentId) -> float | None:
    price = cache.price(instrument_id, PriceType.LAST)
    return None if price is None else price.as_double()


def base_qty(instrument: Instrument, signed_qty: float) -> float:
    """Position size in base units (OKX swaps count contracts of ``multiplier`` base each)."""
    return signed_qty * instrument.multiplier.as_double()


def account_id_for(venue: str) -> AccountId:
    """Backtest venues have one account, ``<VENUE>-001``."""
    return AccountId(f"{venue}-001")


def read_venue_wallets(
    cache: Cache,
    portfolio: Portfolio,
    venue: str,
    ledger: VenueLedger,
    prices: dict[InstrumentId, float] | None = None,
) -> VenueWallets:
    """Split a venue's MARGIN account into spot and futures wallets at current (or given) prices."""
    account = cache.account_for_venue(Venue(venue))
    balance = account.balance_total(USDT).as_double() if account is not None else 0.0
    account_id = account_id_for(venue)
    spots, perps = [], []
    realized_perp = 0.0
    for instrument in cache.instruments(venue=Venue(venue)):
        is_perp = isinstance(instrument, CryptoPerpetual)
        if is_perp:
            realized = portfolio.realized_pnl(instrument.id, account_id)
            realized_perp += realized.as_double() if realized is not None else 0.0
        positions = cache.positions_open(venue=None, instrument_id=instrument.id)
        if not positions:
            continue
        position = positions[0]
        price = (prices or {}).get(instrument.id) or last_price(cache, instrument.id) or position.avg_px_open
        qty = base_qty(instrument, position.signed_qty)
        if is_perp:
            perps.append(
                PerpState(
                    instrument.id,
                    qty,
                    position.avg_px_open,
                    price,
                    float(instrument.margin_maint),
                    float(instrument.margin_init),
                ),
            )
        else:
            spots.append(SpotState(instrument.id, qty, position.avg_px_open, price))
    futures_wallet = ledger.to_futures + realized_perp
    spot_cash = balance - futures_wallet - sum(s.cost_basis for s in spots)
    return VenueWallets(venue, balance, spot_cash, futures_wallet, tuple(spots), tuple(perps))


def liquidation_price(wallets: VenueWallets, perp: PerpState) -> float | None:
    """Price of ``perp`` at which margin balance meets maintenance, other perps held at their marks.

    Margin balance and maintenance are both linear in the price, so the crossing solves
    ``F + U_other + q (P − A) = M_other + |q| P m``. ``None`` when no such positive price exists.
    """
    q, a, m = perp.signed_qty, perp.avg_px, perp.maint_rate
    if q == 0:
        return None
    others = [p for p in wallets.perps if p.instrument_id != perp.instrument_id]
    constant = (
        wallets.futures_wallet
        + sum(p.unrealized for p in others)
        - q * a
        - sum(p.maintenance for p in others)
    )
    slope = abs(q) * m - q
    if slope == 0:
        return None
    price = constant / slope
    return price if price > 0 else None
