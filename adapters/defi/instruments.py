"""Instruments of the on-chain wallet venue: every protocol action is an order on one of them.

- DEX pools (``ETHUSDT-UNIV3``, ``WEETHETH-CURVE`` …): spot pairs priced by the pool, pool fee as
  the taker fee;
- liquid staking: ``WEETH-ETHERFI`` (buy = mint weETH with ETH at the protocol rate) and
  ``WEETH-ETHERFIQ`` (sell = request a withdrawal, paid in queue ETH at the protocol rate);
- Aave v3: ``AWEETH-AAVE`` (buy = supply weETH, sell = withdraw) and ``VDWETH-AAVE`` (sell =
  borrow WETH, the debt token's balance going negative; buy = repay); both at 1:1 because aTokens
  and debt tokens rebase with the reserve indices.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Price, Quantity

from adapters.cex.instruments import precision_of
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import WITHDRAWAL_QUEUE, currency, register_wallet_currencies

RATE_INCREMENT = "0.0000000001"
"""Price step of rate-priced instruments (LST mint/redeem, Aave 1:1): 1e-10."""
TOKEN_INCREMENT = "0.00000001"


def wallet_instrument_id(config: WalletVenueConfig, symbol: str) -> InstrumentId:
    return InstrumentId(Symbol(symbol), Venue(config.venue))


def _pair(
    config: WalletVenueConfig, symbol: str, base: str, quote: str, fee: str, price_inc: str, size_inc: str
) -> CurrencyPair:
    return CurrencyPair(
        instrument_id=wallet_instrument_id(config, symbol),
        raw_symbol=Symbol(symbol),
        base_currency=currency(base),
        quote_currency=currency(quote),
        price_precision=precision_of(price_inc),
        size_precision=precision_of(size_inc),
        price_increment=Price.from_str(price_inc),
        size_increment=Quantity.from_str(size_inc),
        ts_event=0,
        ts_init=0,
        maker_fee=Decimal(fee),
        taker_fee=Decimal(fee),
    )


def _at_par(config: WalletVenueConfig, symbol: str, base: str, quote: str) -> CurrencyPair:
    """A fee-free protocol instrument priced at a rate (LST mint/queue) or 1:1 (Aave)."""
    return _pair(config, symbol, base, quote, "0", RATE_INCREMENT, TOKEN_INCREMENT)


def wallet_instruments(config: WalletVenueConfig) -> list[CurrencyPair]:
    """Every instrument of the wallet venue, pools first (a pool's fee is charged as its taker fee)."""
    register_wallet_currencies(config)
    out = [
        _pair(config, p.symbol, p.base, p.quote, p.fee, p.price_increment, p.size_increment)
        for p in config.pools
    ]
    for lst in config.staking:
        out.append(_at_par(config, lst.mint_symbol, lst.token, "ETH"))
        out.append(_at_par(config, lst.queue_symbol, lst.token, WITHDRAWAL_QUEUE))
    for reserve in config.aave.reserves:
        out.append(_at_par(config, f"{reserve.a_token}-AAVE", reserve.a_token, reserve.underlying))
        if reserve.debt_token:
            out.append(_at_par(config, f"{reserve.debt_token}-AAVE", reserve.debt_token, reserve.underlying))
    return out


def eth_usd_pool_id(config: WalletVenueConfig) -> InstrumentId:
    return wallet_instrument_id(config, config.eth_usd_pool)
