"""Apply a scenario's transformations to a run's data in memory, before it reaches the engine.

Every transformation rewrites or drops points of the loaded :class:`~backtesting.engine.RunData`
(the catalog on disk is never touched) over its :class:`Window`, hours counted by
``closing_hour`` (a Binance bar stamped ``10:59:59.999`` is the 11:00 one, as decisions read it).
The result is a pure function of the data and the scenario: runs stay deterministic.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.data import Bar, CustomData, DataType, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price

from adapters.cex.instruments import exchange_of
from adapters.config import ConfigError
from adapters.defi.aave_index import ReserveIndex
from adapters.defi.data import AaveReserveSnapshot, GasPrice
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.rate_curve import curve_through
from adapters.hours import closing_hour
from scenarios.config import (
    BorrowRateSpike,
    FundingInversion,
    GasSpike,
    LstDepeg,
    PriceCrash,
    Scenario,
    VenueOutage,
)

if TYPE_CHECKING:
    from backtesting.engine import RunData, RunPlan

USD_QUOTES = frozenset({"USDT", "USD", "USDC"})
"""Quotes in which a crash of the base asset shows (an LST priced in ETH does not move)."""


@dataclass(frozen=True)
class Market:
    """What the transformations need to know about the run's instruments."""

    pairs: dict[InstrumentId, tuple[str, str]]
    """Every instrument's (base, quote) currency codes."""
    lsts: dict[str, tuple[InstrumentId, InstrumentId]]
    """Each staking asset's (DEX pool against ETH, protocol-rate series)."""
    reserve_factors: dict[str, float]

    @classmethod
    def of(cls, plan: RunPlan) -> Market:
        wallet = plan.wallet_config
        pairs = {i.id: (i.base_currency.code, i.quote_currency.code) for i in plan.instruments}
        pairs |= {wallet_instrument_id(wallet, p.symbol): (p.base, p.quote) for p in wallet.pools}
        lsts = {
            s.asset: tuple(wallet_instrument_id(wallet, symbol) for symbol in (s.market_pool, s.mint_symbol))
            for s in wallet.staking
        }
        reserves = (plan.aave_params or {}).get("reserves", {})
        return cls(pairs, lsts, {symbol: r["reserve_factor"] for symbol, r in reserves.items()})


@dataclass(frozen=True)
class Window:
    """The span from ``start_ns`` to ``end_ns`` a transformation changes.

    A bar or a funding print stamped ``t`` closes a period (the hour, the funding interval): it is
    in the window when its hour closes after the start and no later than the end. A gas sample or
    a reserve snapshot stamped ``t`` is the state from ``t`` on: in the window when
    ``start <= t < end``.
    """

    start_ns: int
    end_ns: int

    def since(self, ts_ns: int) -> int:
        """How long after the start the hour of ``ts_ns`` closes."""
        return closing_hour(ts_ns) - self.start_ns

    def closes_in(self, ts_ns: int) -> bool:
        return self.start_ns < closing_hour(ts_ns) <= self.end_ns

    def holds_at(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns < self.end_ns


def stress(scenario: Scenario, data: RunData, market: Market) -> list[int]:
    """Apply ``scenario`` to ``data`` in place, in the file's order; how many points each changed.
    A transformation the run's data cannot take (an unknown asset) is refused naming the file."""
    changed = []
    for k, transformation in enumerate(scenario.file.transformations):
        window = Window(*scenario.window(transformation))
        try:
            changed.append(_APPLY[type(transformation)](transformation, window, data, market))
        except ValueError as e:
            raise ConfigError(f"{scenario.source}: transformations[{k}]: {e}") from None
    return changed


def outages(scenario: Scenario) -> dict[str, list[tuple[int, int]]]:
    """Each exchange's outage windows (start, end] in closing hours, when it refuses orders."""
    windows: dict[str, list[tuple[int, int]]] = {}
    for t in scenario.file.transformations:
        if isinstance(t, VenueOutage):
            windows.setdefault(t.venue, []).append(scenario.window(t))
    return windows


def scaled(bar: Bar, factor: float) -> Bar:
    """``bar`` with its four prices × ``factor`` (at the bar's precision)."""

    def price(p: Price) -> Price:
        return Price(p.as_double() * factor, p.precision)

    return Bar(
        bar.bar_type,
        price(bar.open),
        price(bar.high),
        price(bar.low),
        price(bar.close),
        bar.volume,
        bar.ts_event,
        bar.ts_init,
    )


def _rescale_bars(data: RunData, factor_of: Callable[[Bar], float | None]) -> int:
    """Replace each bar for which ``factor_of`` gives a factor by the bar scaled by it."""
    changed = 0
    for k, bar in enumerate(data.bars):
        factor = factor_of(bar)
        if factor is not None:
            data.bars[k] = scaled(bar, factor)
            changed += 1
    return changed


def _depeg(t: LstDepeg, window: Window, data: RunData, market: Market) -> int:
    if t.asset not in market.lsts:
        raise ValueError(f"lst_depeg: unknown staking asset {t.asset!r}; known: {', '.join(market.lsts)}")
    pool, protocol = market.lsts[t.asset]
    rates = [(b.ts_init, b.close.as_double()) for b in data.bars if b.bar_type.instrument_id == protocol]
    stamps = [ts for ts, _ in rates]

    def factor(bar: Bar) -> float | None:
        if bar.bar_type.instrument_id != pool or not window.closes_in(bar.ts_init):
            return None
        latest = bisect.bisect_right(stamps, bar.ts_init) - 1
        if latest < 0:
            raise ValueError(f"lst_depeg: no {protocol} rate at or before the {pool} bar at {bar.ts_init}")
        target = rates[latest][1] * (1 - t.discount(window.since(bar.ts_init)))
        return target / bar.close.as_double()

    return _rescale_bars(data, factor)


def _crash(t: PriceCrash, window: Window, data: RunData, market: Market) -> int:
    def factor(bar: Bar) -> float | None:
        base, quote = market.pairs.get(bar.bar_type.instrument_id, ("", ""))
        since = window.since(bar.ts_init)
        return t.factor(since) if base == t.asset and quote in USD_QUOTES and since > 0 else None

    return _rescale_bars(data, factor)


def _funding(t: FundingInversion, window: Window, data: RunData, market: Market) -> int:
    multiplier, changed = Decimal(repr(-t.factor)), 0
    for k, f in enumerate(data.funding):
        if window.closes_in(f.ts_init) and (not t.venues or exchange_of(f.instrument_id) in t.venues):
            data.funding[k] = FundingRateUpdate(
                f.instrument_id,
                Decimal(str(f.rate)) * multiplier,
                f.ts_event,
                f.ts_init,
                f.interval,
                f.next_funding_ns,
            )
            changed += 1
    return changed


def _outage(t: VenueOutage, window: Window, data: RunData, market: Market) -> int:
    def down(bar: Bar) -> bool:
        return exchange_of(bar.bar_type.instrument_id) == t.venue and window.closes_in(bar.ts_init)

    kept = [b for b in data.bars if not down(b)]
    removed = len(data.bars) - len(kept)
    data.bars[:] = kept
    return removed


def _gas(t: GasSpike, window: Window, data: RunData, market: Market) -> int:
    changed = 0
    for k, point in enumerate(data.chain):
        gas = point.data
        if isinstance(gas, GasPrice) and window.holds_at(gas.ts_init):
            data.chain[k] = CustomData(
                DataType(GasPrice),
                GasPrice(
                    gwei=gas.gwei * t.factor,
                    base_fee_gwei=gas.base_fee_gwei * t.factor,
                    priority_fee_gwei=gas.priority_fee_gwei * t.factor,
                    ts_event=gas.ts_event,
                    ts_init=gas.ts_init,
                ),
            )
            changed += 1
    return changed


def _snapshot_fields(s: AaveReserveSnapshot) -> dict[str, Any]:
    return {name: getattr(s, name) for name in AaveReserveSnapshot.__annotations__} | {
        "ts_event": s.ts_event,
        "ts_init": s.ts_init,
    }


@dataclass(frozen=True)
class _Rates:
    liquidity_rate: float
    variable_borrow_rate: float
    total_variable_debt: float


def _spiked(t: BorrowRateSpike, s: AaveReserveSnapshot, reserve_factor: float) -> _Rates:
    """The snapshot's rates at the spike's utilization, on the curve through its recorded point."""
    recorded = s.total_variable_debt / s.total_a_token
    curve = curve_through(t.kink, recorded, s.variable_borrow_rate)
    borrow = curve.borrow_rate(t.utilization)
    return _Rates(borrow * t.utilization * (1 - reserve_factor), borrow, t.utilization * s.total_a_token)


def _borrow_spike(t: BorrowRateSpike, window: Window, data: RunData, market: Market) -> int:
    """Rates raised on the window's snapshots. Indices are rebuilt from the first raised one on:
    over a raised snapshot's day they accrue at its raised rates (``ReserveIndex``'s own accrual),
    afterwards they grow as recorded, so the extra interest stays paid after the spike."""
    index, previous, changed = ReserveIndex(t.reserve), None, 0
    for k, point in enumerate(data.chain):
        recorded = point.data
        if not (isinstance(recorded, AaveReserveSnapshot) and recorded.reserve == t.reserve):
            continue
        fields = _snapshot_fields(recorded)
        if window.holds_at(recorded.ts_init):
            fields |= vars(_spiked(t, recorded, market.reserve_factors[t.reserve]))
        if previous is not None and previous[0] is not previous[1]:
            stressed_prev, recorded_prev = previous
            if window.holds_at(stressed_prev.ts_init):
                fields["liquidity_index"] = index.liquidity_index(recorded.ts_init)
                fields["variable_borrow_index"] = index.borrow_index(recorded.ts_init)
            else:
                for name in ("liquidity_index", "variable_borrow_index"):
                    growth = getattr(recorded, name) / getattr(recorded_prev, name)
                    fields[name] = getattr(stressed_prev, name) * growth
        stressed = recorded
        if fields != _snapshot_fields(recorded):
            stressed = AaveReserveSnapshot(**fields)
            data.chain[k] = CustomData(DataType(AaveReserveSnapshot), stressed)
            changed += 1
        index.update(
            stressed.ts_init,
            stressed.liquidity_index,
            stressed.variable_borrow_index,
            stressed.liquidity_rate,
            stressed.variable_borrow_rate,
        )
        previous = (stressed, recorded)
    return changed


_APPLY: dict[type, Callable[[Any, Window, RunData, Market], int]] = {
    LstDepeg: _depeg,
    FundingInversion: _funding,
    BorrowRateSpike: _borrow_spike,
    PriceCrash: _crash,
    VenueOutage: _outage,
    GasSpike: _gas,
}
