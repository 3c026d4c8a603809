"""Nautilus' real Bybit data and execution clients (as ``plan_live`` builds them from a venue YAML
whose ``live.BYBIT`` points at the fake) in a ``TradingNode``, against the fake Bybit serving the
recorded history of 2024-06-01 from 05:00 UTC.

Checked end to end: instruments load with the project's ids and the YAML's fees; hourly bars equal
the recorded ones; the ticker's funding rate arrives as a ``FundingRateUpdate``; market orders on
spot and the linear perp are accepted and filled at the recorded close with the YAML taker fee;
the account's balances and the perp position follow; the 08:00 funding is paid into the USDT
balance (an account state change); an order the venue refuses becomes ``OrderRejected``; after the
venue drops the public, private and trade WebSockets the clients reconnect, bars keep arriving and
orders keep filling.

Funding arrives as a wallet update only: Bybit also reports it in the execution stream
(``execType: Funding``), which the fake does not send.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pandas as pd
import pytest
from nautilus_trader.model.enums import OrderSide, PositionSide
from nautilus_trader.model.events import AccountState
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Currency

from adapters.cex.config import load_cex_venue
from fakevenues.bybit import FakeBybit
from tests.live.fake_venue_node import Recorder, RecorderConfig, build_node, planned_venue, shut_down, until
from tests.live.venue_configs import venue_config_dir

START = pd.Timestamp("2024-06-01 05:00", tz="UTC")
KEY, SECRET = "FAKE-BYBIT-KEY-7f3a", "FAKE-BYBIT-SECRET-91c2"
SPOT = InstrumentId.from_str("BTCUSDT-SPOT.BYBIT")
PERP = InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT")
USDT = Currency.from_str("USDT")
BTC = Currency.from_str("BTC")


def _yaml_fees() -> dict[str, tuple[Decimal, Decimal]]:
    return {
        kind: (Decimal(s.maker_fee), Decimal(s.taker_fee))
        for s in load_cex_venue("BYBIT").instruments
        if s.base == "BTC"
        for kind in [s.kind]
    }


def _total(state: AccountState, currency: Currency) -> Decimal:
    return next(b.total.as_decimal() for b in state.balances if b.currency == currency)


def _usdt(state: AccountState) -> Decimal:
    return _total(state, USDT)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("BYBIT_TESTNET_API_KEY", KEY)
    monkeypatch.setenv("BYBIT_TESTNET_API_SECRET", SECRET)


def test_nautilus_bybit_clients_trade_against_the_fake_bybit(catalog_dir, tmp_path, keys):
    loop = asyncio.new_event_loop()
    fake = FakeBybit(catalog_dir, START, hours=6, api_key=KEY, balances={"USDT": Decimal(100_000)})
    loop.run_until_complete(fake.start())
    venue = planned_venue("BYBIT", venue_config_dir(tmp_path, {"BYBIT": fake.endpoints()}))
    recorder = Recorder(
        RecorderConfig(
            bar_types=tuple(f"{i}-1-HOUR-LAST-EXTERNAL" for i in (SPOT, PERP)),
            funding_ids=(str(PERP),),
            account_id=str(venue.account_id),
        )
    )
    node = build_node(venue, recorder, loop)
    try:
        loop.run_until_complete(asyncio.wait_for(_scenario(fake, node, recorder), 50))
    finally:
        shut_down(node, loop, fake.stop)


async def _scenario(fake: FakeBybit, node, recorder: Recorder) -> None:
    cache, market = node.kernel.cache, fake.market
    await node.kernel.start_async()
    assert node.kernel.trader.is_running

    # connect and instruments: the project's ids, the YAML's fees
    fees = _yaml_fees()
    assert sorted(str(i.id) for i in cache.instruments()) == [str(PERP), str(SPOT)]
    for instrument_id, kind in ((SPOT, "spot"), (PERP, "perp")):
        instrument = cache.instrument(instrument_id)
        assert (instrument.maker_fee, instrument.taker_fee) == fees[kind]
    # the account as the venue keeps it
    await until(
        "the first account state", lambda: recorder.account_states or cache.account_for_venue(PERP.venue)
    )
    account = cache.account_for_venue(PERP.venue)
    assert str(account.id) == "BYBIT-UNIFIED"
    assert account.balance_total(USDT).as_decimal() == Decimal(100_000)

    # funding: the ticker's rate on subscribing (the rate recorded at 00:00, next at 08:00)
    await until("a funding rate", lambda: recorder.funding)
    funding = recorder.funding[0]
    assert funding.instrument_id == PERP
    assert Decimal(str(funding.rate)) == market.funding_rate(PERP)
    assert funding.next_funding_ns == pd.Timestamp("2024-06-01 08:00", tz="UTC").value

    # bars: one per instrument per hour, equal to the recorded bars
    six = await fake.step()
    await until("the 06:00 bars", lambda: len(recorder.bars) == 2)
    for bar in recorder.bars:
        recorded = market.bar(bar.bar_type.instrument_id, six)
        assert (bar.open, bar.high, bar.low, bar.close) == (
            recorded.open,
            recorded.high,
            recorded.low,
            recorded.close,
        )
        assert bar.ts_event == six.value  # stamped on close

    # submit -> accepted -> filled at the recorded close, taker fee of the YAML
    buy = recorder.market(SPOT, OrderSide.BUY, "0.010000")
    short = recorder.market(PERP, OrderSide.SELL, "0.010")
    for order_id in (buy, short):
        await until(f"{order_id} filled", lambda o=order_id: "OrderFilled" in recorder.events_of(o))
        assert recorder.events_of(order_id) == [
            "OrderInitialized",
            "OrderSubmitted",
            "OrderAccepted",
            "OrderFilled",
        ], recorder.events_of(order_id)
    fills = {e.instrument_id: e for e in recorder.order_events if type(e).__name__ == "OrderFilled"}
    spot_px, perp_px = market.price(SPOT), market.price(PERP)
    assert fills[SPOT].last_px.as_decimal() == spot_px == market.bar(SPOT, six).close.as_decimal()
    assert fills[PERP].last_px.as_decimal() == perp_px
    spot_fee = Decimal("0.01") * spot_px * fees["spot"][1]
    perp_fee = Decimal("0.01") * perp_px * fees["perp"][1]
    assert fills[SPOT].commission.as_decimal() == round(spot_fee, 8)
    assert fills[PERP].commission.as_decimal() == round(perp_fee, 8)

    # account balances and the perp position
    expected_usdt = Decimal(100_000) - Decimal("0.01") * spot_px - spot_fee - perp_fee
    await until(
        "the wallet after the fills", lambda: _usdt(recorder.account_states[-1]) == round(expected_usdt, 8)
    )
    assert _total(recorder.account_states[-1], BTC) == Decimal("0.01")
    (position,) = cache.positions_open(instrument_id=PERP)
    assert position.side == PositionSide.SHORT and position.quantity.as_decimal() == Decimal("0.010")
    assert position.avg_px_open == pytest.approx(float(perp_px), rel=1e-12)

    # a funding payment at 08:00: the short receives qty x mark x rate, a balance change
    before = _usdt(recorder.account_states[-1])
    states = len(recorder.account_states)
    await fake.step()
    await fake.step()  # 08:00
    rate, mark = market.funding_rate(PERP), market.price(PERP)
    paid = Decimal("0.01") * mark * rate
    await until("the funding balance change", lambda: len(recorder.account_states) > states)
    assert _usdt(recorder.account_states[-1]) - before == round(paid, 8)
    assert fake.account.funding_payments[-1].amount == paid
    await until(
        "the next funding rate",
        lambda: recorder.funding[-1].next_funding_ns == pd.Timestamp("2024-06-01 16:00", tz="UTC").value,
    )

    # a rejected order: more than the margin the account holds
    too_big = recorder.market(PERP, OrderSide.SELL, "900.000")
    await until("the rejection", lambda: "OrderRejected" in recorder.events_of(too_big))
    rejected = next(
        e
        for e in recorder.order_events
        if e.client_order_id == too_big and type(e).__name__ == "OrderRejected"
    )
    assert "insufficient USDT" in rejected.reason
    assert fake.rejections[-1]["retCode"] == 110007

    # dropped WebSockets: the clients reconnect, data keeps arriving, orders keep filling
    for path in ("/v5/public/linear", "/v5/public/spot", "/v5/private", "/v5/trade"):
        connected, topics = fake.server.connections[path], fake.topics(path)
        assert await fake.server.drop(path) == 1
        await until(f"the reconnect to {path}", lambda p=path, c=connected: fake.server.connections[p] > c)
        await until(f"the subscriptions on {path} again", lambda p=path, t=topics: fake.topics(p) == t)
    bars = len(recorder.bars)
    nine = await fake.step()
    await until("bars after the reconnect", lambda: len(recorder.bars) == bars + 2)
    assert {b.ts_event for b in recorder.bars[bars:]} == {nine.value}
    close = recorder.market(PERP, OrderSide.BUY, "0.010")
    await until("a fill after the reconnect", lambda: "OrderFilled" in recorder.events_of(close))
    await until("the position closed", lambda: not cache.positions_open(instrument_id=PERP))
