"""Hourly NAV, risk and P&L attribution across every venue of a run.

Nautilus' own analyzer sees realized account changes of the last venue only; a yield book needs
the whole portfolio marked to market. This actor samples, once per hour after all of that hour's
events (on the data's :class:`~adapters.hour_marks.HourClosed` marks, so a replay at any
speed samples the same hours), the NAV in the share-class currency (every CEX venue's
spot and futures wallets, the on-chain wallet, transfers in flight), the net delta per asset,
each venue's margin ratio, and attributes the NAV change since the previous sample to categories:

- ``price_pnl``: each holding's quantity at the previous sample × its price change, measured on
  the venue's spot price (net delta × spot move), wallet tokens at their own prices;
- ``basis_pnl``: perp quantity × (perp move − spot move), the spread's contribution;
- ``funding``, ``trading_fees``, ``gas``, ``transfer_fees`` (venue withdrawal fees; an ETH
  withdrawal's fee at the venue's spot price, and its ETH is valued in flight at the wallet's
  ETH price, the spot/pool difference at sending being price P&L),
  ``slippage`` (fill price vs the mark it is valued at), ``liquidation_losses`` (liquidation
  fees, their fills' taker fees and execution vs mark, net of insurance-fund cover).

- ``supply_interest``, ``borrow_interest``, ``staking_yield``, ``restaking_rewards`` (the part from
  estimated programs also reported separately), ``flash_loan_fees``: the on-chain wallet's
  protocol income and costs (:mod:`portfolio.wallet_book`).

Everything is computed in USDT and converted to the share class at the sample's price; for a
non-USDT share class the conversion's own effect (USDT-valued holdings against the share
currency's move) is price P&L. Investor deposits and withdrawals are flows, not P&L. Whatever the
categories do not explain is reported as the reconciliation residual — zero up to float rounding
when nothing is missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import DataType
from nautilus_trader.model.enums import OrderSide, OrderType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.position import Position

from adapters.cex.instruments import cex_instrument_id, exchange_of
from adapters.cex.liquidation_fills import is_liquidation_fill
from adapters.cex.margin import VenueWalletReader, base_qty, last_price, shared_wallet_reader
from adapters.defi.aave_market import AaveMarket, oracle_prices, risk_figures
from adapters.defi.config import load_wallet_venue
from adapters.defi.currencies import account_balances
from adapters.defi.valuation import WalletValuation
from adapters.events import (
    CAPITAL_TOPIC,
    FUNDING_TOPIC,
    GAS_TOPIC,
    TRANSFER_TOPIC,
    WALLET_TOPIC,
    CapitalFlow,
    CapitalFlowKind,
    FundingSettled,
    GasCharged,
    LiquidationEvent,
    TransferBook,
    TransferEvent,
    TransferKind,
    TransferStatus,
)
from adapters.hour_marks import HourClosed
from adapters.hours import DAY_NS, HOUR_NS
from portfolio.attribution import (
    Book,
    InstrumentMeta,
    Interval,
    Snapshot,
    delta_columns,
    price_attribution,
)
from portfolio.liquidations import liquidation_record, mark_at
from portfolio.wallet_book import ESTIMATED_REWARDS, WalletBook

VENUE_FIGURES = ("equity", "spot_cash", "margin_balance", "perp_notional", "margin_ratio")
"""Per-venue risk figures written to nav.csv as ``<figure>_<venue>``."""


TRANSFER_COLUMNS = (
    "ts",
    "request_id",
    "kind",
    "venue",
    "asset",
    "amount",
    "status",
    "fee",
    "fee_usdt",
    "reason",
)
"""Columns of the transfer log (``transfers.csv``), also when it is empty."""


class AccountingConfig(ActorConfig, frozen=True):
    cex_venues: tuple[str, ...]
    start_ns: int
    end_ns: int
    wallet_venue: str = "ETHEREUM"
    eth_price_instrument: str = "ETHUSDT-UNIV3.ETHEREUM"
    share_class: str = "USDT"
    share_price_instrument: str | None = None
    """Prices the share-class currency in USDT when the wallet has no market for it (BTC by a perp)."""
    aave_params: dict[str, Any] | None = None
    """Aave reserve and e-mode parameters of a run holding Aave positions: adds the health factor
    and LTV to every row."""


class AccountingActor(Actor):
    """See the module docstring; results are read from ``rows`` and the event logs after the run."""

    def __init__(self, config: AccountingConfig) -> None:
        super().__init__(config)
        self.acfg = config
        self.eth_id = InstrumentId.from_str(config.eth_price_instrument)
        self.wallet_venue = Venue(config.wallet_venue)
        self._wallet_config = load_wallet_venue()
        self.valuation = WalletValuation(self._wallet_config, config.share_class)
        if config.share_price_instrument is not None:
            self.valuation.price_by(config.share_class, InstrumentId.from_str(config.share_price_instrument))
        self.book = WalletBook(self.valuation, self.wallet_venue)
        params = config.aave_params
        self._aave = AaveMarket(self._wallet_config.aave, params) if params is not None else None
        self.transfer_book = TransferBook()
        self._readers: dict[str, VenueWalletReader] = {}
        self._metas: dict[InstrumentId, InstrumentMeta] = {}
        self._venue_columns = {
            venue: [f"{name}_{venue.lower()}" for name in VENUE_FIGURES] for venue in config.cex_venues
        }
        self._assets: list[str] = []
        self.rows: list[dict[str, float | int]] = []
        self.transfers: list[dict[str, object]] = []
        self.funding: list[FundingSettled] = []
        self.liquidations: list[LiquidationEvent] = []
        self._pending_liquidations: list[tuple[OrderFilled, Position | None, float]] = []
        """Liquidation fills (with the position they closed and their USDT commission) waiting
        for the bar they happened in."""
        self.gas: list[GasCharged] = []
        self.wallet_events: list[object] = []
        self.flows: list[CapitalFlow] = []
        self._eth_spot: dict[str, InstrumentId] = {}
        self._share_on_venues = 0.0
        """Share-class currency held as a coin-margined venue's equity (values the opening book)."""
        self._settlement_prices: dict[str, float] = {}
        """USDT per unit of each venue's settlement currency at the sample."""
        self._interval = Interval()
        self._prev: Snapshot | None = None
        self._next_sample = config.start_ns
        """The next hour to sample (each sample closes the hour ending at its stamp)."""
        self.progress: Callable[[str], None] | None = None
        """Called with a one-line status at the first sample of every month (long runs)."""

    # -- wiring ------------------------------------------------------------------------------

    def on_start(self) -> None:
        self.msgbus.subscribe(TRANSFER_TOPIC, self._on_transfer)
        self.msgbus.subscribe(FUNDING_TOPIC, self._on_funding)
        self.msgbus.subscribe(GAS_TOPIC, self._on_gas)
        self.msgbus.subscribe(CAPITAL_TOPIC, self._on_capital)
        self.msgbus.subscribe(WALLET_TOPIC, self._on_wallet_event)
        self.msgbus.subscribe("events.fills.*", self._on_fill)
        self._readers = {v: shared_wallet_reader(self.msgbus, v) for v in self.acfg.cex_venues}
        self._eth_spot = {v: cex_instrument_id(v, "ETH", "spot") for v in self.acfg.cex_venues}
        self._metas = {
            i.id: InstrumentMeta(isinstance(i, CryptoPerpetual), exchange_of(i.id), i.base_currency.code)
            for i in self.cache.instruments()
            if i.base_currency is not None and exchange_of(i.id) in self.acfg.cex_venues
        }  # the wallet's tokens are valued by the WalletBook, its ETH delta included
        self._assets = sorted({"ETH", *(meta.base for meta in self._metas.values())})
        self.sample(self.acfg.start_ns - HOUR_NS)  # the opening book, before the first decision
        self.msgbus.subscribe(f"data.{DataType(HourClosed).topic}*", self._on_hour_closed)

    def _on_hour_closed(self, mark: HourClosed) -> None:
        """Sample every hour the mark closes not sampled yet (a mark lost live is caught up)."""
        last = min(mark.hour_ns, self.acfg.end_ns)
        while self._next_sample <= last:
            self.sample(self._next_sample)
            self._next_sample += HOUR_NS

    # -- event intake ------------------------------------------------------------------------

    def _add(self, category: str, amount: float) -> None:
        self._interval.amounts[category] += amount

    def _on_transfer(self, event: TransferEvent) -> None:
        self.transfer_book.apply(event)
        external = event.kind in (TransferKind.DEPOSIT, TransferKind.WITHDRAWAL)
        if external and event.status == TransferStatus.SUBMITTED:
            if event.asset == "USDT":
                self._add("transfer_fees", -event.fee_usdt)
            else:  # spot ETH left the venue: valued at the sample's prices (see ``sample``)
                self._interval.eth_sent.append((event.venue, event.amount, event.fee))
        values = (
            pd.Timestamp(event.ts_event, tz="UTC"),
            event.request_id,
            str(event.kind),
            event.venue,
            event.asset,
            event.amount,
            str(event.status),
            event.fee,
            event.fee_usdt,
            event.reason,
        )
        self.transfers.append(dict(zip(TRANSFER_COLUMNS, values, strict=True)))

    def _on_funding(self, event: FundingSettled) -> None:
        self.funding.append(event)
        self._add("funding", event.payment_usdt)

    def _on_gas(self, event: GasCharged) -> None:
        self.gas.append(event)
        self.book.on_gas(event)

    def _on_wallet_event(self, event: object) -> None:
        self.wallet_events.append(event)
        self.book.on_event(event)

    def _book_liquidations(self) -> None:
        """Attribute the liquidation fills whose bar has reached the cache (see
        :mod:`portfolio.liquidations`): their fee, the venue's charges net of the insurance
        fund's cover, and execution against the mark."""
        waiting = []
        for fill, position, commission in self._pending_liquidations:
            mark = mark_at(self.cache, fill)
            if mark is None:
                waiting.append((fill, position, commission))
                continue
            event = liquidation_record(fill, self.cache.instrument(fill.instrument_id), position, mark)
            self.liquidations.append(event)
            closed = -event.signed_base_qty  # the liquidation fill's signed quantity
            if self.cache.instrument(fill.instrument_id).is_inverse:
                closed /= event.price  # USD face → coins
            self._interval.trades.append((fill.instrument_id, closed, mark))
            costs = (event.insurance_credit - event.fee) * event.usdt_per_unit
            self._add("liquidation_losses", -commission)
            self._add("liquidation_losses", costs - closed * (event.price - mark))
        self._pending_liquidations = waiting

    def _on_capital(self, flow: CapitalFlow) -> None:
        if flow.kind == CapitalFlowKind.DEPOSIT:
            self._interval.flow += flow.amount
        elif flow.kind == CapitalFlowKind.WITHDRAWAL:
            self._interval.flow -= flow.amount
        self.flows.append(flow)

    def _on_fill(self, fill: OrderFilled) -> None:
        if fill.instrument_id.venue == self.wallet_venue:
            instrument = self.cache.instrument(fill.instrument_id)
            self.book.on_fill(fill, instrument.base_currency.code, instrument.quote_currency.code, self.cache)
            return
        commission = fill.commission.as_double() if fill.commission is not None else 0.0
        instrument = self.cache.instrument(fill.instrument_id)
        liquidation = is_liquidation_fill(fill, self.cache.order(fill.client_order_id))
        coin_fee = 0.0  # a spot buy's fee taken from the coins bought (Binance): never delivered
        if fill.commission is not None and fill.commission.currency != USDT:
            if instrument.is_inverse:
                # a coin-margined perp's fee: valued with the coin's other holdings, at the sample
                category = "liquidation_losses" if liquidation else "trading_fees"
                self._interval.coin_amounts.append((exchange_of(fill.instrument_id), category, -commission))
            else:
                coin_fee = commission
            commission = 0.0
        if liquidation:  # marked at the bar it happened in, once that bar is in the cache
            position = self.cache.position(fill.position_id) if fill.position_id is not None else None
            self._pending_liquidations.append((fill, position, commission))
            return
        # a market order fills against the bar it was sent on; a stop or limit triggered while the
        # venue replays a new bar fills at its own price, which is the market at that instant
        mark = (
            last_price(self.cache, fill.instrument_id)
            if fill.order_type == OrderType.MARKET
            else fill.last_px.as_double()
        )
        taken_at = fill.last_px.as_double() if mark is None else mark
        # the fee's coins count at the market they were taken at; their later moves were never the book's
        self._add("trading_fees", -commission - coin_fee * taken_at)
        if mark is not None:
            side = 1 if fill.order_side == OrderSide.BUY else -1
            signed = base_qty(instrument, fill.last_qty.as_double()) * side
            if instrument.is_inverse:  # USD face → the coin it is worth at the fill
                signed /= fill.last_px.as_double()
            self._interval.trades.append((fill.instrument_id, signed - coin_fee, mark))
            self._add("slippage", -signed * (fill.last_px.as_double() - mark))

    # -- sampling ----------------------------------------------------------------------------

    def _holdings(self) -> tuple[Book, Book, dict[str, dict[str, float]]]:
        """Quantities (base units) and prices per instrument, and per-venue risk figures."""
        qty: dict[InstrumentId, float] = {}
        prices: dict[InstrumentId, float] = {}
        venues: dict[str, dict[str, float]] = {}
        self._share_on_venues = 0.0
        for venue in self.acfg.cex_venues:
            wallets = self._readers[venue].read(self.cache, self.portfolio, self.transfer_book.ledger(venue))
            for s in wallets.spots:
                qty[s.instrument_id], prices[s.instrument_id] = s.qty, s.price
            for p in wallets.perps:
                # an inverse position of face F opened at A is worth (F/A)(P − A) USDT: F/A coins at P
                qty[p.instrument_id] = p.signed_qty / p.avg_px if p.inverse else p.signed_qty
                prices[p.instrument_id] = p.price
            k = self._settlement_prices[venue] = wallets.settlement_price
            if wallets.settlement != "USDT":  # the coin collateral itself moves with the coin's price
                collateral = self._collateral_id(venue, wallets.settlement)
                qty[collateral], prices[collateral] = wallets.futures_wallet, k
            # in USDT (a coin-margined venue's at the coin's price); the ratio has no unit
            venues[venue] = {
                name: getattr(wallets, name) * (1.0 if name == "margin_ratio" else k)
                for name in VENUE_FIGURES
            }
            if wallets.settlement == self.acfg.share_class:
                self._share_on_venues += wallets.equity
        # instruments held an hour ago but closed since still need this hour's price
        for instrument_id in [self.eth_id, *(self._prev.qty if self._prev is not None else ())]:
            if instrument_id not in prices and (price := last_price(self.cache, instrument_id)) is not None:
                prices[instrument_id] = price
        return qty, prices, venues

    def sample(self, ts: int) -> None:
        """Record NAV, risk and the attributed change for the hour ending at ``ts``."""
        self._book_liquidations()
        qty, prices, venues = self._holdings()
        balances = account_balances(self.cache, self.wallet_venue)
        wallet = self.book.sample(balances, self.cache)
        eth_price = prices.get(self.eth_id, 0.0)
        eth_in_flight = self.transfer_book.in_transit("ETH")
        in_flight = self.transfer_book.in_transit_usdt(eth_price)
        nav_usdt = wallet.value + in_flight + sum(v["equity"] for v in venues.values())
        share_price = self._share_price()
        if share_price is None:  # only before the share currency's market opens (the first sample)
            nav = balances.get(self.acfg.share_class, 0.0) + self._share_on_venues
            per_usdt = 0.0
        else:
            per_usdt = 1.0 / share_price
            nav = nav_usdt * per_usdt
        interval, self._interval = self._interval, Interval()
        amounts = interval.amounts
        estimated = wallet.amounts.pop(ESTIMATED_REWARDS, 0.0) * per_usdt
        for category, amount in wallet.amounts.items():
            amounts[category] += amount
        wallet_price_pnl = wallet.amounts.get("price_pnl", 0.0)
        cex_price_pnl = 0.0
        for venue, category, amount in interval.coin_amounts:
            amounts[category] += amount * self._settlement_prices.get(venue, 0.0)
        for instrument_id, signed, mark in interval.trades:
            cex_price_pnl += signed * (self._price_now(instrument_id, prices, mark) - mark)
        for venue, amount, fee in interval.eth_sent:
            # the venue's spot ETH (its hour's move already counted) became ETH in flight
            spot = self._price_now(self._eth_spot[venue], prices, eth_price)
            amounts["transfer_fees"] -= fee * spot
            cex_price_pnl += amount * (eth_price - spot)
        if self._prev is not None:
            cex_price_pnl += self._prev.eth_in_flight * (
                eth_price - self._prev.prices.get(self.eth_id, eth_price)
            )
        if self._prev is not None:
            delta, basis = price_attribution(self._prev.qty, self._prev.prices, prices, self._metas)
            cex_price_pnl += delta
            amounts["basis_pnl"] += basis
        amounts["price_pnl"] += cex_price_pnl
        if per_usdt != 1.0:
            amounts = {category: amount * per_usdt for category, amount in amounts.items()}
        if self._prev is not None and per_usdt:
            # USDT-valued holdings against the share currency's own move
            amounts["price_pnl"] += self._prev.nav_usdt * per_usdt - self._prev.nav
            residual = nav - self._prev.nav - interval.flow - sum(amounts.values())
        else:  # the share currency has no price yet: the book is counted in its own units only
            residual = 0.0
        row: dict[str, float | int] = {
            "ts": ts,
            "nav": nav,
            "flow": interval.flow,
            **amounts,
            ESTIMATED_REWARDS: estimated,
            # price_pnl by leg (share class): the on-chain wallet's tokens and the CEX positions;
            # for a non-USDT class the conversion term is in neither
            "price_pnl_wallet": wallet_price_pnl * per_usdt,
            "price_pnl_cex": cex_price_pnl * per_usdt,
            "residual": residual,
            "nav_usdt": nav_usdt,
            "wallet_value_usdt": wallet.value,
            "wallet_usdt": balances.get("USDT", 0.0),
            "wallet_eth": balances.get("ETH", 0.0),
            "in_flight_usdt": in_flight,
            "in_flight_eth": eth_in_flight,
            **delta_columns(
                qty, prices, wallet.eth_linked + eth_in_flight, eth_price, self._metas, self._assets
            ),
        }
        for venue, figures in venues.items():
            row.update(zip(self._venue_columns[venue], figures.values(), strict=True))
        if self._aave is not None:
            row.update(risk_figures(self._aave, balances, oracle_prices(self._wallet_config, self.cache)))
        self.rows.append(row)
        self._report_progress(ts, nav)
        self._prev = Snapshot(nav, nav_usdt, qty, prices, eth_in_flight)

    def _collateral_id(self, venue: str, coin: str) -> InstrumentId:
        """A key for a coin-margined venue's coin balance in the price attribution."""
        instrument_id = InstrumentId.from_str(f"{coin}-COLLATERAL.{venue}")
        if instrument_id not in self._metas:
            self._metas[instrument_id] = InstrumentMeta(False, venue, coin)
        return instrument_id

    def _price_now(
        self, instrument_id: InstrumentId, prices: dict[InstrumentId, float], default: float
    ) -> float:
        """The sample's price of an instrument, also one neither held now nor an hour ago."""
        price = prices.get(instrument_id)
        if price is None:
            price = last_price(self.cache, instrument_id)
        return default if price is None else price

    def _share_price(self) -> float | None:
        """USDT per unit of the share-class currency, None before its market has a price."""
        try:
            return self.valuation.numeraire_price(self.acfg.share_class, self.cache)
        except LookupError:
            return None

    def _report_progress(self, ts: int, nav: float) -> None:
        if self.progress is None or self._prev is None or ts % DAY_NS:
            return  # only midnights are worth a Timestamp
        now = pd.Timestamp(ts, tz="UTC")
        if now.day == 1:
            self.progress(f"  {now:%Y-%m-%d}  NAV {nav:,.2f} {self.acfg.share_class}")

    def nav_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return frame
        frame.insert(0, "timestamp", pd.to_datetime(frame.pop("ts"), utc=True))
        return frame.set_index("timestamp")
