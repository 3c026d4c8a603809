"""Restart on Binance with a position and its resting orders: ``run_live.py``'s node trading
ml_btc_directional_usdt_margin on the fake Binance is killed outright (SIGKILL) while it holds the
model's long and the long's stop-loss and take-profit rest at the venue, then started again with
the same command and the same Redis.

The node runs as a real subprocess (``tests/live/node_process.py``) against the fake Binance spot
account (the spot bars the model's basis features read) and USDT-M account (the perp, its orders
and the 100,000 USDT margin: ``capital_source: venues``), both served from threads of this test,
which steps them hour by hour over the window of ``test_e2e_fake_venues``' ML run: from ``ML_FIRST``
the model goes long on its first confident call (07:00); once the entry has filled the strategy places a stop-loss
(a STOP_MARKET, a Binance algo order) and a take-profit (a LIMIT), both reduce-only.

What is checked is what a restart must not break:

- the killed node had saved the long's plan as it ended: its book with the long, its two
  protective orders (before, the strategy saved only at the next hour's tick, and this restart
  came up HALTED by the restart gate, the saved book flat, its protection forgotten);
- the restarted node holds the long the venue holds: not flattened, not doubled (Nautilus issue
  #4736: a warm restart on Binance NETTING flattening the cached position while the venue still
  holds it; it does not show here);
- the stop-loss and the take-profit are still the venue's open orders, the very two (ids), none
  cancelled or sent again, and no other order is sent;
- the restarted strategy still treats them as the long's protection: when the stop-loss fills,
  it cancels the take-profit (the rule "one cancels the other" survives the restart), and the
  venue ends flat.

The node's clock: the fakes replay September 2025, and the predictor measures its warm-up history
back from the node's clock (live, the venues' time). So each start runs the node under libfaketime
(Debian's ``faketime`` package; ``.ci/run`` installs it) from the fakes' current hour: the node
unmodified, on the replay's time; its clock then runs at wall speed while the test steps the fakes
an hour at a time, so the data is ahead of it, never behind (no feed ages, no stale-data hold).

The spot fake runs one hour ahead of the futures fake: the model's row for an hour needs that
hour's spot close, which must reach the node before the perp's bar (in-process, the e2e test waits
for it in the predictor; a subprocess shows no such thing).

No ``fresh_process`` mark: the node is a process of its own, and this test runs no backtest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from nautilus_trader.model.identifiers import InstrumentId

from backtesting.config import load_run_config, mode_file_path
from fakevenues.binance import BinanceAccount
from live.redis_state import local_redis
from signals.store import read_predictions
from tests.live.node_process import ROOT, NodeProcess, positions, state_key
from tests.live.test_e2e_fake_venues import (
    CAPITAL,
    ML_FIRST,
    ML_HOURS,
    ML_MODE,
    PERP_ID,
    _binance_fake,
    _ml_mode_file,
    _transfers_config,
)
from tests.live.venue_configs import venue_config_dir

pytestmark = pytest.mark.integration

KEYS = {
    "BINANCE_FUTURES_TESTNET_API_KEY": "FAKE-RESTART-BINANCE-FUTURES-KEY",
    "BINANCE_FUTURES_TESTNET_API_SECRET": "FAKE-RESTART-BINANCE-FUTURES-SECRET",
    "BINANCE_TESTNET_API_KEY": "FAKE-RESTART-BINANCE-SPOT-KEY",
    "BINANCE_TESTNET_API_SECRET": "FAKE-RESTART-BINANCE-SPOT-SECRET",
}
"""Binance's testnet variables (``live/environments.py``): futures for the USDT-M account, spot
for the spot data client."""
ORDER_KINDS = ("MARKET", "STOP_MARKET", "LIMIT")
"""The orders of the long, as ``FakeBinanceAccounts.orders`` lists them: entry, stop-loss, take-profit."""
STATE_KEY = state_key(f"{ML_MODE.upper()}-TESTNET", "DirectionalStrategy-000")
LIBFAKETIME = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))


@dataclass(frozen=True)
class VenueOrder:
    """An order as the fake venue keeps it."""

    order_id: int
    client_order_id: str
    order_type: str
    side: str
    status: str
    quantity: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    avg_price: Decimal


class FakeBinanceAccounts:
    """The fake Binance spot (data) and USDT-M (data, orders, margin) accounts."""

    def __init__(self, catalog_dir: Path):
        start_ns = (ML_FIRST - pd.Timedelta(hours=1)).value
        self.spot = _binance_fake(
            BinanceAccount.SPOT, catalog_dir, start_ns, {}, KEYS["BINANCE_TESTNET_API_KEY"]
        )
        self.futures = _binance_fake(
            BinanceAccount.USDT_FUTURES,
            catalog_dir,
            start_ns,
            {"USDT": str(CAPITAL)},
            KEYS["BINANCE_FUTURES_TESTNET_API_KEY"],
        )

    def stop(self) -> None:
        self.spot.stop()
        self.futures.stop()

    def lead_spot(self) -> None:
        """Move the spot account an hour ahead of the futures (see the module docstring): once a
        node follows its klines, so that it streams that hour's bar (a node starting with the
        spot ahead would miss it: its history request ends at its clock, and a kline closing after
        that is not in the answer)."""
        self.spot.advance_hour()

    def step(self) -> int:
        """One hour on both accounts (the spot ahead); the closing stamp (ns) of the futures' new hour."""
        self.futures.advance_hour()
        self.spot.advance_hour()
        return self.now_ns()

    def step_futures(self) -> None:
        """One hour on the futures account only: an hour closing while the node is down, after
        which both accounts are at the same hour again for the next start."""
        self.futures.advance_hour()

    def now_ns(self) -> int:
        return self.futures.read(lambda m: m.now_ns)

    def orders(self) -> list[VenueOrder]:
        """Every order the futures account received: the entry, then the stop-loss, then the
        take-profit (the node sends those two at once, on two routes: they arrive in either order)."""

        def read(market) -> list[VenueOrder]:
            received = [
                VenueOrder(
                    o.order_id,
                    o.client_order_id,
                    o.order_type.value,
                    o.side.value,
                    o.status.value,
                    o.quantity,
                    o.price,
                    o.trigger_price,
                    o.avg_price,
                )
                for o in market.orders.values()
            ]
            return sorted(received, key=lambda o: ORDER_KINDS.index(o.order_type))

        return self.futures.read(read)

    def cancel_requests(self) -> int:
        """How many order cancels the futures account was asked for."""
        return self.futures.server.run(
            lambda: sum(r == ("DELETE", "/fapi/v1/order") for r in self.futures.requests)
        )

    def position(self) -> Decimal:
        return self.futures.read(lambda m: m.position(InstrumentId.from_str(PERP_ID)).quantity)

    def following(self) -> bool:
        """Whether the node streams the hourly klines of both accounts."""
        return all("btcusdt@kline_1h" in f.market_streams for f in (self.spot, self.futures))


def _ml_node(tmp_path: Path, catalog_dir: Path, fakes: FakeBinanceAccounts, redis) -> NodeProcess:
    """The node's command: the ML mode with its margin on the fake USDT-M account, on Binance's
    testnet environment pointed at the fakes, the catalog's saved model, the test's Redis."""
    config_dir = venue_config_dir(
        tmp_path, {"BINANCE_SPOT": fakes.spot.endpoints(), "BINANCE": fakes.futures.endpoints()}
    )
    transfers = _transfers_config(tmp_path, {"BINANCE": fakes.futures.server.http_url})
    state_dir = tmp_path / "state"
    command = [
        sys.executable,
        str(ROOT / "run_live.py"),
        *("--mode", ML_MODE, "--env", "testnet"),
        *("--config", str(_ml_mode_file(tmp_path))),
        *("--catalog", str(catalog_dir)),
        *("--venue-config", str(config_dir)),
        *("--transfers-config", str(transfers)),
        *("--redis", str(redis)),
        *("--state", str(state_dir)),
        *("--out", str(tmp_path / "out")),
        *("--health-minutes", "0.02", "--log-level", "WARNING"),
    ]
    return NodeProcess(tmp_path, command, KEYS, redis, STATE_KEY, state_dir, fakes.following)


def _first_confident_call(catalog_dir: Path) -> int:
    """The hour (ns) of the model's first call from ``ML_FIRST`` that the strategy acts on (its
    confidence at least the mode's threshold, long or short)."""
    threshold = load_run_config(mode_file_path(ML_MODE)).strategy.confidence_threshold
    calls = read_predictions(catalog_dir, PERP_ID, ML_FIRST.value)
    return next(c.ts_event for c in calls if c.confidence >= threshold and c.signal != 0)


def _acted_on(node: NodeProcess, hour_ns: int) -> None:
    """Wait for the node to have acted on the hour closing at ``hour_ns``: started its tick at rest
    with the model's call of that hour (the strategy checkpoints before deciding, and again when
    the call comes after the bar), so any order it sends for that hour is on its way."""

    def acted() -> bool:
        state = node.saved_parts() or {}
        hour = state.get("yield_strategy", {}).get("gate", {}).get("hour")
        call = state.get("directional", {}).get("call") or {}
        return hour == call.get("ts_event") == hour_ns

    node.wait(f"the node's checkpoint of {pd.Timestamp(hour_ns, tz='UTC')} with its call", acted)


def _on_venue_time(fakes: FakeBinanceAccounts) -> dict[str, str]:
    """The environment that starts the node's clock at the fakes' current hour (libfaketime)."""
    now = pd.Timestamp(fakes.now_ns(), tz="UTC")
    return {"LD_PRELOAD": str(LIBFAKETIME[0]), "FAKETIME": f"@{now:%Y-%m-%d %H:%M:%S}", "TZ": "UTC"}


@dataclass
class Protected:
    node: NodeProcess
    fakes: FakeBinanceAccounts
    entry: VenueOrder
    stop_loss: VenueOrder
    take_profit: VenueOrder
    position: list[tuple[str, str, float]]
    """The node's positions (status.json) just before the kill."""
    saved: dict[str, Any]
    """The strategy's state in Redis when the node was killed."""


@pytest.fixture
def protected_then_killed(built_signals, tmp_path) -> Iterator[Protected]:
    """A node that went long on the model's call, placed the long's stop-loss and take-profit at
    the venue, and was SIGKILLed; one more hour passes while it is down."""
    if not LIBFAKETIME:
        pytest.skip("libfaketime not installed (Debian package faketime; .ci/run installs it)")
    catalog, _ = built_signals
    fakes = FakeBinanceAccounts(catalog)
    try:
        with local_redis(tmp_path / "redis") as redis:
            node = _ml_node(tmp_path, catalog, fakes, redis)
            try:
                first = node.start(env=_on_venue_time(fakes))
                fakes.lead_spot()
                long_at = _first_confident_call(catalog)
                while fakes.now_ns() < long_at:
                    _acted_on(node, fakes.step())
                node.wait(
                    "the entry filled, its stop-loss and take-profit open",
                    lambda: (
                        [(o.order_type, o.status) for o in fakes.orders()]
                        == [("MARKET", "FILLED"), ("STOP_MARKET", "NEW"), ("LIMIT", "NEW")]
                    ),
                )
                node.wait("the long in status.json", lambda: len(node.status()["positions"]) == 1)
                entry, stop_loss, take_profit = fakes.orders()
                protected = Protected(
                    node,
                    fakes,
                    entry,
                    stop_loss,
                    take_profit,
                    positions(node.status()),
                    node.saved_parts(),
                )
                node.kill(first)
                fakes.step_futures()  # an hour closes while the node is down
                yield protected
            finally:
                node.stop_all()
    finally:
        fakes.stop()
    assert all(key not in node.outputs() for key in KEYS.values())


def test_a_killed_node_keeps_the_position_and_its_resting_orders(protected_then_killed):
    node, fakes = protected_then_killed.node, protected_then_killed.fakes
    entry = protected_then_killed.entry
    stop_loss, take_profit = protected_then_killed.stop_loss, protected_then_killed.take_profit
    # the long the model called, protected on both sides
    assert entry.side == "BUY" and fakes.position() == entry.quantity > 0
    assert stop_loss.side == take_profit.side == "SELL"
    assert stop_loss.quantity == take_profit.quantity == entry.quantity
    assert stop_loss.trigger_price < entry.avg_price < take_profit.price
    held = [(PERP_ID, "LONG", float(entry.quantity))]
    assert protected_then_killed.position == held
    # what the killed node had saved: the plan's outcome, saved when it ended (not at the next
    # tick, an hour later): the long in its book, and its two protective orders
    before_kill = protected_then_killed.saved
    assert before_kill["yield_strategy"]["book"] == {PERP_ID: float(entry.quantity)}
    assert before_kill["yield_strategy"]["plan_in_progress"] is None
    protective = {stop_loss.client_order_id: "stop_loss", take_profit.client_order_id: "take_profit"}
    assert before_kill["directional"]["protective"] == protective
    orders = fakes.orders()

    node.start(env=_on_venue_time(fakes))
    fakes.lead_spot()
    status = node.status()
    assert status["state"] == "RUNNING" and status["halted"] is None
    # the long is the venue's: not flattened, not doubled (#4736); its two orders rest as they were
    assert positions(status) == held
    assert status["open_orders"] == 2
    assert fakes.orders() == orders
    # the next hour is acted on with the protection the strategy knew: the very two orders
    _acted_on(node, fakes.step())
    assert node.saved("directional")["protective"] == protective
    assert fakes.orders() == orders and fakes.cancel_requests() == 0
    assert positions(node.status()) == held

    # the stop-loss fills: the restarted node cancels the take-profit, and the venue ends flat
    hours = (
        ML_FIRST + pd.Timedelta(hours=ML_HOURS) - pd.Timestamp(fakes.now_ns(), tz="UTC")
    ) // pd.Timedelta(hours=1)
    for _ in range(hours):
        _acted_on(node, fakes.step())
        if fakes.orders()[1].status == "FILLED":
            break
    node.wait("the take-profit cancelled", lambda: fakes.orders()[2].status == "CANCELED")
    entry_after, stop_filled, take_profit_cancelled = fakes.orders()
    assert len(fakes.orders()) == 3  # nothing else sent
    assert (entry_after, stop_filled.status, take_profit_cancelled.status) == (entry, "FILLED", "CANCELED")
    assert stop_filled.avg_price == stop_loss.trigger_price  # the stop trades at its trigger
    assert fakes.position() == 0
    assert fakes.cancel_requests() == 1  # the fake cancels nothing by itself: the node asked
    node.wait("the node flat", lambda: positions(node.status()) == [])
    _acted_on(node, fakes.step())
    after = node.saved()
    assert after["actions"]["stop_loss"] == 1 and after["halted"] is None
    assert node.saved("directional")["protective"] == {}
