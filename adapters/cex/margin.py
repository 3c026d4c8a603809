"""Spot and futures wallets of a CEX exchange, and the margin arithmetic on them.

The wallets are read as the venue's account mode keeps them (``account_mode`` in the venue YAML).
In classic mode the spot wallet and the futures (margin) wallet are separate: spot gains do not
support perp margin. They are read as the venue keeps them:

- an exchange with a spot account of its own (Binance classic, ``SPOT_VENUES``): spot cash and
  coins are the balances of that CASH account, the futures wallet is the MARGIN account's
  balance — what a live node reads from the venue's account states;
- an exchange whose one MARGIN account holds both legs: the split is recovered from the account
  and a :class:`~adapters.events.VenueLedger`: futures wallet ``F = to_futures + realized PnL of
  the venue's perps`` (fills, fees, funding, liquidation fees — everything booked on the perp
  positions), spot cash ``S = balance − F − cost basis of open spot holdings``.

In unified mode (Bybit's Unified Trading Account, OKX's multi-currency margin) one MARGIN account
is one wallet: its cash ``S = balance − cost basis of open spot holdings`` buys spot and margins the
perps, there is no futures wallet (``F = 0``) and no internal transfer, and the spot coins count as
margin at their collateral ratio r: margin balance ``S + Σ coin × price × r + unrealized perp PnL``.

The same function serves the venue simulation (pre-trade checks, liquidation), the strategies
and the accounting actor, so all three see identical numbers. Account ids are read from the
cache, so live ids (``BINANCE-USDT_FUTURES-master``, ``BYBIT-UNIFIED``) work as the backtest's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import MessageBus
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Currency
from nautilus_trader.model.position import Position
from nautilus_trader.portfolio.portfolio import Portfolio

from adapters.bars import bar_type_for
from adapters.cex.config import CexVenueConfig, load_cex_venue
from adapters.cex.instruments import SPOT_VENUES
from adapters.events import VenueLedger


class PerpState(NamedTuple):
    """One perp position of a venue, valued in the venue's settlement currency.

    ``signed_qty`` is contracts × multiplier: base units for a linear perp, USD face value for an
    inverse (coin-margined) one, whose notional and P&L are in the base coin.
    """

    instrument_id: InstrumentId
    signed_qty: float
    avg_px: float
    price: float
    maint_rate: float
    init_rate: float
    inverse: bool = False
    base: str = ""
    """The perp's base coin (its price moves a unified account's coins of the same base)."""

    @property
    def signed_notional(self) -> float:
        """Signed position value in the settlement currency (what funding is charged on)."""
        return self.signed_qty / self.price if self.inverse else self.signed_qty * self.price

    @property
    def notional(self) -> float:
        return abs(self.signed_notional)

    @property
    def unrealized(self) -> float:
        return position_pnl(self.signed_qty, self.avg_px, self.price, self.inverse)

    @property
    def maintenance(self) -> float:
        return self.notional * self.maint_rate

    @property
    def initial(self) -> float:
        return self.notional * self.init_rate


class SpotState(NamedTuple):
    instrument_id: InstrumentId
    qty: float
    avg_px: float
    """Average entry price of the holding (its cost basis on a shared MARGIN account)."""
    price: float
    collateral_ratio: float = 0.0
    """Share of the holding's value that counts as perp margin (0: classic, spot is not margin)."""
    base: str = ""
    """The coin held (a unified account's coins of a perp's base move with its price)."""

    @property
    def value(self) -> float:
        return self.qty * self.price

    @property
    def collateral(self) -> float:
        """What the holding adds to the margin balance (its value at the collateral ratio)."""
        return self.qty * self.price * self.collateral_ratio

    @property
    def cost_basis(self) -> float:
        return self.qty * self.avg_px


@dataclass(slots=True)
class VenueWallets:
    """A CEX venue's wallets marked at the latest prices, in its settlement currency (USDT, or
    the coin of a coin-margined venue, worth ``settlement_price`` USDT); treat it as read-only.

    The sums are taken once at construction: the wallets are read many times an hour and each
    reader looks at several of them.

    ``unified`` tells the strategies what the venue allows: True, one wallet margins spot and perps
    (``futures_wallet`` is 0, nothing moves between spot and futures); False, classic wallets.
    """

    venue: str
    balance: float
    spot_cash: float
    futures_wallet: float
    spots: tuple[SpotState, ...]
    perps: tuple[PerpState, ...]
    settlement: str = "USDT"
    settlement_price: float = 1.0
    """USDT per unit of the settlement currency (a coin-margined venue's own perp price)."""
    unified: bool = False
    unrealized_perp: float = field(init=False)
    maintenance_margin: float = field(init=False)
    initial_margin: float = field(init=False)
    perp_notional: float = field(init=False)
    spot_value: float = field(init=False)
    spot_collateral: float = field(init=False)
    """Σ coin × price × collateral ratio: the spot coins' part of the margin (0 in classic mode)."""
    collateral: float = field(init=False)
    """What backs the perps before their P&L: the futures wallet (classic) or the cash plus the
    coins' collateral (unified)."""

    def __post_init__(self) -> None:
        unrealized = notional = maintenance = initial = 0.0
        for perp in self.perps:
            unrealized += perp.unrealized
            notional += perp.notional
            maintenance += perp.maintenance
            initial += perp.initial
        self.unrealized_perp, self.perp_notional = unrealized, notional
        self.maintenance_margin, self.initial_margin = maintenance, initial
        self.spot_value = sum([s.value for s in self.spots])
        if self.unified:
            self.spot_collateral = sum([s.collateral for s in self.spots])
            self.collateral = self.spot_cash + self.spot_collateral
        else:
            self.spot_collateral, self.collateral = 0.0, self.futures_wallet

    @property
    def margin_balance(self) -> float:
        """Collateral plus unrealized perp PnL: what maintenance margin is compared with."""
        return self.collateral + self.unrealized_perp

    @property
    def hedge_margin(self) -> float:
        """The margin balance without the coins' collateral: the futures wallet (classic) or the
        cash (unified), plus unrealized perp PnL. What a hedged book sizes its perp margin by: on
        a unified account the coins back the short too, but they are the hedge's other leg."""
        return self.margin_balance - self.spot_collateral

    @property
    def margin_available(self) -> float:
        """Margin balance beyond the perps' initial margin: what new exposure may draw on."""
        return self.margin_balance - self.initial_margin

    @property
    def equity(self) -> float:
        return self.spot_cash + self.spot_value + (self.futures_wallet + self.unrealized_perp)

    @property
    def free_cash(self) -> float:
        """USDT that may buy spot or leave the venue: the spot wallet's cash (classic); in unified
        mode the cash the margin does not need (at most the available margin)."""
        if self.unified:
            return max(0.0, min(self.spot_cash, self.margin_available))
        return self.spot_cash

    @property
    def margin_ratio(self) -> float:
        """Maintenance margin ÷ margin balance (the venues' definition): liquidation at 1.0."""
        if not self.perps or self.maintenance_margin == 0:
            return 0.0
        return self.maintenance_margin / self.margin_balance if self.margin_balance > 0 else float("inf")

    def spot_qty(self, instrument_id: InstrumentId) -> float:
        """Base units of ``instrument_id`` held on the spot wallet (0 when none)."""
        return next((s.qty for s in self.spots if s.instrument_id == instrument_id), 0.0)

    @property
    def transferable_from_futures(self) -> float:
        """What may leave the futures wallet: no unrealized profit, initial margin stays (0 in
        unified mode, which has no futures wallet to move cash out of)."""
        if self.unified:
            return 0.0
        return max(0.0, self.futures_wallet + min(0.0, self.unrealized_perp) - self.initial_margin)

    @property
    def releasable_margin(self) -> float:
        """Margin cash that may be taken from the perps' backing and withdrawn: the futures
        wallet's transferable part (classic) or the free cash (unified)."""
        return self.free_cash if self.unified else self.transferable_from_futures


def notional_of(signed_qty: float, price: float, inverse: bool = False) -> float:
    """Position value in the settlement currency (inverse: USD face ÷ price, in the coin)."""
    return abs(signed_qty) / price if inverse else abs(signed_qty) * price


def position_pnl(signed_qty: float, avg_px: float, price: float, inverse: bool = False) -> float:
    """P&L in the settlement currency of ``signed_qty`` opened at ``avg_px``, marked at ``price``:
    linear ``q (P − A)`` (quote), inverse ``q (1/A − 1/P)`` (base coin, q in USD face)."""
    if inverse:
        return signed_qty * (1.0 / avg_px - 1.0 / price)
    return signed_qty * (price - avg_px)


def last_price(cache: Cache, instrument_id: InstrumentId) -> float | None:
    """Latest close of the instrument's hourly bar (the mark everything is valued at)."""
    bar = cache.bar(bar_type_for(instrument_id))
    if bar is not None:
        return bar.close.as_double()
    price = cache.price(instrument_id, PriceType.LAST)
    return None if price is None else price.as_double()


def net_position(positions: list[Position], inverse: bool = False) -> tuple[float, float]:
    """The venue's one (netting) position on an instrument, from Nautilus' open positions on it:
    (signed contracts, entry price); (0, 0) when flat.

    Usually there is one. A restart's reconciliation books what the venue holds beyond the cached
    position as a second one owned by ``EXTERNAL`` (e.g. a trade made by hand while the node was
    down): the venue's position is their sum, at the entry price that keeps their summed P&L."""
    if len(positions) == 1:
        return positions[0].signed_qty, positions[0].avg_px_open
    contracts = sum(p.signed_qty for p in positions)
    if not contracts:
        return 0.0, 0.0
    if inverse:  # P&L = q (1/a - 1/p)
        return contracts, contracts / sum(p.signed_qty / p.avg_px_open for p in positions)
    return contracts, sum(p.signed_qty * p.avg_px_open for p in positions) / contracts


def base_qty(instrument: Instrument, signed_qty: float) -> float:
    """Position size in base units (OKX swaps count contracts of ``multiplier`` base each)."""
    return signed_qty * instrument.multiplier.as_double()


@dataclass(frozen=True)
class _Leg:
    instrument: Instrument
    is_perp: bool
    multiplier: float
    maint_rate: float
    init_rate: float
    bar_type: BarType
    inverse: bool = False
    collateral_ratio: float = 0.0


@dataclass(frozen=True)
class _Holding:
    leg: _Leg
    signed_qty: float
    avg_px: float


@dataclass(frozen=True)
class _Book:
    """The part of a venue's wallets that only fills, fees, funding and transfers change."""

    balance: float
    futures_wallet: float
    holdings: tuple[_Holding, ...]
    spot_cash: float | None = None
    """A spot account's cash; None when spot shares the MARGIN account (then derived)."""


class VenueWalletReader:
    """Reads one venue's wallets: the spot/futures split of its MARGIN account at the latest closes.

    It is asked for the same venue many times an hour (strategy, accounting, the venue's own
    checks) while usually only prices have moved, so the venue's instruments are looked up once
    and the balance/positions part is re-read only when the account has a new event (every fill,
    fee, funding payment and deposit produces one), a net position moved or the transfer ledger
    changed.

    ``config`` gives the account mode and collateral ratios (default: the venue's YAML in
    ``configs/venues``; a venue simulation passes the config it was built from).

    ``coin_balances``: the spot holdings of an account shared with the perps are its coin
    balances, and its USDT balance is cash net of what they cost: how a venue reports a unified
    account (live). A simulated MARGIN account books spot fills as positions on an unchanged
    USDT balance instead (backtest, paper, sandbox: the default).
    """

    def __init__(self, venue: str, config: CexVenueConfig | None = None, coin_balances: bool = False) -> None:
        self.venue = venue
        self._coin_balances = coin_balances
        self._config = config if config is not None else load_cex_venue(venue)
        self.unified = self._config.unified
        self._venue = Venue(venue)
        spot_venue = SPOT_VENUES.get(venue)
        self._spot_venue = Venue(spot_venue) if spot_venue is not None else None
        self._legs: list[_Leg] = []
        self._settlement: Currency = USDT
        self._settlement_bar: BarType | None = None
        self._book: _Book | None = None
        self._book_key: tuple[int, int, VenueLedger, tuple[Decimal, ...]] | None = None
        self._last: VenueWallets | None = None
        self._last_book: _Book | None = None
        self._last_stamps: list[int] = []

    def _instrument_legs(self, cache: Cache) -> list[_Leg]:
        if not self._legs:
            self._legs = [
                _Leg(
                    instrument,
                    isinstance(instrument, CryptoPerpetual),
                    instrument.multiplier.as_double(),
                    float(instrument.margin_maint),
                    float(instrument.margin_init),
                    bar_type_for(instrument.id),
                    bool(getattr(instrument, "is_inverse", False)),
                    self._config.collateral_ratio(instrument.base_currency.code),
                )
                for venue in (self._venue, self._spot_venue)
                if venue is not None
                for instrument in cache.instruments(venue=venue)
            ]
            coin = _settlement_coin(cache.account_for_venue(self._venue), self._legs)
            if coin is not None:
                # a coin-margined venue: balances and P&L in the coin, priced by its inverse perp
                self._settlement = coin
                self._settlement_bar = next(
                    leg.bar_type
                    for leg in self._legs
                    if leg.inverse and leg.instrument.settlement_currency == self._settlement
                )
        return self._legs

    def _read_book(self, cache: Cache, portfolio: Portfolio, ledger: VenueLedger) -> _Book:
        account = cache.account_for_venue(self._venue)
        spot_account = cache.account_for_venue(self._spot_venue) if self._spot_venue is not None else None
        # live, a venue's account state and the fills behind it arrive on separate paths, in either
        # order: the book is stale when either has moved
        key = (
            account.event_count if account is not None else 0,
            spot_account.event_count if spot_account is not None else 0,
            ledger,
            tuple(portfolio.net_position(leg.instrument.id) for leg in self._instrument_legs(cache)),
        )
        if self._book is not None and key == self._book_key:
            return self._book
        balance = _total(account, self._settlement)
        holdings = []
        realized_perp = 0.0
        for leg in self._instrument_legs(cache):
            if leg.is_perp and account is not None:
                realized = portfolio.realized_pnl(leg.instrument.id, account.id)
                realized_perp += realized.as_double() if realized is not None else 0.0
            positions = cache.positions_open(venue=None, instrument_id=leg.instrument.id)
            contracts, avg_px = net_position(positions, leg.inverse)
            if not leg.is_perp and (spot_account is not None or self._coin_balances):  # coins held
                coins = _total(spot_account or account, leg.instrument.base_currency)
                if coins > 0:
                    holdings.append(_Holding(leg, coins, avg_px))
            elif contracts:
                holdings.append(_Holding(leg, contracts * leg.multiplier, avg_px))
        if spot_account is not None:  # two accounts, as the exchange keeps them
            self._book = _Book(balance, balance, tuple(holdings), _total(spot_account, USDT))
        elif self._coin_balances and self._spot_venue is not None:
            # live, a futures account whose exchange keeps spot apart (Binance) and a node that
            # trades no spot: the venue's balance is all futures wallet, the spot wallet unknown
            self._book = _Book(balance, balance, tuple(holdings), 0.0)
        else:
            if self.unified:  # one wallet: no futures wallet, all cash is the account's
                futures = 0.0
            else:  # a coin-margined venue is one futures wallet (no spot legs); a USDT one is split
                futures = balance if self._settlement != USDT else ledger.to_futures + realized_perp
            cash = balance - futures if self._coin_balances else None  # else net of the spot positions
            self._book = _Book(balance, futures, tuple(holdings), cash)
        self._book_key = key
        return self._book

    def read(self, cache: Cache, portfolio: Portfolio, ledger: VenueLedger) -> VenueWallets:
        book = self._read_book(cache, portfolio, ledger)
        bars = [cache.bar(holding.leg.bar_type) for holding in book.holdings]
        settlement_bar = cache.bar(self._settlement_bar) if self._settlement_bar is not None else None
        stamps = [bar.ts_event if bar is not None else 0 for bar in (*bars, settlement_bar)]
        if book is self._last_book and stamps == self._last_stamps and self._last is not None:
            return self._last  # same book, same closes: e.g. the hourly NAV right after the strategy's tick
        spots, perps = [], []
        for holding, bar in zip(book.holdings, bars, strict=True):
            leg = holding.leg
            price = bar.close.as_double() if bar is not None else holding.avg_px
            state = (leg.instrument.id, holding.signed_qty, holding.avg_px, price)
            base = leg.instrument.base_currency.code
            if leg.is_perp:
                perps.append(PerpState(*state, leg.maint_rate, leg.init_rate, leg.inverse, base))
            else:
                spots.append(SpotState(*state, leg.collateral_ratio, base))
        spot_cash = book.spot_cash
        if spot_cash is None:
            spot_cash = book.balance - book.futures_wallet - sum(s.cost_basis for s in spots)
        futures = book.futures_wallet
        settlement_price = 1.0
        if self._settlement_bar is not None:
            settlement_price = settlement_bar.close.as_double() if settlement_bar is not None else 0.0
        wallets = VenueWallets(
            self.venue,
            book.balance,
            spot_cash,
            futures,
            tuple(spots),
            tuple(perps),
            self._settlement.code,
            settlement_price,
            self.unified,
        )
        self._last, self._last_book, self._last_stamps = wallets, book, stamps
        return wallets


def _settlement_coin(account, legs: list[_Leg]) -> Currency | None:
    """The coin a coin-margined venue settles in (None: a USDT venue).

    A simulated venue's account has it as base currency. A live venue reports a multi-currency
    account (no base currency, e.g. Binance COIN-M's wallets of BTC, ETH...): there the venue is
    coin-margined when all its perps are inverse ones settled in one coin (a live Binance futures
    venue is USDT-M or COIN-M, never both: ``live/venues.py``)."""
    if account is None:
        return None
    if account.base_currency is not None:
        return None if account.base_currency == USDT else account.base_currency
    perps = [leg for leg in legs if leg.is_perp]
    coins = {leg.instrument.settlement_currency for leg in perps}
    if perps and all(leg.inverse for leg in perps) and len(coins) == 1:
        return coins.pop()
    return None


def _total(account, currency: Currency) -> float:
    money = account.balance_total(currency) if account is not None else None
    return money.as_double() if money is not None else 0.0


def wallet_reader_endpoint(venue: str) -> str:
    """Message-bus endpoint where a venue's simulation lends its :class:`VenueWalletReader`."""
    return f"CEX.{venue}.wallet_reader"


def shared_wallet_reader(msgbus: MessageBus, venue: str) -> VenueWalletReader:
    """The venue simulation's own reader when there is one (backtest, paper, sandbox), else a
    private one reading the accounts as a venue reports them (live: ``coin_balances``).

    Sharing the reader lets the strategy, the accounting actor and the venue's checks reuse one
    read of the same state instead of each rebuilding it.
    """
    endpoint = wallet_reader_endpoint(venue)
    lent: list[VenueWalletReader] = []
    if endpoint in msgbus.endpoints():
        msgbus.send(endpoint, lent.append)
    return lent[0] if lent else VenueWalletReader(venue, coin_balances=True)


def liquidation_price(wallets: VenueWallets, perp: PerpState) -> float | None:
    """Price of ``perp`` at which margin balance meets maintenance, other perps held at their marks.

    Margin balance and maintenance are both linear in the price, so the crossing solves
    ``K + c P + U_other + q (P − A) = M_other + |q| P m``, where K is the collateral that does not
    move with the perp and ``c P`` the collateral of a unified account's coins of the perp's base
    (value × ratio, moving in proportion to the perp's price; c = 0 in classic mode). ``None``
    when no such positive price exists.
    """
    q, a, m = perp.signed_qty, perp.avg_px, perp.maint_rate
    if q == 0:
        return None
    others = [p for p in wallets.perps if p.instrument_id != perp.instrument_id]
    moving = [s.collateral for s in wallets.spots if s.collateral_ratio > 0 and s.base == perp.base]
    fixed = wallets.collateral - sum(moving)
    free = fixed + sum(p.unrealized for p in others) - sum(p.maintenance for p in others)
    if perp.inverse:
        # free + q (1/A − 1/P) = |q| m / P  ⇒  P = (q + |q| m) / (free + q / A)
        denominator = free + q / a
        price = (q + abs(q) * m) / denominator if denominator != 0 else -1.0
        return price if price > 0 else None
    slope = abs(q) * m - q - sum(moving) / perp.price
    if slope == 0:
        return None
    price = (free - q * a) / slope
    return price if price > 0 else None
