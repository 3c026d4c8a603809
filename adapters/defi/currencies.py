"""Currencies of the on-chain wallet that Nautilus does not know: LSTs, aTokens, debt, rewards.

Nautilus silently treats an unregistered code as a precision-8 placeholder in some paths, so
every process that builds or reads wallet instruments registers these first (idempotent).
"""

from __future__ import annotations

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model import currencies
from nautilus_trader.model.enums import CurrencyType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Currency

from adapters.defi.config import WalletVenueConfig

PRECISION = 8
"""Token amounts are kept to 1e-8 (on-chain 18-decimal amounts are scaled down; 16 is Nautilus' cap)."""

WITHDRAWAL_QUEUE = "WQETH"
"""ETH claimable from an LST withdrawal queue: it becomes ETH when the request is finalised."""


def wallet_currency_codes(config: WalletVenueConfig) -> list[str]:
    """Every non-standard currency the wallet venue can hold."""
    codes = {WITHDRAWAL_QUEUE}
    codes |= {p.base for p in config.pools} | {p.quote for p in config.pools}
    codes |= {s.token for s in config.staking}
    for reserve in config.aave.reserves:
        codes |= {reserve.underlying, reserve.a_token}
        if reserve.debt_token:
            codes.add(reserve.debt_token)
    return sorted(codes)


def register_wallet_currencies(config: WalletVenueConfig) -> None:
    """Register the wallet's custom currencies with Nautilus (built-in ones are left alone)."""
    for code in wallet_currency_codes(config):
        if not hasattr(currencies, code):  # nautilus_trader.model.currencies holds the built-ins
            Currency.register(Currency(code, PRECISION, 0, code, CurrencyType.CRYPTO), overwrite=True)


def currency(code: str) -> Currency:
    found = _FOUND.get(code) or Currency.from_str(code)
    if found is None:
        raise ValueError(f"currency {code!r} is not registered; call register_wallet_currencies first")
    _FOUND[code] = found
    return found


_FOUND: dict[str, Currency] = {}
"""Looked-up currencies (a registered currency never changes within a process)."""


def account_balances(cache: Cache, venue: Venue) -> dict[str, float]:
    """Every balance of ``venue``'s account by currency code (debt tokens negative); {} before it exists."""
    account = cache.account_for_venue(venue)
    if account is None:
        return {}
    return {c.code: m.as_double() for c, m in account.balances_total().items()}
