"""Nautilus' real OKX data and execution clients (as ``plan_live`` builds them from a venue YAML
whose ``live.OKX`` points at the fake; testnet means OKX demo trading) in a ``TradingNode``, against
the fake OKX replaying 2024-06-01 from 05:00 UTC (``tests/live/fake_venue_scenario.py`` has the
session and what it checks).

OKX specifics: Nautilus 1.231 stamps OKX bars at their OPEN (``ts_event`` = the candle's ``ts``;
the OKX data client has no ``bars_timestamp_on_close``): the bar closing at 06:00 would arrive
stamped 05:00, where the backtest and Bybit stamp it 06:00; the project's OKX data client
(``live/okx_data.py``) stamps it at its close, streamed and requested, which the session checks.
The swap is sized in contracts of 0.01 BTC (``ctVal``); orders go over the private
WebSocket (``op: order``, instruments named by ``instIdCode``) and a refusal is an ``sCode`` in its
reply (51008 for insufficient balance); the business stream (candles) is derived from the public
URL by Nautilus. OKX streams a market order's ``orders`` record twice, ``live`` then ``filled``,
back to back: Nautilus 1.231 then emits ``OrderAccepted`` twice before ``OrderFilled`` (the order
still ends filled once). The clients connect to three WebSocket paths (public, business, private).
"""

from __future__ import annotations

import asyncio

import pytest
from nautilus_trader.core import nautilus_pyo3
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import instruments_from_pyo3

from fakevenues.okx import FakeOKX
from tests.live.fake_venue_scenario import (
    CAPITAL,
    START,
    VenueCase,
    assert_parsed_as_the_project_defines,
    run_restart,
    run_session,
)

KEY, SECRET, PASSPHRASE = "FAKE-OKX-KEY-3b8e", "FAKE-OKX-SECRET-c471", "FAKE-OKX-PASS-52d0"
OKX = VenueCase(
    venue="OKX",
    spot=InstrumentId.from_str("BTC-USDT.OKX"),
    perp=InstrumentId.from_str("BTC-USDT-SWAP.OKX"),
    account_id="OKX-master",
    rejection_code=("sCode", "51008"),
    ws_paths=("/ws/v5/public", "/ws/v5/business", "/ws/v5/private"),
    accepted_events=2,
)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("OKX_API_KEY", KEY)
    monkeypatch.setenv("OKX_API_SECRET", SECRET)
    monkeypatch.setenv("OKX_API_PASSPHRASE", PASSPHRASE)


@pytest.mark.fresh_process  # a live node (see tests/conftest.py)
def test_nautilus_okx_clients_trade_against_the_fake_okx(catalog_dir, tmp_path, keys):
    fake = FakeOKX(
        catalog_dir, START, hours=6, api_key=KEY, passphrase=PASSPHRASE, balances={"USDT": CAPITAL}
    )
    run_session(OKX, fake, tmp_path)
    assert [r["args"]["side"] for r in fake.rejections] == ["sell"]
    assert {o.status for o in fake.account.orders.values()} == {"FILLED", "REJECTED"}


@pytest.mark.fresh_process  # a live node (see tests/conftest.py)
def test_a_node_starting_on_a_traded_okx_account_rebuilds_its_orders_and_position(
    catalog_dir, tmp_path, keys
):
    fake = FakeOKX(
        catalog_dir, START, hours=6, api_key=KEY, passphrase=PASSPHRASE, balances={"USDT": CAPITAL}
    )
    run_restart(OKX, fake, tmp_path)


def test_nautilus_parses_the_fake_okx_instruments_as_the_venue_yaml_defines_them(catalog_dir):
    fake = FakeOKX(catalog_dir, START, hours=1, api_key=KEY, passphrase=PASSPHRASE, balances={})

    async def listed() -> list:
        await fake.start()
        try:
            client = nautilus_pyo3.OKXHttpClient(
                api_key=KEY, api_secret=SECRET, api_passphrase=PASSPHRASE, base_url=fake.server.http_url
            )
            kinds = (nautilus_pyo3.OKXInstrumentType.SPOT, nautilus_pyo3.OKXInstrumentType.SWAP)
            return [i for k in kinds for i in (await client.request_instruments(k))[0]]
        finally:
            await fake.stop()

    assert_parsed_as_the_project_defines("OKX", instruments_from_pyo3(asyncio.run(listed())))
