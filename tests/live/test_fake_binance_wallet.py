"""The fake Binance's USDT-M algo orders and its wallet, without a node: what Nautilus 1.231 sends a
stop-loss through (``/fapi/v1/algoOrder``) and what ccxt's ``transfer`` reaches (a spot fake linked
to a USDT-M fake). The end-to-end tests (``test_e2e_fake_venues.py``) use both with a node; here
are the paths a node does not take on the replayed hours: an algo order canceled, a transfer
refused, the way back to spot."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import ccxt
import pandas as pd
import pytest

from fakevenues.binance import BinanceAccount, FakeBinance
from fakevenues.market import HOUR_NS, RecordedPrices, VenueMarket, listed_instruments
from live.environments import LiveEnv
from live.transfers.exchanges import build_exchange

API_KEY = "fake-wallet-key"
START = pd.Timestamp("2024-06-01 04:00", tz="UTC").value


def _fake(account: BinanceAccount, catalog_dir: Path, balances: dict[str, str]) -> FakeBinance:
    listed = [
        i for i in listed_instruments("BINANCE") if i.spec.kind == account.kind and i.spec.base == "BTC"
    ]
    prices = RecordedPrices.from_catalog(catalog_dir, [i.id for i in listed], START - 2 * HOUR_NS, START)
    market = VenueMarket(listed, prices, START, {a: Decimal(v) for a, v in balances.items()})
    return FakeBinance(account, market, API_KEY).start()


def _signed(fake: FakeBinance, method: str, path: str, **params: str):
    query = urllib.parse.urlencode({**params, "timestamp": "1", "signature": "s"})
    request = urllib.request.Request(
        f"{fake.server.http_url}{path}?{query}", headers={"X-MBX-APIKEY": API_KEY}, method=method
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def test_a_stop_market_is_an_algo_order_until_canceled(catalog_dir):
    """A STOP_MARKET order rests in the algo service: listed by openAlgoOrders, not by the regular
    openOrders; canceled through algoOrder; refused on the regular order route (Binance -1116 here,
    -4120 on Binance) and when its trigger is already reached (-2021)."""
    fake = _fake(BinanceAccount.USDT_FUTURES, catalog_dir, {"USDT": "10000"})
    try:
        price = fake.read(lambda m: m.price(next(iter(m.instruments))))
        _signed(fake, "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
        stop = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01"}
        placed = _signed(
            fake,
            "POST",
            "/fapi/v1/algoOrder",
            **stop,
            algoType="CONDITIONAL",
            triggerPrice=str(price - 1000),
            reduceOnly="true",
            clientAlgoId="sl-1",
        )
        assert (placed["clientAlgoId"], placed["algoStatus"]) == ("sl-1", "NEW")
        assert [o["clientAlgoId"] for o in _signed(fake, "GET", "/fapi/v1/openAlgoOrders")] == ["sl-1"]
        assert _signed(fake, "GET", "/fapi/v1/openOrders") == []
        canceled = _signed(fake, "DELETE", "/fapi/v1/algoOrder", algoId=str(placed["algoId"]))
        assert canceled["clientAlgoId"] == "sl-1"
        assert _signed(fake, "GET", "/fapi/v1/openAlgoOrders") == []
        assert _signed(fake, "GET", "/fapi/v1/allAlgoOrders")[0]["algoStatus"] == "CANCELED"
        for path, extra, code in (
            ("/fapi/v1/order", {"stopPrice": str(price - 1000)}, -1116),
            ("/fapi/v1/algoOrder", {"algoType": "CONDITIONAL", "triggerPrice": str(price + 1)}, -2021),
        ):
            with pytest.raises(urllib.error.HTTPError) as error:
                _signed(fake, "POST", path, **stop, **extra)
            assert json.loads(error.value.read())["code"] == code
    finally:
        fake.stop()


def test_ccxt_moves_usdt_between_the_linked_spot_and_usdt_m_accounts(catalog_dir, monkeypatch):
    """ccxt's binance client on the spot fake (its only host) loads the markets and transfers: spot
    → USDT-M and back, each balance moved by the amount; more than the spot account holds is
    refused and moves nothing."""
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", "fake-wallet-secret")
    spot = _fake(BinanceAccount.SPOT, catalog_dir, {"USDT": "1000"})
    futures = _fake(BinanceAccount.USDT_FUTURES, catalog_dir, {})
    spot.link_futures(futures)

    async def transfers() -> None:
        client = build_exchange("BINANCE", LiveEnv.MAINNET, base_url=spot.server.http_url)
        try:
            await client.transfer("USDT", 400.5, "spot", "linear")
            await client.transfer("USDT", 100, "linear", "spot")
            with pytest.raises(ccxt.BaseError, match="-5013"):
                await client.transfer("USDT", 5000, "spot", "linear")
            history = await client.fetch_transfers("USDT", None, None, {"type": "MAIN_UMFUTURE"})
            assert [t["amount"] for t in history] == [400.5]
        finally:
            await client.close()

    try:
        asyncio.run(transfers())
        assert spot.read(lambda m: m.balance("USDT").total) == Decimal("699.5")
        assert futures.read(lambda m: m.balance("USDT").total) == Decimal("300.5")
        assert [t["type"] for t in spot.transfers] == ["MAIN_UMFUTURE", "UMFUTURE_MAIN"]
    finally:
        spot.stop()
        futures.stop()
