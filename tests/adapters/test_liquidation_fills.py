"""The liquidation rule on fills shaped as each venue's live liquidation reaches Nautilus.

Live, the engine books an order it did not send as strategy ``EXTERNAL``, tag ``VENUE``, with the
client order id the adapter parsed: Binance's own ``autoclose-…``/``adl_autoclose`` id; for
Bybit and OKX (no client order id on a liquidation) a generated UUID.
"""

from __future__ import annotations

import pytest
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import MarketOrder

from adapters.cex.liquidation_fills import VENUE_TAG, is_liquidation_fill, liquidation_client_order_id

PERPS = {
    "BINANCE": "BTCUSDT-PERP.BINANCE",
    "BYBIT": "BTCUSDT-LINEAR.BYBIT",
    "OKX": "BTC-USDT-SWAP.OKX",
}
LIVE_ACCOUNTS = {"BINANCE": "BINANCE-USDT_FUTURES-master", "BYBIT": "BYBIT-UNIFIED", "OKX": "OKX-master"}
EXTERNAL = StrategyId("EXTERNAL")
OURS = StrategyId("BtcBasis-000")


def _order_and_fill(
    venue: str, client_order_id: str, strategy_id: StrategyId, tags: list[str] | None
) -> tuple[MarketOrder, OrderFilled]:
    instrument_id = InstrumentId.from_str(PERPS[venue])
    order = MarketOrder(
        TraderId("TRADER-001"),
        strategy_id,
        instrument_id,
        ClientOrderId(client_order_id),
        OrderSide.BUY,
        Quantity.from_str("0.100"),
        UUID4(),
        0,
        reduce_only=True,
        tags=tags,
    )
    fill = OrderFilled(
        TraderId("TRADER-001"),
        strategy_id,
        instrument_id,
        ClientOrderId(client_order_id),
        VenueOrderId("123456"),
        AccountId(LIVE_ACCOUNTS[venue]),
        TradeId("987654"),
        None,
        OrderSide.BUY,
        OrderType.MARKET,
        Quantity.from_str("0.100"),
        Price.from_str("65000.0"),
        USDT,
        Money(3.25, USDT),
        LiquiditySide.TAKER,
        UUID4(),
        1,
        1,
    )
    return order, fill


@pytest.mark.parametrize("client_order_id", ["autoclose-1730228400000123", "adl_autoclose"])
def test_binance_liquidation_and_adl_ids_are_recognised(client_order_id):
    order, fill = _order_and_fill("BINANCE", client_order_id, EXTERNAL, [VENUE_TAG])
    assert is_liquidation_fill(fill, order)
    assert is_liquidation_fill(fill, None)  # the id alone says it


@pytest.mark.parametrize(
    ("client_order_id", "strategy_id", "tags"),
    [
        ("O-20240601-120000-001-000-1", OURS, None),  # the strategy's own order
        ("settlement_autoclose-1730228400000", EXTERNAL, [VENUE_TAG]),  # a delisting settlement
        ("web_4f1c2d", EXTERNAL, [VENUE_TAG]),  # a manual order from the venue's web page
    ],
)
def test_other_binance_fills_are_not_liquidations(client_order_id, strategy_id, tags):
    order, fill = _order_and_fill("BINANCE", client_order_id, strategy_id, tags)
    assert not is_liquidation_fill(fill, order)


@pytest.mark.parametrize("venue", ["BYBIT", "OKX"])
def test_a_venue_originated_fill_is_a_liquidation_on_bybit_and_okx(venue):
    order, fill = _order_and_fill(venue, str(UUID4()), EXTERNAL, [VENUE_TAG])
    assert is_liquidation_fill(fill, order)


@pytest.mark.parametrize("venue", ["BYBIT", "OKX"])
def test_an_ordinary_fill_is_not_a_liquidation_on_bybit_and_okx(venue):
    order, fill = _order_and_fill(venue, "O-20240601-120000-001-000-1", OURS, None)
    assert not is_liquidation_fill(fill, order)
    assert not is_liquidation_fill(fill, None)  # without the order nothing marks it


@pytest.mark.parametrize("venue", ["BINANCE", "BYBIT", "OKX"])
def test_the_simulation_ids_are_recognised_deterministic_and_unique(venue):
    client_order_id = liquidation_client_order_id(venue, 1_730_228_400_000_000_000)
    order, fill = _order_and_fill(venue, client_order_id.value, OURS, [VENUE_TAG])
    assert is_liquidation_fill(fill, order)
    assert client_order_id == liquidation_client_order_id(venue, 1_730_228_400_000_000_000)
    assert client_order_id != liquidation_client_order_id(venue, 1_730_232_000_000_000_000)
