"""Instruments of the on-chain wallet venue."""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.currencies import ETH, USDT
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Price, Quantity

from adapters.cex.config import WalletVenueConfig
from adapters.cex.instruments import precision_of


def pool_instrument_id(config: WalletVenueConfig) -> InstrumentId:
    return InstrumentId(Symbol(config.dex.pool), Venue(config.venue))


def build_pool_instrument(config: WalletVenueConfig) -> CurrencyPair:
    """The ETH/USDT DEX pool as a spot pair; the pool fee is charged as the taker fee."""
    return CurrencyPair(
        instrument_id=pool_instrument_id(config),
        raw_symbol=Symbol(config.dex.pool),
        base_currency=ETH,
        quote_currency=USDT,
        price_precision=precision_of(config.dex.price_increment),
        size_precision=precision_of(config.dex.size_increment),
        price_increment=Price.from_str(config.dex.price_increment),
        size_increment=Quantity.from_str(config.dex.size_increment),
        ts_event=0,
        ts_init=0,
        maker_fee=Decimal(config.dex.fee),
        taker_fee=Decimal(config.dex.fee),
    )
