"""The value of every wallet token in a share-class currency, and where its value comes from.

Each token is priced through one rule: a DEX pool (the token in the pool's quote), a staking
protocol rate (an LST in ETH, at the redemption rate — DOMAIN.md values staked ETH at its
protocol rate; a DEX sale below it shows up as slippage when it happens) or 1:1 with an
underlying (aTokens and debt tokens rebase, queue ETH is ETH). Rules chain down to USDT, the
numeraire; a share-class price is the ratio of two numeraire prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.margin import last_price
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import WITHDRAWAL_QUEUE
from adapters.defi.instruments import wallet_instrument_id

NUMERAIRE = "USDT"


@dataclass(frozen=True)
class PriceRule:
    underlying: str
    instrument_id: InstrumentId | None = None
    """Instrument whose close prices the token in ``underlying``; None means 1:1."""
    staking: bool = False
    """The instrument is an LST's protocol rate: its growth is staking yield, not price."""


class WalletValuation:
    """Prices wallet tokens in the share class from the latest closes in the cache."""

    def __init__(self, config: WalletVenueConfig, share_class: str) -> None:
        self.share_class = share_class
        self.rules: dict[str, PriceRule] = {}
        for pool in config.pools:
            self.rules.setdefault(pool.base, PriceRule(pool.quote, wallet_instrument_id(config, pool.symbol)))
        for lst in config.staking:  # the protocol rate, not the DEX, values staked ETH
            rate = wallet_instrument_id(config, lst.mint_symbol)
            self.rules[lst.token] = PriceRule("ETH", rate, staking=True)
        for reserve in config.aave.reserves:
            self.rules[reserve.a_token] = PriceRule(reserve.underlying)
            if reserve.debt_token:
                self.rules[reserve.debt_token] = PriceRule(reserve.underlying)
        self.rules[WITHDRAWAL_QUEUE] = PriceRule("ETH")
        self.rules.pop(NUMERAIRE, None)
        self._paths: dict[str, tuple[InstrumentId, ...]] = {}

    def price_by(self, code: str, instrument_id: InstrumentId) -> None:
        """Price ``code`` in USDT by ``instrument_id``'s closes (a share class the wallet has no
        market for, e.g. BTC by a Binance BTC perp)."""
        self.rules[code] = PriceRule(NUMERAIRE, instrument_id)
        self._paths.clear()

    def _path(self, code: str) -> tuple[InstrumentId, ...]:
        """The instruments whose prices multiply into ``code``'s USDT price (cached per token)."""
        path = self._paths.get(code)
        if path is None:
            ids, seen, at = [], set(), code
            while at != NUMERAIRE:
                if at in seen or at not in self.rules:
                    raise LookupError(f"no price rule leads from {code!r} to {NUMERAIRE}")
                seen.add(at)
                rule = self.rules[at]
                if rule.instrument_id is not None:
                    ids.append(rule.instrument_id)
                at = rule.underlying
            path = self._paths[code] = tuple(ids)
        return path

    def numeraire_price(self, code: str, cache: Cache) -> float:
        """Price of ``code`` in USDT."""
        price = 1.0
        for instrument_id in self._path(code):
            rate = last_price(cache, instrument_id)
            if rate is None:
                raise LookupError(f"no price yet for {instrument_id}")
            price *= rate
        return price

    def prices(self, codes: Iterable[str], cache: Cache) -> dict[str, float | None]:
        """Numeraire price of each of ``codes``; None for a token with no price yet."""
        out: dict[str, float | None] = {}
        for code in codes:
            try:
                out[code] = self.numeraire_price(code, cache)
            except LookupError:
                out[code] = None
        return out

    def is_eth_linked(self, code: str) -> bool:
        """True when ``code`` is ETH held directly, staked, supplied or owed (its ETH delta is its value)."""
        while code != "ETH" and code in self.rules:
            rule = self.rules[code]
            if rule.instrument_id is not None and not rule.staking:
                return False  # priced by a pool: a different asset (EIGEN, USDT…)
            code = rule.underlying
        return code == "ETH"

    def eth_exposure(self, balances: dict[str, float], cache: Cache) -> float:
        """The ETH delta of ``balances``: ETH-linked tokens at their ETH value, debt negative."""
        linked = [c for c, q in balances.items() if q and self.is_eth_linked(c)]
        if not linked:
            return 0.0
        prices = self.prices([*linked, "ETH"], cache)
        eth = prices["ETH"]
        if not eth:
            raise LookupError("no ETH price yet")
        return sum(balances[c] * (prices[c] or 0.0) for c in linked) / eth

    def staking_rate(self, code: str) -> tuple[InstrumentId, str] | None:
        """For an LST (or its aToken): the protocol-rate instrument and what the rate is in."""
        while code in self.rules:
            rule = self.rules[code]
            if rule.staking and rule.instrument_id is not None:
                return rule.instrument_id, rule.underlying
            if rule.instrument_id is not None:
                return None
            code = rule.underlying
        return None
