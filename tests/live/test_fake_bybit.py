"""Nautilus' real Bybit data and execution clients (as ``plan_live`` builds them from a venue YAML
whose ``live.BYBIT`` points at the fake, testnet environment: orders over the trade stream) in a
``TradingNode``, against the fake Bybit replaying 2024-06-01 from 05:00 UTC
(``tests/live/fake_venue_scenario.py`` has the session and what it checks).

Bybit specifics: bars are stamped on close (``bars_timestamp_on_close``); the perp is sized in BTC;
a refusal is a ``retCode`` on the ``order.create`` reply (110007 for insufficient balance); the
clients connect to four WebSockets (public spot, public linear, private, trade). Funding arrives
as a wallet update only: Bybit also reports it in the execution stream (``execType: Funding``),
which the fake does not send. The execution client's ``/v5/user/query-api`` (market-maker level)
is not served: the adapter logs a warning and goes on.
"""

from __future__ import annotations

import pandas as pd
import pytest
from nautilus_trader.model.identifiers import InstrumentId

from fakevenues.bybit import FakeBybit
from tests.live.fake_venue_scenario import CAPITAL, START, VenueCase, run_session

KEY, SECRET = "FAKE-BYBIT-KEY-7f3a", "FAKE-BYBIT-SECRET-91c2"
BYBIT = VenueCase(
    venue="BYBIT",
    spot=InstrumentId.from_str("BTCUSDT-SPOT.BYBIT"),
    perp=InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT"),
    account_id="BYBIT-UNIFIED",
    bar_stamp=pd.Timedelta(0),
    rejection_code=("retCode", 110007),
    ws_paths=("/v5/public/linear", "/v5/public/spot", "/v5/private", "/v5/trade"),
)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("BYBIT_TESTNET_API_KEY", KEY)
    monkeypatch.setenv("BYBIT_TESTNET_API_SECRET", SECRET)


def test_nautilus_bybit_clients_trade_against_the_fake_bybit(catalog_dir, tmp_path, keys):
    fake = FakeBybit(catalog_dir, START, hours=6, api_key=KEY, balances={"USDT": CAPITAL})
    run_session(BYBIT, fake, tmp_path)
    assert [r["args"]["side"] for r in fake.rejections] == ["Sell"]
    assert {o.status for o in fake.account.orders.values()} == {"FILLED", "REJECTED"}
