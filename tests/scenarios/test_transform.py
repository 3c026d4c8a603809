"""Each transformation on small synthetic data: exactly the series and hours it names change, by
the amounts worked out here from the recorded values."""

from __future__ import annotations

import math
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import pytest
from nautilus_trader.common.component import TestClock
from nautilus_trader.model.data import Bar, BarType, CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity

from adapters.cex.pre_trade import PreTradeChecks
from adapters.config import ConfigError
from adapters.defi.data import AaveReserveSnapshot, GasPrice
from adapters.hours import DAY_NS, HOUR_NS
from backtesting.engine import RunData
from scenarios.config import (
    BorrowRateSpike,
    FundingInversion,
    GasSpike,
    LstDepeg,
    PriceCrash,
    Scenario,
    ScenarioFile,
    VenueOutage,
)
from scenarios.transform import Market, outages, stress

T0 = pd.Timestamp("2025-03-01", tz="UTC").value
"""The scenario's start in every test."""
BINANCE_STAMP = HOUR_NS - 1_000_000
"""Binance closes its hourly klines at …:59:59.999."""
POOL, RATE = InstrumentId.from_str("WSTETHETH-UNIV3.ETHEREUM"), InstrumentId.from_str("WSTETH-LIDO.ETHEREUM")
ETH_PERP, BTC_PERP = (
    InstrumentId.from_str("ETHUSDT-PERP.BINANCE"),
    InstrumentId.from_str("BTCUSDT-PERP.BINANCE"),
)
ETH_POOL, ETH_SPOT = (
    InstrumentId.from_str("ETHUSDT-UNIV3.ETHEREUM"),
    InstrumentId.from_str("ETHUSDT.BINANCE_SPOT"),
)
OKX_PERP = InstrumentId.from_str("ETH-USDT-SWAP.OKX")
MARKET = Market(
    pairs={
        ETH_PERP: ("ETH", "USDT"),
        BTC_PERP: ("BTC", "USDT"),
        ETH_POOL: ("ETH", "USDT"),
        ETH_SPOT: ("ETH", "USDT"),
        OKX_PERP: ("ETH", "USDT"),
        POOL: ("WSTETH", "ETH"),
    },
    lsts={"wstETH": (POOL, RATE)},
    reserve_factors={"WETH": 0.15},
)


def scenario(*transformations) -> Scenario:
    return Scenario(ScenarioFile("test", "a test", pd.Timestamp(T0).isoformat(), transformations), "test")


def bar(instrument: InstrumentId, close: float, ts: int, precision: int = 6) -> Bar:
    """A bar whose open, high and low sit at fixed ratios of its close."""

    def price(x: float) -> Price:
        return Price(x, precision)

    return Bar(
        BarType.from_str(f"{instrument}-1-HOUR-LAST-EXTERNAL"),
        price(close * 0.99),
        price(close * 1.02),
        price(close * 0.98),
        price(close),
        Quantity.from_int(1),
        ts,
        ts,
    )


def data(bars=(), funding=(), chain=()) -> RunData:
    return RunData(list(chain), list(funding), list(bars), [])


def closes(run: RunData, instrument: InstrumentId) -> dict[int, float]:
    return {b.ts_init: b.close.as_double() for b in run.bars if b.bar_type.instrument_id == instrument}


def test_lst_depeg_holds_the_market_rate_below_the_protocol_rate_then_recovers_linearly():
    hours = range(-2, 22)
    protocol = {T0 + h * HOUR_NS: 1.2 + 0.0001 * h for h in hours}
    market = {ts: rate * 0.999 for ts, rate in protocol.items()}  # history: 0.1 % below
    run = data(bars=[bar(i, v[ts], ts, 10) for ts in protocol for i, v in ((POOL, market), (RATE, protocol))])
    # 12 h at 6 % below, then back to the protocol rate over 6 h
    depeg = LstDepeg(asset="wstETH", depth=0.06, days=0.5, recovery="linear", recovery_days=0.25)
    (changed,) = stress(scenario(depeg), run, MARKET)

    stressed = closes(run, POOL)
    assert closes(run, RATE) == pytest.approx(protocol, abs=1e-10)
    for h in hours:
        ts = T0 + h * HOUR_NS
        discount = 0.06 if 0 < h <= 12 else 0.06 * (18 - h) / 6 if 12 < h <= 18 else None
        expected = market[ts] if discount is None else protocol[ts] * (1 - discount)
        assert stressed[ts] == pytest.approx(expected, abs=1e-10), h
    assert changed == 18  # the hours closing in (start, start + 18 h]
    inside = next(b for b in run.bars if b.bar_type.instrument_id == POOL and b.ts_init == T0 + 5 * HOUR_NS)
    assert inside.high.as_double() / inside.close.as_double() == pytest.approx(1.02, abs=1e-9)


def test_lst_depeg_with_an_instant_recovery_ends_at_once_and_names_unknown_assets():
    ts = [T0 + h * HOUR_NS for h in (1, 24, 25)]
    run = data(bars=[bar(i, 1.2, t, 10) for t in ts for i in (POOL, RATE)])
    stress(scenario(LstDepeg(asset="wstETH", depth=0.05, days=1)), run, MARKET)
    assert list(closes(run, POOL).values()) == pytest.approx([1.14, 1.14, 1.2], abs=1e-10)
    with pytest.raises(
        ConfigError, match=r"test: transformations\[0\]: lst_depeg: unknown staking asset 'rETH'"
    ):
        stress(scenario(LstDepeg(asset="rETH", depth=0.05, days=1)), run, MARKET)


def test_funding_inversion_flips_the_named_venues_rates_over_its_days_only():
    stamps = [T0 - 8 * HOUR_NS, T0, T0 + 8 * HOUR_NS, T0 + DAY_NS, T0 + DAY_NS + 8 * HOUR_NS]
    rates = [Decimal("0.0001"), Decimal("0.00012"), Decimal("-0.00003"), Decimal("0.0002"), Decimal("0.0001")]
    prints = [
        FundingRateUpdate(perp, rate, ts, ts, 480)
        for ts, rate in zip(stamps, rates, strict=True)
        for perp in (ETH_PERP, OKX_PERP)
    ]
    run = data(funding=prints)
    (changed,) = stress(scenario(FundingInversion(days=1, factor=2, venues=("BINANCE",))), run, MARKET)

    inverted = {T0 + 8 * HOUR_NS, T0 + DAY_NS}  # the prints closing in (start, start + 1 day]
    for before, after in zip(prints, run.funding, strict=True):
        flipped = before.instrument_id == ETH_PERP and before.ts_init in inverted
        expected = Decimal(str(before.rate)) * (-2 if flipped else 1)
        assert Decimal(str(after.rate)) == expected
        assert (after.instrument_id, after.ts_init, after.interval) == (
            before.instrument_id,
            before.ts_init,
            480,
        )
    assert changed == 2


def snapshot(day: int, rate: float, li: float, bi: float) -> CustomData:
    ts = T0 + day * DAY_NS
    return CustomData(
        DataType(AaveReserveSnapshot),
        AaveReserveSnapshot(
            instrument_id=InstrumentId.from_str("AWETH-AAVE.ETHEREUM"),
            reserve="WETH",
            liquidity_index=li,
            variable_borrow_index=bi,
            liquidity_rate=rate * 0.5 * 0.85,
            variable_borrow_rate=rate,
            total_a_token=1_000_000.0,
            total_variable_debt=500_000.0,
            ts_event=ts,
            ts_init=ts,
        ),
    )


def test_borrow_rate_spike_raises_rates_on_the_curve_and_the_indices_accrue_at_them():
    recorded = [snapshot(d, 0.02 + 0.001 * d, 1.01 + 0.0001 * d, 1.02 + 0.0002 * d) for d in range(-1, 5)]
    run = data(chain=recorded)
    spike = BorrowRateSpike(utilization=0.95, kink=0.92, days=2)
    (changed,) = stress(scenario(spike), run, MARKET)
    after = [p.data for p in run.chain]
    before = [p.data for p in recorded]

    year = 365 * 86400
    assert run.chain[0] is recorded[0]  # the day before is untouched
    assert (after[1].liquidity_index, after[1].variable_borrow_index) == (  # the start's indices too
        before[1].liquidity_index,
        before[1].variable_borrow_index,
    )
    for k in (1, 2):  # the snapshots at the start and a day later hold the spike's rates
        slope1 = before[k].variable_borrow_rate * 0.92 / 0.5  # zero base, through (50 %, recorded rate)
        borrow = slope1 + 0.80 * (0.95 - 0.92) / (1 - 0.92)
        assert after[k].variable_borrow_rate == pytest.approx(borrow, rel=1e-12)
        assert after[k].liquidity_rate == pytest.approx(borrow * 0.95 * (1 - 0.15), rel=1e-12)
        assert after[k].total_variable_debt == pytest.approx(950_000.0)
    # day 1 and day 2 start from a day of accrual at the previous snapshot's spiked rates
    for k in (2, 3):
        prev = after[k - 1]
        assert after[k].liquidity_index == pytest.approx(
            prev.liquidity_index * (1 + prev.liquidity_rate * 86400 / year), rel=1e-13
        )
        assert after[k].variable_borrow_index == pytest.approx(
            prev.variable_borrow_index * math.exp(86400 * math.log1p(prev.variable_borrow_rate / year)),
            rel=1e-13,
        )
    assert after[3].variable_borrow_rate == before[3].variable_borrow_rate  # the spike is over
    # afterwards the indices grow as recorded, keeping the extra interest
    extra = after[3].variable_borrow_index / before[3].variable_borrow_index
    spiked = [after[k].variable_borrow_rate for k in (1, 2)]
    two_days = math.prod(math.exp(86400 * math.log1p(r / year)) for r in spiked)
    assert extra == pytest.approx(
        two_days / (before[3].variable_borrow_index / before[1].variable_borrow_index), rel=1e-12
    )
    assert after[4].variable_borrow_index / before[4].variable_borrow_index == pytest.approx(extra, rel=1e-13)
    assert changed == 5  # days 0 and 1 (rates), and every later one (indices)
    assert not math.isclose(after[4].liquidity_index, before[4].liquidity_index, rel_tol=1e-6)


def test_price_crash_gaps_every_venues_usd_prices_then_recovers_part_of_the_drop():
    offsets = [-HOUR_NS, 0, HOUR_NS, 13 * HOUR_NS, 25 * HOUR_NS, 40 * HOUR_NS]
    bars = [bar(ETH_POOL, 3000.0, T0 + o) for o in offsets]
    bars += [bar(ETH_PERP, 3001.0, T0 + o - HOUR_NS + BINANCE_STAMP) for o in offsets]
    bars += [bar(i, 1.2, T0 + o) for o in offsets for i in (BTC_PERP, POOL)]
    run = data(bars=bars)
    crash = PriceCrash(asset="ETH", drop=0.25, recovered=0.4, recovery_hours=24)
    (changed,) = stress(scenario(crash), run, MARKET)

    factors = [1.0, 1.0, 0.75, 1 - 0.25 * (1 - 0.4 * 12 / 24), 0.85, 0.85]
    assert list(closes(run, ETH_POOL).values()) == pytest.approx([3000 * f for f in factors], abs=1e-6)
    assert list(closes(run, ETH_PERP).values()) == pytest.approx([3001 * f for f in factors], abs=1e-6)
    assert list(closes(run, BTC_PERP).values()) == [1.2] * 6  # another asset
    assert list(closes(run, POOL).values()) == [1.2] * 6  # priced in ETH
    assert changed == 8


ORDER = SimpleNamespace(instrument_id=ETH_PERP)


class PastOutageCheck(Exception):
    """The order went on to the balance and margin checks: the venue was up."""


def test_venue_outage_removes_the_venues_bars_for_its_hours_and_refuses_orders():
    stamps = [T0 + h * HOUR_NS for h in range(-1, 5)]
    binance = [bar(ETH_PERP, 3000.0, ts - HOUR_NS + BINANCE_STAMP) for ts in stamps]
    binance += [bar(ETH_SPOT, 3000.0, ts - HOUR_NS + BINANCE_STAMP) for ts in stamps]
    okx = [bar(OKX_PERP, 3000.0, ts) for ts in stamps]
    run = data(bars=binance + okx)
    outage = VenueOutage(venue="BINANCE", hours=3)
    (removed,) = stress(scenario(outage), run, MARKET)

    down = {T0 + h * HOUR_NS - HOUR_NS + BINANCE_STAMP for h in (1, 2, 3)}
    assert run.bars == [b for b in binance if b.ts_init not in down] + okx
    assert removed == 6

    (windows,) = outages(scenario(outage)).values()
    clock = TestClock()

    def instrument(_):
        raise PastOutageCheck

    cache = SimpleNamespace(instrument=instrument)  # where the balance checks start
    venue = SimpleNamespace(
        venue="BINANCE", clock=clock, outages=windows, exchange=SimpleNamespace(cache=cache)
    )
    for h, refused in ((0, False), (1, True), (3, True), (4, False)):
        clock.set_time(T0 + (h - 1) * HOUR_NS + BINANCE_STAMP)  # a decision on the hour's bar
        if refused:
            assert (
                PreTradeChecks.check_order(venue, ORDER) == "VENUE_OUTAGE: BINANCE is down (stress scenario)"
            )
        else:
            with pytest.raises(PastOutageCheck):
                PreTradeChecks.check_order(venue, ORDER)
    assert outages(scenario(GasSpike(factor=2, hours=1))) == {}


def test_gas_spike_multiplies_the_gas_price_over_its_hours():
    samples = [
        CustomData(
            DataType(GasPrice),
            GasPrice(gwei=5.0 + h, base_fee_gwei=4.0 + h, priority_fee_gwei=1.0, ts_event=ts, ts_init=ts),
        )
        for h in range(-1, 5)
        for ts in [T0 + h * HOUR_NS]
    ]
    run = data(chain=samples)
    (changed,) = stress(scenario(GasSpike(factor=20, hours=3)), run, MARKET)
    for h, (before, after) in zip(range(-1, 5), zip(samples, run.chain, strict=True), strict=True):
        factor = 20 if 0 <= h < 3 else 1  # samples holding from the start for 3 hours
        assert (after.data.gwei, after.data.base_fee_gwei, after.data.priority_fee_gwei) == pytest.approx(
            (before.data.gwei * factor, before.data.base_fee_gwei * factor, factor)
        )
    assert changed == 3
