"""Nautilus instruments for the simulated CEX venues, with the ids the live adapters produce.

Keeping the ids identical to ``nautilus_trader.adapters.{binance,bybit,okx}`` means a strategy
config written for a backtest runs unchanged against the live venues.

An exchange is not always one Nautilus venue. Binance keeps spot and futures in separate
accounts (its classic account mode), and live each account is its own execution client, which
Nautilus allows one per venue: Binance spot trades on ``BINANCE_SPOT`` (a CASH account), its
futures on ``BINANCE`` (a MARGIN account). Bybit and OKX serve spot and derivatives from one
client and one venue. Strategies and transfers name the exchange; orders name the venue.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.identifiers import AccountId, InstrumentId, Symbol
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Instrument
from nautilus_trader.model.objects import Currency, Money, Price, Quantity

from adapters.cex.config import SPOT_VENUES, CexInstrumentSpec, CexVenueConfig

_EXCHANGE_OF_VENUE = {venue: exchange for exchange, venue in SPOT_VENUES.items()}

_SYMBOL_FORMATS = {
    # exchange: {kind: (Nautilus symbol, venue's raw symbol)}, formatted with base/quote
    "BINANCE": {
        "spot": ("{b}{q}", "{b}{q}"),
        "perp": ("{b}{q}-PERP", "{b}{q}"),
        "inverse": ("{b}{q}-PERP", "{b}{q}_PERP"),  # COIN-M: the adapter parses BTCUSD_PERP as BTCUSD-PERP
    },
    "BYBIT": {"spot": ("{b}{q}-SPOT", "{b}{q}"), "perp": ("{b}{q}-LINEAR", "{b}{q}")},
    "OKX": {"spot": ("{b}-{q}", "{b}-{q}"), "perp": ("{b}-{q}-SWAP", "{b}-{q}-SWAP")},
}


def _formats(venue: str, kind: str) -> tuple[str, str]:
    try:
        kinds = _SYMBOL_FORMATS[venue]
    except KeyError:
        raise ValueError(f"unknown CEX venue {venue!r}; expected one of {sorted(_SYMBOL_FORMATS)}") from None
    try:
        return kinds[kind]
    except KeyError:
        raise ValueError(f"{venue} lists no {kind!r} instruments (has: {sorted(kinds)})") from None


def cex_instrument_id(venue: str, base: str, kind: str, quote: str = "USDT") -> InstrumentId:
    """The live adapter's instrument id for ``base``/``quote`` spot or perp on exchange ``venue``
    (on the exchange's spot venue when it has one)."""
    symbol_fmt, _ = _formats(venue, kind)
    account_venue = SPOT_VENUES.get(venue, venue) if kind == "spot" else venue
    return InstrumentId.from_str(f"{symbol_fmt.format(b=base, q=quote)}.{account_venue}")


def live_account_id(venue: str, settlement: str = "USDT") -> AccountId | None:
    """The account id the venue's live execution client reports (None: not a CEX venue).

    Binance: ``<venue>-<account type>-master``; Bybit's unified trading account ``BYBIT-UNIFIED``;
    OKX ``OKX-master``. Bybit's and OKX's ids are the same in either ``account_mode``: Nautilus
    1.231's adapters report these whatever the account's mode (``live.venues`` says which modes
    can trade live).
    """
    if venue in _EXCHANGE_OF_VENUE:
        return AccountId(f"{venue}-SPOT-master")
    if venue == "BINANCE":
        return AccountId(f"BINANCE-{'USDT' if settlement == 'USDT' else 'COIN'}_FUTURES-master")
    return {"BYBIT": AccountId("BYBIT-UNIFIED"), "OKX": AccountId("OKX-master")}.get(venue)


def exchange_of(instrument_id: InstrumentId) -> str:
    """The exchange an instrument trades on, whichever of its venues (accounts) holds it."""
    venue = instrument_id.venue.value
    return _EXCHANGE_OF_VENUE.get(venue, venue)


def _raw_symbol(venue: str, spec: CexInstrumentSpec) -> Symbol:
    _, raw_fmt = _formats(venue, spec.kind)
    return Symbol(raw_fmt.format(b=spec.base, q=spec.quote))


def precision_of(increment: str) -> int:
    """Decimal places of an increment string (``"0.001"`` -> 3)."""
    exponent = Decimal(increment).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _currency(code: str) -> Currency:
    currency = Currency.from_str(code)
    if currency is None:
        raise ValueError(f"unknown currency {code!r}")
    return currency


def build_cex_instrument(venue: str, spec: CexInstrumentSpec) -> Instrument:
    """Build the Nautilus instrument for one venue spec.

    Spot pairs get ``margin_init=1`` so that, on an exchange whose MARGIN account holds spot too,
    a spot holding is fully funded (Nautilus keeps spot and perp as two positions on one account).
    """
    instrument_id = cex_instrument_id(venue, spec.base, spec.kind, spec.quote)
    base, quote = _currency(spec.base), _currency(spec.quote)
    price_increment = Price.from_str(spec.price_increment)
    size_increment = Quantity.from_str(spec.size_increment)
    common = {
        "instrument_id": instrument_id,
        "raw_symbol": _raw_symbol(venue, spec),
        "base_currency": base,
        "quote_currency": quote,
        "price_precision": precision_of(spec.price_increment),
        "size_precision": precision_of(spec.size_increment),
        "price_increment": price_increment,
        "size_increment": size_increment,
        "ts_event": 0,
        "ts_init": 0,
        "min_quantity": size_increment,
        "min_notional": Money(spec.min_notional, quote) if spec.min_notional else None,
        "maker_fee": Decimal(spec.maker_fee),
        "taker_fee": Decimal(spec.taker_fee),
    }
    if spec.kind == "spot":
        return CurrencyPair(**common, margin_init=Decimal(1), margin_maint=Decimal(0))
    assert spec.margin is not None  # enforced by the config
    inverse = spec.kind == "inverse"
    return CryptoPerpetual(
        **common,
        settlement_currency=base if inverse else (USDT if spec.quote == "USDT" else quote),
        is_inverse=inverse,
        multiplier=Quantity.from_str(spec.multiplier),
        margin_init=Decimal(str(spec.margin.initial)),
        margin_maint=Decimal(str(spec.margin.maintenance)),
    )


def venue_instruments(config: CexVenueConfig) -> dict[InstrumentId, tuple[CexInstrumentSpec, Instrument]]:
    """All instruments of a venue keyed by id, each with the spec it was built from."""
    out: dict[InstrumentId, tuple[CexInstrumentSpec, Instrument]] = {}
    for spec in config.instruments:
        instrument = build_cex_instrument(config.venue, spec)
        out[instrument.id] = (spec, instrument)
    return out
