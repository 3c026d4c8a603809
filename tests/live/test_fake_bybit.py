"""Nautilus' real Bybit data and execution clients (as ``plan_live`` builds them from a venue YAML
whose ``live.BYBIT`` points at the fake) in a ``TradingNode``, on testnet (orders over the trade
stream) and on demo (orders over HTTP ``/v5/order/create``, as Nautilus 1.231 does there), against the fake Bybit replaying 2024-06-01 from 05:00 UTC
(``tests/live/fake_venue_scenario.py`` has the session and what it checks).

Bybit specifics: bars are stamped on close (``bars_timestamp_on_close``); the perp is sized in BTC;
a refusal is a ``retCode`` on the ``order.create`` reply (110007 for insufficient balance); the
clients connect to four WebSockets (public spot, public linear, private, trade). Funding arrives
as a wallet update only: Bybit also reports it in the execution stream (``execType: Funding``),
which the fake does not send. The execution client's ``/v5/user/query-api`` (market-maker level)
is not served: the adapter logs a warning and goes on.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from nautilus_trader.core import nautilus_pyo3
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import instruments_from_pyo3

from fakevenues.bybit import FakeBybit
from live.environments import CREDENTIALS, LiveEnv
from tests.live.fake_venue_scenario import (
    CAPITAL,
    START,
    VenueCase,
    assert_parsed_as_the_project_defines,
    run_restart,
    run_session,
)

KEY, SECRET = "FAKE-BYBIT-KEY-7f3a", "FAKE-BYBIT-SECRET-91c2"
BYBIT = VenueCase(
    venue="BYBIT",
    spot=InstrumentId.from_str("BTCUSDT-SPOT.BYBIT"),
    perp=InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT"),
    account_id="BYBIT-UNIFIED",
    rejection_code=("retCode", 110007),
    ws_paths=("/v5/public/linear", "/v5/public/spot", "/v5/private", "/v5/trade"),
)


@pytest.mark.fresh_process  # a live node (see tests/conftest.py)
@pytest.mark.parametrize("env", [LiveEnv.TESTNET, LiveEnv.DEMO])
def test_nautilus_bybit_clients_trade_against_the_fake_bybit(catalog_dir, tmp_path, monkeypatch, env):
    key_var, secret_var = CREDENTIALS["BYBIT"][env]
    monkeypatch.setenv(key_var, KEY)
    monkeypatch.setenv(secret_var, SECRET)
    fake = FakeBybit(catalog_dir, START, hours=6, api_key=KEY, balances={"USDT": CAPITAL})
    trade_stream = env is not LiveEnv.DEMO  # demo has none: orders go to /v5/order/create
    paths = BYBIT.ws_paths if trade_stream else tuple(p for p in BYBIT.ws_paths if p != "/v5/trade")
    # over HTTP 1.231 does not turn a refusal (retCode) into OrderRejected: the order waits for
    # reconciliation, which finds nothing and rejects it with reason UNKNOWN
    reason = BYBIT.rejection_reason if trade_stream else "UNKNOWN"
    run_session(replace(BYBIT, ws_paths=paths, rejection_reason=reason), fake, tmp_path, env)
    assert ("/v5/trade" in fake.server.connections) == trade_stream
    assert [r["args"]["side"] for r in fake.rejections] == ["Sell"]
    assert {o.status for o in fake.account.orders.values()} == {"FILLED", "REJECTED"}


@pytest.mark.fresh_process  # a live node (see tests/conftest.py)
def test_a_node_starting_on_a_traded_bybit_account_rebuilds_its_orders_and_position(
    catalog_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("BYBIT_TESTNET_API_KEY", KEY)
    monkeypatch.setenv("BYBIT_TESTNET_API_SECRET", SECRET)
    fake = FakeBybit(catalog_dir, START, hours=6, api_key=KEY, balances={"USDT": CAPITAL})
    run_restart(BYBIT, fake, tmp_path)


def test_nautilus_parses_the_fake_bybit_instruments_as_the_venue_yaml_defines_them(catalog_dir):
    fake = FakeBybit(catalog_dir, START, hours=1, api_key=KEY, balances={})

    async def listed() -> list:
        await fake.start()
        try:
            client = nautilus_pyo3.BybitHttpClient(
                api_key=KEY, api_secret=SECRET, base_url=fake.server.http_url
            )
            products = (nautilus_pyo3.BybitProductType.SPOT, nautilus_pyo3.BybitProductType.LINEAR)
            return [i for p in products for i in await client.request_instruments(p)]
        finally:
            await fake.stop()

    assert_parsed_as_the_project_defines("BYBIT", instruments_from_pyo3(asyncio.run(listed())))
