"""Keeping the on-chain wallet usable: its gas ETH topped up and stray tokens sold (sell_dust).

A USDT share class buys its gas ETH on the ETH/USDT pool; an ETH share class keeps
``gas_reserve_eth`` of its capital aside. Tokens the mode does not hold on purpose (rewards, ETH
beyond the reserve) are sold for the share currency once worth more than ``dust_threshold_usd``.
"""

from __future__ import annotations

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.instruments import Instrument

from strategies.plan import Phase


class WalletUpkeep:
    """Gas reserve and dust for :class:`~strategies.base.YieldStrategy` (a mixin: it uses the
    strategy's config, wallet balances, prices and order helpers)."""

    def _gas_top_up_cost(self) -> float:
        """Share currency to free for refilling the gas reserve."""
        missing = self.cfg.gas_reserve_eth - self.wallet_balance("ETH")
        if self.share == "ETH":
            return 0.0  # free_capital already nets the reserve: raising 0 free ETH refills it
        pool = self.cache.instrument(self.pool_id)
        return missing * self.price(self.pool_id) * (1 + float(pool.taker_fee)) * 1.01

    def _gas_reserve_phases(self) -> list[Phase]:
        if self.share == "ETH" or self.cfg.prefunded:
            return []  # the reserve is part of the capital, never deployed; or nothing is on-chain

        def top_up() -> None:
            held = self.wallet_balance("ETH")
            if held >= self.cfg.gas_reserve_min_eth:
                return
            pool = self.cache.instrument(self.pool_id)
            price = self.price(self.pool_id) * (1 + float(pool.taker_fee))
            affordable = self.wallet_balance("USDT") / price
            self.submit_market(pool, OrderSide.BUY, min(self.cfg.gas_reserve_eth - held, affordable))

        return [top_up]

    def position_tokens(self) -> set[str]:
        """Wallet tokens the mode holds on purpose (never sold as dust)."""
        return set()

    def _dust_candidates(self) -> list[tuple[str, float]]:
        """Wallet tokens held beyond what the mode keeps (re-read only after an account event)."""
        account = self.cache.account_for_venue(self.wallet_venue)
        events = account.event_count if account is not None else 0
        if events != self._dust_events:
            kept = {self.share, *self.position_tokens()}
            self._dust_events = events
            self._dust = [(c, q) for c, q in self.wallet_balances().items() if q > 0 and c not in kept]
        return self._dust

    def dust_phases(self) -> list[Phase]:
        """Sell stray tokens (rewards, ETH beyond the gas reserve of a USDT class) worth enough."""
        phases: list[Phase] = []
        for code, held in self._dust_candidates():
            amount = held - self.cfg.gas_reserve_eth if code == "ETH" else held
            pool = next((p for p in self.wallet_config.pools if p.base == code), None)
            if pool is None or amount <= 0:
                continue
            try:
                value = amount * self.valuation.numeraire_price(code, self.cache)
            except LookupError:
                continue  # no market yet: keep it
            if value > self.cfg.dust_threshold_usd:
                phases.append(self._sell_phase(self.wallet_instrument(pool.symbol), amount))
        return phases

    def _sell_phase(self, instrument: Instrument, amount: float) -> Phase:
        return lambda: self.submit_market(instrument, OrderSide.SELL, amount)

    def _sell_all_eth(self) -> None:
        """exit_full of a USDT class: sell the gas reserve down to its minimum (gas money stays)."""
        if self.share == "ETH":
            return
        amount = self.wallet_balance("ETH") - self.cfg.gas_reserve_min_eth
        if amount * self.price(self.pool_id) > self.cfg.dust_threshold_usd:
            self.submit_market(self.cache.instrument(self.pool_id), OrderSide.SELL, amount)
