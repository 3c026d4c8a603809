"""Parity for single orders: the same order through the SimulatedBackend (marks set to the chain's
starting state) and through the Web3Backend gives the same fill price, within stated tolerances.

Where they differ and why:

* swap sell: the model applies the pool's price impact to the whole amount and takes the fee out
  of the output; Uniswap takes the fee from the input first. The fill prices differ by ~fee ×
  amount / reserves (≈1e-7 here), plus the instrument's price tick (0.01 USDT ≈ 2.4e-6).
* swap buy: Uniswap charges the input amount / (1 − fee), the model price × (1 + fee): the
  booked prices differ by a factor 1 / (1 − fee²), 9e-6 for the 0.3 % pool.
* staking and the withdrawal queue: both at the protocol rate, to its 1e-10 tick.
* Aave: 1:1 in both by construction (checked against the chain in test_orders), not repeated here.

Atomic order lists: ``test_atomic``.
"""

from __future__ import annotations

import pytest
from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.objects import Quantity

from adapters.bars import bar_type_for
from adapters.defi.aave_market import AaveMarket
from adapters.defi.backend import ChainView, SimulatedBackend
from adapters.defi.config import WalletVenueConfig
from adapters.defi.instruments import wallet_instrument_id, wallet_instruments
from adapters.defi.web3.backend import Web3Backend
from localchain.aave import LocalAave
from tests.defi_web3.conftest import order
from tests.localchain.helpers import rate, units

BUY, SELL = OrderSide.BUY, OrderSide.SELL
TICK = 2.5e-6
"""ETHUSDT's 0.01 price tick relative to a ~4,000 USDT price."""


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


@pytest.mark.parametrize(
    ("symbol", "side", "quantity", "tolerance"),
    [
        ("ETHUSDT-UNIV3", SELL, "2", TICK + 1e-6),
        ("ETHUSDT-UNIV3", BUY, "2", TICK + 0.003**2),
        ("WSTETH-LIDO", BUY, "3", 1e-9),
        ("WEETH-ETHERFI", BUY, "3", 1e-9),
        ("WSTETH-LIDOQ", SELL, "1", 1e-9),
        ("WSTETHETH-UNIV3", SELL, "1", 1e-6),
    ],
)
def test_one_order_fills_alike_on_both_backends(
    aave: LocalAave,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    marks: dict[str, float],
    symbol: str,
    side: OrderSide,
    quantity: str,
    tolerance: float,
) -> None:
    if side == BUY and symbol == "ETHUSDT-UNIV3":  # the chain wallet needs USDT to buy with
        aave.tokens["USDT"].functions.mint(backend.me, units(aave, "USDT", 100_000)).transact()
    if symbol in ("WSTETH-LIDOQ", "WSTETHETH-UNIV3"):  # … or the LST to redeem or sell
        backend.execute([order(venue, "WSTETH-LIDO", BUY, "2")], atomic=False)
    rates = {f"{s.token}-{s.protocol}": rate(aave, s.asset) for s in venue.staking}
    model = simulated(venue, marks | rates).execute([order(venue, symbol, side, quantity)], atomic=False)
    chain = backend.execute([order(venue, symbol, side, quantity)], atomic=False)
    assert chain.gas_operation == model.gas_operation
    assert chain.fills[0].price == pytest.approx(model.fills[0].price, rel=tolerance)
    assert len(chain.queued) == len(model.queued)
    for (token, eth, _), (model_token, model_eth, _) in zip(chain.queued, model.queued, strict=True):
        assert token == model_token and eth == pytest.approx(model_eth, rel=1e-9)
