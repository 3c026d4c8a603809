"""One trading session of a venue's real Nautilus clients against its fake, checked step by step
against numbers computed here from the recorded history and the venue YAML (not from the fake's
messages): the per-venue test modules give the venue's facts as a :class:`VenueCase`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from nautilus_trader.model.data import Bar, BarType, FundingRateUpdate
from nautilus_trader.model.enums import OrderSide, PositionSide
from nautilus_trader.model.events import AccountState, OrderFilled, OrderRejected
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Currency

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import venue_instruments
from fakevenues._shared_bybit_okx import HOUR, FakeVenueServer, RecordedMarket, UnifiedAccount
from live.environments import LiveEnv
from tests.live.fake_venue_node import Recorder, RecorderConfig, build_node, planned_venue, shut_down, until
from tests.live.venue_configs import venue_config_dir

START = pd.Timestamp("2024-06-01 05:00", tz="UTC")
"""The session replays 2024-06-01 from 05:00 UTC: the 08:00 funding mark is three steps away."""
CAPITAL = Decimal(100_000)
USDT = Currency.from_str("USDT")
BTC = Currency.from_str("BTC")
BTC_TRADED = Decimal("0.01")
"""BTC bought spot and sold on the perp (in contracts: divided by the perp's multiplier)."""


class FakeVenue(Protocol):
    market: RecordedMarket
    account: UnifiedAccount
    server: FakeVenueServer
    rejections: list[dict[str, Any]]

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def step(self) -> pd.Timestamp: ...
    def endpoints(self) -> dict[str, str]: ...
    def subscriptions(self, path: str) -> set[Any]: ...


@dataclass(frozen=True)
class VenueCase:
    """What differs between venues in the session."""

    venue: str
    spot: InstrumentId
    perp: InstrumentId
    account_id: str
    rejection_code: tuple[str, Any]
    """The fake's record of the refused order: (field, venue code)."""
    ws_paths: tuple[str, ...]
    """Every WebSocket path the clients connect to (each is dropped once)."""
    rejection_reason: str = "insufficient USDT"
    """What the ``OrderRejected`` reason contains."""
    accepted_events: int = 1
    """How many ``OrderAccepted`` the adapter may emit for one market order."""


def _total(state: AccountState, currency: Currency) -> Decimal:
    return next(b.total.as_decimal() for b in state.balances if b.currency == currency)


async def _reported(recorder: Recorder, usdt: Decimal, what: str) -> AccountState:
    """The first account state the venue reported with ``usdt`` USDT (to Nautilus' 8 decimals).

    Matched by value, not position: the adapter republishes unchanged states, in an order that
    varies with the load."""

    def found() -> AccountState | None:
        return next(
            (
                s
                for s in recorder.account_states
                if s.is_reported and abs(_total(s, USDT) - usdt) <= Decimal("1e-8")
            ),
            None,
        )

    await until(what, lambda: found() is not None)
    state = found()
    assert state is not None
    return state


def run_session(case: VenueCase, fake: FakeVenue, tmp_path: Path, env: LiveEnv = LiveEnv.TESTNET) -> None:
    """Start the fake, a node with the venue's clients as ``plan_live`` builds them for ``env`` from
    a venue YAML pointing at it, run :func:`_session` and shut everything down."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(fake.start())
    venue = planned_venue(case.venue, venue_config_dir(tmp_path, {case.venue: fake.endpoints()}), env)
    recorder = Recorder(
        RecorderConfig(
            bar_types=tuple(f"{i}-1-HOUR-LAST-EXTERNAL" for i in (case.spot, case.perp)),
            funding_ids=(str(case.perp),),
            account_id=str(venue.account_id),
        )
    )
    node = build_node(venue, recorder, loop)
    try:
        loop.run_until_complete(asyncio.wait_for(_session(case, fake, node, recorder), 90))
    finally:
        shut_down(node, loop, fake.stop)


async def _session(case: VenueCase, fake: FakeVenue, node, recorder: Recorder) -> None:
    cache, market = node.kernel.cache, fake.market
    specs = {i: spec for i, (spec, _) in venue_instruments(load_cex_venue(case.venue)).items()}
    spot_spec, perp_spec = specs[case.spot], specs[case.perp]
    contracts = BTC_TRADED / Decimal(perp_spec.multiplier)
    await node.kernel.start_async()
    assert node.kernel.trader.is_running

    # connect and instruments: the project's ids, the YAML's fees and contract size
    assert sorted(str(i.id) for i in cache.instruments()) == sorted([str(case.spot), str(case.perp)])
    for instrument_id, spec in ((case.spot, spot_spec), (case.perp, perp_spec)):
        instrument = cache.instrument(instrument_id)
        assert (instrument.maker_fee, instrument.taker_fee) == (
            Decimal(spec.maker_fee),
            Decimal(spec.taker_fee),
        )
    assert cache.instrument(case.perp).multiplier.as_decimal() == Decimal(perp_spec.multiplier)
    # the account as the venue keeps it
    await until("the first account state", lambda: cache.account_for_venue(case.perp.venue) is not None)
    account = cache.account_for_venue(case.perp.venue)
    assert str(account.id) == case.account_id
    assert account.balance_total(USDT).as_decimal() == CAPITAL

    # funding: the current rate on subscribing (the one recorded at 00:00), next settled at 08:00
    await until("a funding rate", lambda: recorder.funding)
    funding = recorder.funding[0]
    assert funding.instrument_id == case.perp
    assert Decimal(str(funding.rate)) == market.funding_rate(case.perp)
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
        assert bar.ts_event == six.value, pd.Timestamp(bar.ts_event, tz="UTC")

    # history over REST: the klines closed so far and the recorded funding rates
    perp_bars = BarType.from_str(f"{case.perp}-1-HOUR-LAST-EXTERNAL")
    recorder.request_bars(perp_bars, (START - 4 * HOUR).to_pydatetime(), six.to_pydatetime())
    recorder.request_funding_rates(case.perp, (START - 8 * HOUR).to_pydatetime(), six.to_pydatetime())
    await until("the requested history", lambda: len(recorder.historical) == 3)
    bars = sorted((d for d in recorder.historical if isinstance(d, Bar)), key=lambda b: b.ts_event)
    assert [(b.ts_event, b.close) for b in bars] == [
        (b_ts.value, market.bar(case.perp, b_ts).close) for b_ts in (START, six)
    ]
    (history,) = [d for d in recorder.historical if isinstance(d, FundingRateUpdate)]
    assert history.ts_event == pd.Timestamp("2024-06-01", tz="UTC").value
    assert Decimal(str(history.rate)) == market.funding_rate(case.perp)

    # mark prices: the recorded price of the hour (the fake marks at the bar's close)
    await until("the 06:00 mark price", lambda: recorder.marks and recorder.marks[-1].ts_event >= six.value)
    assert recorder.marks[-1].instrument_id == case.perp
    assert recorder.marks[-1].value.as_decimal() == market.price(case.perp)

    # submit -> accepted -> filled at the recorded close, with the YAML's taker fee
    buy = recorder.market(case.spot, OrderSide.BUY, BTC_TRADED)
    short = recorder.market(case.perp, OrderSide.SELL, contracts)
    for order_id in (buy, short):
        await until(f"{order_id} filled", lambda o=order_id: "OrderFilled" in recorder.events_of(o))
        events = recorder.events_of(order_id)
        assert list(dict.fromkeys(events)) == [
            "OrderInitialized",
            "OrderSubmitted",
            "OrderAccepted",
            "OrderFilled",
        ]
        assert events.count("OrderAccepted") <= case.accepted_events, events
    fills = {e.instrument_id: e for e in recorder.order_events if isinstance(e, OrderFilled)}
    spot_px, perp_px = market.price(case.spot), market.price(case.perp)
    assert spot_px == market.bar(case.spot, six).close.as_decimal()
    assert fills[case.spot].last_px.as_decimal() == spot_px
    assert fills[case.perp].last_px.as_decimal() == perp_px
    assert fills[case.perp].last_qty.as_decimal() == contracts
    spot_fee = BTC_TRADED * spot_px * Decimal(spot_spec.taker_fee)
    perp_fee = BTC_TRADED * perp_px * Decimal(perp_spec.taker_fee)
    assert fills[case.spot].commission.as_decimal() == round(spot_fee, 8)
    assert fills[case.perp].commission.as_decimal() == round(perp_fee, 8)

    # account balances (as the venue reports them) and the perp position
    usdt_after = CAPITAL - BTC_TRADED * spot_px - spot_fee - perp_fee
    after_fills = await _reported(recorder, usdt_after, "the balances after the fills")
    assert _total(after_fills, BTC) == BTC_TRADED
    (position,) = cache.positions_open(instrument_id=case.perp)
    assert position.side == PositionSide.SHORT and position.quantity.as_decimal() == contracts
    assert Decimal(str(position.avg_px_open)).quantize(perp_px) == perp_px

    # a funding payment at 08:00: the short receives BTC x mark x rate, a balance change
    await fake.step()
    await fake.step()
    rate, mark = market.funding_rate(case.perp), market.price(case.perp)
    paid = BTC_TRADED * mark * rate
    assert paid > 0  # the recorded rate is positive: the short is paid
    after_funding = await _reported(recorder, usdt_after + paid, "the balance after the funding payment")
    assert _total(after_funding, BTC) == BTC_TRADED
    sixteen = pd.Timestamp("2024-06-01 16:00", tz="UTC").value
    await until("the next funding rate", lambda: recorder.funding[-1].next_funding_ns == sixteen)

    # a rejected order: more than the margin the account holds
    too_big = recorder.market(case.perp, OrderSide.SELL, contracts * 90_000)
    # (20 s: when the adapter waits for reconciliation, Nautilus queries the order twice first)
    await until("the rejection", lambda: "OrderRejected" in recorder.events_of(too_big), timeout=20)
    rejected = next(
        e for e in recorder.order_events if e.client_order_id == too_big and isinstance(e, OrderRejected)
    )
    assert case.rejection_reason in rejected.reason
    field, code = case.rejection_code
    assert fake.rejections[-1][field] == code

    # dropped WebSockets: the clients reconnect and resubscribe, data keeps coming, orders fill
    for path in case.ws_paths:
        connected, subscribed = fake.server.connections[path], fake.subscriptions(path)
        dropped = await fake.server.drop(path)
        assert dropped >= 1
        await until(
            f"the reconnect to {path}", lambda p=path, c=connected + dropped: fake.server.connections[p] >= c
        )
        await until(
            f"the subscriptions on {path} again", lambda p=path, s=subscribed: fake.subscriptions(p) == s
        )
    bars = len(recorder.bars)
    nine = await fake.step()
    await until("bars after the reconnect", lambda: len(recorder.bars) == bars + 2)
    assert {b.ts_event for b in recorder.bars[bars:]} == {nine.value}
    close = recorder.market(case.perp, OrderSide.BUY, contracts)
    await until("a fill after the reconnect", lambda: "OrderFilled" in recorder.events_of(close))
    await until("the position closed", lambda: not cache.positions_open(instrument_id=case.perp))


def run_restart(case: VenueCase, fake: FakeVenue, tmp_path: Path) -> None:
    """A node starting against an account that already traded (an earlier run's orders): it must
    rebuild the venue's orders, fills and perp position from the venue's reports alone."""
    perp_spec = next(
        s for i, (s, _) in venue_instruments(load_cex_venue(case.venue)).items() if i == case.perp
    )
    contracts = BTC_TRADED / Decimal(perp_spec.multiplier)
    earlier = {
        "O-20240601-050000-001-000-1": (case.spot, "BUY", BTC_TRADED),
        "O-20240601-050000-001-000-2": (case.perp, "SELL", contracts),
    }
    for client_order_id, (instrument_id, side, qty) in earlier.items():
        fake.account.submit_market(instrument_id, side, qty, client_order_id)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(fake.start())
    venue = planned_venue(case.venue, venue_config_dir(tmp_path, {case.venue: fake.endpoints()}))
    recorder = Recorder(RecorderConfig(bar_types=(), funding_ids=(), account_id=str(venue.account_id)))
    node = build_node(venue, recorder, loop)
    try:
        loop.run_until_complete(asyncio.wait_for(_restart(case, fake, node, earlier), 30))
    finally:
        shut_down(node, loop, fake.stop)


async def _restart(case: VenueCase, fake: FakeVenue, node, earlier: dict[str, tuple]) -> None:
    cache = node.kernel.cache
    await node.kernel.start_async()
    assert node.kernel.trader.is_running  # reconciliation passed
    venue_orders = {o.client_order_id: o for o in fake.account.orders.values()}
    for client_order_id, (instrument_id, side, qty) in earlier.items():
        (order,) = [
            o
            for o in cache.orders(instrument_id=instrument_id)
            if o.venue_order_id.value == venue_orders[client_order_id].order_id
        ]
        assert order.status_string() == "FILLED" and order.side_string() == side
        assert order.filled_qty.as_decimal() == qty
        assert order.avg_px == float(venue_orders[client_order_id].avg_price)
    (position,) = cache.positions_open(instrument_id=case.perp)
    assert position.side == PositionSide.SHORT
    assert position.quantity.as_decimal() == earlier["O-20240601-050000-001-000-2"][2]
    account = cache.account_for_venue(case.perp.venue)
    assert account.balance_total(USDT).as_decimal() == round(fake.account.balances["USDT"], 8)
    assert account.balance_total(BTC).as_decimal() == BTC_TRADED


def assert_parsed_as_the_project_defines(venue: str, parsed: list[Instrument]) -> None:
    """Nautilus' parse of a fake's instrument list is the venue YAML's instruments: the same ids,
    increments, contract size and fees."""
    project = {i: instrument for i, (_, instrument) in venue_instruments(load_cex_venue(venue)).items()}
    assert sorted(str(i.id) for i in parsed) == sorted(map(str, project))
    for instrument in parsed:
        expected = project[instrument.id]
        fields = (
            "price_increment",
            "size_increment",
            "multiplier",
            "maker_fee",
            "taker_fee",
            "quote_currency",
        )
        assert {f: getattr(instrument, f) for f in fields} == {f: getattr(expected, f) for f in fields}
