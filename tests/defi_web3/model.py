"""The simulated backend the web3 tests compare against: the model's chain at the local chain's
starting state (marks, holdings, the Aave model, the flash-loan provider)."""

from __future__ import annotations

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.data import Bar
from nautilus_trader.model.objects import Quantity

from adapters.bars import bar_type_for
from adapters.defi.aave_market import AaveMarket
from adapters.defi.backend import ChainView, SimulatedBackend
from adapters.defi.config import WalletVenueConfig
from adapters.defi.instruments import wallet_instrument_id, wallet_instruments


def simulated(
    venue: WalletVenueConfig,
    prices: dict[str, float],
    holdings: dict[str, float] | None = None,
    aave: AaveMarket | None = None,
    flash_provider: str | None = None,
) -> SimulatedBackend:
    """A simulated backend whose chain marks each instrument at ``prices`` and holds ``holdings``
    (default: plenty), with the Aave model ``aave`` and ``flash_provider``'s flash loans."""
    cache = Cache()
    for instrument in wallet_instruments(venue):
        cache.add_instrument(instrument)
    for symbol, price in prices.items():
        instrument = cache.instrument(wallet_instrument_id(venue, symbol))
        mark, volume = instrument.make_price(price), Quantity.from_int(1)
        cache.add_bar(Bar(bar_type_for(instrument.id), mark, mark, mark, mark, volume, 0, 0))
    held = holdings or {"ETH": 10_000.0, "USDT": 10_000_000.0, "WSTETH": 1_000.0, "WEETH": 1_000.0}
    chain = ChainView(
        cache=cache,
        aave=aave,
        balances=lambda: dict(held),
        gas_cost_eth=lambda operation: 0.0,
        now_ns=lambda: 0,
        accrue=lambda: None,
        flash_provider=flash_provider or venue.flash_loans.default,
        flash_fees=venue.flash_loans.fees,
    )
    return SimulatedBackend(venue, chain)
