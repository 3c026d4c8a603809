"""The backtest's instrument ids are the ones Nautilus' live adapters produce, so a strategy config
is the same in both worlds (Binance's are checked against the adapter's own symbol parser)."""

from __future__ import annotations

import pytest
from nautilus_trader.adapters.binance.common.enums import BinanceAccountType
from nautilus_trader.adapters.binance.common.symbol import BinanceSymbol

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import venue_instruments

ACCOUNT_TYPES = {
    "spot": BinanceAccountType.SPOT,
    "perp": BinanceAccountType.USDT_FUTURES,
    "inverse": BinanceAccountType.COIN_FUTURES,
}


def test_binance_ids_are_the_adapters_parse_of_the_raw_symbols():
    config = load_cex_venue("BINANCE")
    instruments = venue_instruments(config)
    kinds = {spec.kind for spec in config.instruments}
    assert kinds == set(ACCOUNT_TYPES)  # spot, USDT-M and COIN-M all checked
    for instrument_id, (spec, instrument) in instruments.items():
        parsed = BinanceSymbol(instrument.raw_symbol.value).parse_as_nautilus(ACCOUNT_TYPES[spec.kind])
        assert instrument_id.symbol.value == parsed, spec


@pytest.mark.parametrize(
    ("venue", "expected"),
    [
        (
            "BYBIT",
            {"BTCUSDT-SPOT.BYBIT", "BTCUSDT-LINEAR.BYBIT", "ETHUSDT-SPOT.BYBIT", "ETHUSDT-LINEAR.BYBIT"},
        ),
        ("OKX", {"BTC-USDT.OKX", "BTC-USDT-SWAP.OKX", "ETH-USDT.OKX", "ETH-USDT-SWAP.OKX"}),
    ],
)
def test_bybit_and_okx_ids_follow_their_adapters_product_suffixes(venue, expected):
    assert {str(i) for i in venue_instruments(load_cex_venue(venue))} == expected
