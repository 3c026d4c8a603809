"""Sandbox: live market data, the project's venue simulations as the execution.

The node's data clients are Nautilus' own, streaming the venues' bars and funding. Its execution
clients are the simulations a backtest uses (``SimulatedExchange`` with the funding, margin and
liquidation modules, inside :class:`~live.paper.PaperExecutionClient`), funded as the mode's
``capital_source: venues`` says. :class:`SandboxVenues` steps them with the live data, as a
paper replay does: each bar reaches its venue before the strategy sees it; once the node has
handled it, the orders sent are filled and the modules run.

Funding: a live stream quotes the rate of the *next* funding time (``next_funding_ns``), which
the simulations do not settle. Once that time has passed — the perp's bar closing at it is in, or
the quoted funding time moves on — the last rate quoted for it is settled as that time's print,
like a catalog print, marked at the perp's close at that time.

Nothing of a sandbox's venues survives the node: every start begins with fresh simulated accounts.
"""

from __future__ import annotations

from pathlib import Path

from nautilus_trader.core.data import Data
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument

from adapters.bars import bar_type_for
from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import exchange_of, venue_instruments
from adapters.defi.config import load_wallet_venue
from adapters.defi.currencies import register_wallet_currencies
from adapters.hours import closing_hour
from backtesting.config import RunConfig
from backtesting.engine import Venues, add_simulated_venues
from live.paper import PaperHost, VenueStepper
from live.venues import LivePlan
from strategies.base import YieldStrategy

PRIORITY = 10_001
"""Ahead of every strategy and actor subscription (Nautilus' default priority is 0)."""


def sandbox_instruments(plan: LivePlan, config_dir: Path) -> list[Instrument]:
    """The project's definitions of the instruments the plan reads (those the simulations trade)."""
    wanted = {i for v in plan.venues for i in v.instruments}
    found: dict[InstrumentId, Instrument] = {}
    for exchange in dict.fromkeys(exchange_of(i) for i in wanted):
        for instrument_id, (_, instrument) in venue_instruments(load_cex_venue(exchange, config_dir)).items():
            if instrument_id in wanted:
                found[instrument_id] = instrument
    return [found[i] for i in sorted(wanted, key=str)]


class FundingPrints:
    """Turns a live stream's quotes of the next funding rate into the prints the simulations
    settle: the last quote for a funding time, once that time has passed — seen either by the
    quoted funding time moving on, or by the perp's bar closing at it, whichever comes first (the
    two arrive on separate streams, in either order). Each print is made once."""

    def __init__(self) -> None:
        self._quotes: dict[InstrumentId, FundingRateUpdate] = {}
        self._printed: dict[InstrumentId, int] = {}
        """The funding time (ns) of each perp's last print made."""

    def on_quote(self, quote: FundingRateUpdate) -> FundingRateUpdate | None:
        """The print due now that ``quote`` arrived, or None."""
        if quote.next_funding_ns is None:
            return None  # already a print
        last = self._quotes.get(quote.instrument_id)
        self._quotes[quote.instrument_id] = quote
        if last is None or last.next_funding_ns is None or quote.next_funding_ns <= last.next_funding_ns:
            return None
        return self._print(last)

    def due_at(self, bar: Bar) -> tuple[FundingRateUpdate, FundingRateUpdate] | None:
        """The print of the quoted funding time that ``bar`` closes at (or after), with the quote
        it came from, or None. Settled with that bar, before any strategy sees it, a print is paid
        on the position held into its time, as in a backtest; waiting for the quote to move on
        could pay it on a position the strategy opened on that very bar."""
        quote = self._quotes.get(bar.bar_type.instrument_id)
        if (
            quote is None
            or quote.next_funding_ns is None
            or closing_hour(bar.ts_event) < quote.next_funding_ns
        ):
            return None
        settled = self._print(quote)
        return None if settled is None else (settled, quote)

    def _print(self, quote: FundingRateUpdate) -> FundingRateUpdate | None:
        ts = quote.next_funding_ns
        if self._printed.get(quote.instrument_id, 0) >= ts:
            return None  # made already, when the other stream said it was due
        self._printed[quote.instrument_id] = ts
        return FundingRateUpdate(quote.instrument_id, quote.rate, ts_event=ts, ts_init=ts)


class PrintMarks:
    """Holds a print until the perp bar closing at its time is in. A print is marked at the
    perp's close at its time, as in a backtest; live, the quote that makes it due and that bar
    come on separate streams, in either order, and a print settled first would be marked an hour
    stale."""

    def __init__(self) -> None:
        self._held: dict[InstrumentId, tuple[FundingRateUpdate, FundingRateUpdate]] = {}

    def ready(self, settled: FundingRateUpdate, quote: FundingRateUpdate, last_bar: Bar | None) -> bool:
        """Whether ``settled`` can be settled now (its bar is in); else it is held, with the
        ``quote`` to restore once it is."""
        if last_bar is not None and closing_hour(last_bar.ts_event) >= settled.ts_event:
            return True
        self._held[settled.instrument_id] = (settled, quote)
        return False

    def released_by(self, bar: Bar) -> tuple[FundingRateUpdate, FundingRateUpdate] | None:
        """The held print (and its quote) that ``bar`` marks, or None."""
        held = self._held.get(bar.bar_type.instrument_id)
        if held is None or closing_hour(bar.ts_event) < held[0].ts_event:
            return None
        del self._held[bar.bar_type.instrument_id]
        return held


class SandboxVenues:
    """The simulated venues of a sandbox node, stepped by the node's live data."""

    def __init__(self, node: TradingNode, run: RunConfig, plan: LivePlan, strategy: YieldStrategy) -> None:
        wallet_config = load_wallet_venue()
        register_wallet_currencies(wallet_config)
        self._host = PaperHost(node)
        self.venues: Venues = add_simulated_venues(
            self._host, run, strategy, sandbox_instruments(plan, run.venue_config_dir), wallet_config
        )
        self._stepper = VenueStepper(node, self._host)
        self._loop = node.kernel.loop
        self._cache = node.kernel.cache
        self._prints = FundingPrints()
        self._marks = PrintMarks()
        self._due_ns = 0
        msgbus = node.kernel.msgbus
        msgbus.subscribe("data.bars.*", self._on_data, priority=PRIORITY)
        msgbus.subscribe("data.funding_rates.*", self._on_funding, priority=PRIORITY)

    def _on_data(self, data: Data) -> None:
        if isinstance(data, Bar):
            due = self._marks.released_by(data) or self._prints.due_at(data)
            if due is not None:
                self._cache.add_funding_rate(due[0])  # settled with this bar, marked at its close
            self._stepper.before(data)
            self._settle_after(data.ts_init, restore=due[1] if due is not None else None)

    def _on_funding(self, quote: FundingRateUpdate) -> None:
        settled = self._prints.on_quote(quote)
        if settled is None:
            return
        if not self._marks.ready(settled, quote, self._cache.bar(bar_type_for(quote.instrument_id))):
            return
        # the simulations read the print from the cache; the quote goes back once it is settled
        self._cache.add_funding_rate(settled)
        self._settle_after(max(quote.ts_init, settled.ts_event + 1), restore=quote)

    def _settle_after(self, ts: int, restore: FundingRateUpdate | None = None) -> None:
        """Once the node has handled the current message, fill what it sent and run the modules."""
        self._due_ns = max(self._due_ns, ts)
        self._loop.create_task(self._settle(restore))

    async def _settle(self, restore: FundingRateUpdate | None) -> None:
        await self._stepper.drain()
        self._host.clock.set_time(max(self._host.clock.timestamp_ns(), self._due_ns))
        await self._stepper.settle(self._host.clock.timestamp_ns())
        if restore is not None:
            self._cache.add_funding_rate(restore)
