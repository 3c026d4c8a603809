"""Funding actually paid, read from the venues, as the accounting's funding events.

In a backtest the venue simulation settles funding and publishes a
:class:`~adapters.events.FundingSettled` on ``FUNDING_TOPIC``, which the accounting actor books
as the ``funding`` category. Live, the venue settles it: the payment is only a balance change,
which without this poller the attribution would show as residual. The poller reads each perp's
payments with ccxt ``fetch_funding_history`` from the last one recorded, records each payment's
venue id in the :class:`~live.transfers.store.LifecycleStore` (so no payment is booked twice,
across polls and restarts), and publishes it as the same event.

The venue reports the amount and its time only; the rate, mark and position behind it are not
part of the payment record and are published as NaN (``funding.csv`` shows them empty).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import ccxt.async_support as ccxt_async
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import cex_instrument_id
from adapters.events import FundingSettled
from live.transfers.store import LifecycleStore

PAYMENT_SIGN = {"BYBIT": -1.0}
"""ccxt passes each venue's own sign through: Binance income and OKX balance changes are
credits (negative: paid), Bybit's funding ``execFee`` is a fee (positive: paid)."""


@dataclass(frozen=True)
class PerpMarket:
    instrument_id: InstrumentId
    """The Nautilus id (the one the backtest's funding events carry)."""
    symbol: str
    """ccxt's unified symbol (``BTC/USDT:USDT``; COIN-M ``BTC/USD:BTC``)."""
    settlement: str
    """The coin payments are made in (USDT, or the coin of a coin-margined perp)."""


def perp_markets(exchange: str) -> list[PerpMarket]:
    """Every perp the exchange's venue config lists, with its ccxt symbol."""
    markets = []
    for spec in load_cex_venue(exchange).instruments:
        if spec.kind == "spot":
            continue
        settlement = spec.base if spec.kind == "inverse" else spec.quote
        instrument_id = cex_instrument_id(exchange, spec.base, spec.kind, spec.quote)
        markets.append(PerpMarket(instrument_id, f"{spec.base}/{spec.quote}:{settlement}", settlement))
    return markets


class FundingHistoryPoller:
    """Publishes each new funding payment of ``markets`` on ``exchange`` (see the module docstring).

    ``usdt_price(coin)`` is the USDT value of one unit of a coin-margined perp's settlement
    coin; ``start_ms`` is how far back the first poll of a perp reads.
    """

    def __init__(
        self,
        exchange: str,
        client: ccxt_async.Exchange,
        markets: list[PerpMarket],
        store: LifecycleStore,
        publish: Callable[[FundingSettled], None],
        *,
        start_ms: int,
        usdt_price: Callable[[str], float | None] = lambda coin: None,
    ) -> None:
        self.exchange = exchange
        self._client = client
        self._markets = markets
        self._store = store
        self._publish = publish
        self._start_ms = start_ms
        self._usdt_price = usdt_price

    async def poll(self) -> int:
        """Read every perp's payments since its last recorded one; return how many were new."""
        new = 0
        for market in self._markets:
            since = self._store.last_funding_ms(self.exchange, market.symbol)
            entries = await self._client.fetch_funding_history(
                market.symbol, self._start_ms if since is None else since
            )
            for entry in sorted(entries, key=lambda e: (e["timestamp"], str(e["id"]))):
                usdt_per_unit = 1.0 if market.settlement == "USDT" else self._usdt_price(market.settlement)
                if usdt_per_unit is None:
                    break  # a coin payment is booked once it can be valued: read again next poll
                if self._store.add_funding(
                    self.exchange, market.symbol, str(entry["id"]), int(entry["timestamp"])
                ):
                    self._publish(self._event(market, entry, usdt_per_unit))
                    new += 1
        return new

    def _event(self, market: PerpMarket, entry: dict, usdt_per_unit: float) -> FundingSettled:
        return FundingSettled(
            self.exchange,
            str(market.instrument_id),
            rate=math.nan,
            mark=math.nan,
            signed_base_qty=math.nan,
            payment=PAYMENT_SIGN.get(self.exchange, 1.0) * float(entry["amount"]),
            ts_event=int(entry["timestamp"]) * 1_000_000,
            usdt_per_unit=usdt_per_unit,
        )
