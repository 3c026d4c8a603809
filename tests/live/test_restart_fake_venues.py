"""Restart: ``run_live.py``'s node is killed outright (SIGKILL) mid-run and started again with the
same command and the same Redis, against the fake Bybit and OKX (``fakevenues/``).

The node runs as a real subprocess (``tests/live/node_process.py``); the fakes run on an event
loop in a thread of this test, which steps them hour by hour. The node trades btc_basis with its
capital already on the venues (both unified accounts). What a killed node leaves is what it wrote
to Redis as it ran: Nautilus' cache (orders, positions, accounts) and the strategy's state, which
the strategy checkpoints at every tick it starts at rest and when a plan ends
(``YieldStrategy._checkpoint``: Nautilus itself saves it only on a graceful stop). The test reads that state back from Redis: it is how it sees which hour the node
acted on, and what it remembers.

The fakes replay 2024 to a node on today's clock, so every feed is about two years old. The test's
mode YAML widens ``stale_after_intervals`` (a setting every user has) so that age does not hold
entries back: the stale-data hold has its own tests, and the node runs unmodified, no test-only
switch in production code.

- A clean restart: the state is restored (entered, the same action log), the node reconciles its
  positions with the venues', sends no order again, flattens nothing and acts on the next hour.
  Then SIGTERM: the kill switch halts the node and stops it, its HALTED state saved.
- A venue position changed while the node was down (as if traded by hand): the restart starts
  HALTED naming the instrument, the saved and the venue's quantity, and sends nothing; restarted
  with ``--clear-halt`` it takes the venues' book and trades again.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from backtesting.config import mode_file_path
from fakevenues.bybit import FakeBybit
from fakevenues.okx import FakeOKX
from live.redis_state import RedisAddress, local_redis
from live.transfers.config import TRANSFERS_CONFIG
from tests.live.node_process import ROOT, NodeProcess, positions, state_key
from tests.live.venue_configs import venue_config_dir

pytestmark = pytest.mark.integration

DAY = pd.Timestamp("2024-06-01", tz="UTC")
HOURS = 8
"""Hours the fakes can replay (the tests use the first five)."""
CAPITAL = 100_000.0
ALLOCATION = {"BYBIT": 0.5, "OKX": 0.5}
KEYS = {
    "BYBIT_TESTNET_API_KEY": "FAKE-RESTART-BYBIT-KEY",
    "BYBIT_TESTNET_API_SECRET": "FAKE-RESTART-BYBIT-SECRET",
    "OKX_API_KEY": "FAKE-RESTART-OKX-KEY",
    "OKX_API_SECRET": "FAKE-RESTART-OKX-SECRET",
    "OKX_API_PASSPHRASE": "FAKE-RESTART-OKX-PASS",
}
STATE_KEY = state_key("BTC_BASIS-TESTNET", "BasisStrategy-000")
BYBIT_PERP = "BTCUSDT-LINEAR.BYBIT"


def _hour(n: int) -> int:
    """Closing stamp (ns) of the ``n``-th replayed hour."""
    return (DAY + pd.Timedelta(hours=n)).value


class FakeVenues:
    """The fake Bybit and OKX served from an event loop in a background thread; the test calls
    into that loop to step them and to read or change their accounts."""

    def __init__(self, catalog_dir: Path):
        balances = {v: {"USDT": Decimal(str(CAPITAL * w))} for v, w in ALLOCATION.items()}
        start = DAY - pd.Timedelta(hours=1)  # their first step closes the day's first hour
        self.bybit = FakeBybit(
            catalog_dir, start, HOURS + 1, KEYS["BYBIT_TESTNET_API_KEY"], balances["BYBIT"]
        )
        self.okx = FakeOKX(
            catalog_dir,
            start,
            HOURS + 1,
            KEYS["OKX_API_KEY"],
            KEYS["OKX_API_PASSPHRASE"],
            balances["OKX"],
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeVenues:
        self._thread.start()
        self.run(self.bybit.start())
        self.run(self.okx.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self.bybit.stop())
        self.run(self.okx.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def run(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def on_loop(self, read: Callable[[], Any]) -> Any:
        """``read()`` on the fakes' loop (their state is only touched there)."""

        async def call() -> Any:
            return read()

        return self.run(call())

    def step(self) -> None:
        self.run(self.bybit.step())
        self.run(self.okx.step())

    def orders(self) -> list[tuple[str, str, str, str, str]]:
        """Every order the venues received: (venue order id, client order id, instrument, side, status)."""

        def read() -> list[tuple[str, str, str, str, str]]:
            return [
                (o.order_id, o.client_order_id, str(o.instrument.id), o.side, o.status)
                for fake in (self.bybit, self.okx)
                for o in fake.account.orders.values()
            ]

        return self.on_loop(read)

    def holdings(self) -> dict[str, Decimal]:
        """The accounts' coin balances and perp positions (signed contracts)."""

        def read() -> dict[str, Decimal]:
            held = {}
            for name, fake in (("BYBIT", self.bybit), ("OKX", self.okx)):
                held |= {f"{name} {coin}": qty for coin, qty in fake.account.balances.items()}
                held |= {str(i): p.qty for i, p in fake.account.positions.items()}
            return held

        return self.on_loop(read)

    def subscribed(self) -> bool:
        """Whether the node follows the hourly bars of both legs on both venues."""

        def read() -> bool:
            bybit = [
                any(t.startswith("kline") for t in self.bybit.subscriptions(f"/v5/public/{category}"))
                for category in ("spot", "linear")
            ]
            okx = {dict(c).get("instId") for c in self.okx.subscriptions("/ws/v5/business")}
            return all(bybit) and {"BTC-USDT", "BTC-USDT-SWAP"} <= okx

        return self.on_loop(read)


def _btc_basis_node(tmp_path: Path, fakes: FakeVenues, redis: RedisAddress) -> NodeProcess:
    """The node's command: btc_basis with its capital on the venues, the venue and transfers
    configs pointing at the fakes, the test's Redis and state folder."""
    mode = yaml.safe_load(mode_file_path("btc_basis").read_text())
    mode["capital"] = CAPITAL
    mode["strategy"].update(
        capital_source="venues",
        hedge_allocation=ALLOCATION,
        # the replayed feeds are ~2 years behind the node's clock: not stale for this test
        stale_after_intervals=1e6,
    )
    (tmp_path / "btc_basis.yaml").write_text(yaml.safe_dump(mode))
    config_dir = venue_config_dir(tmp_path, {"BYBIT": fakes.bybit.endpoints(), "OKX": fakes.okx.endpoints()})
    transfers = yaml.safe_load(TRANSFERS_CONFIG.read_text())
    transfers["exchanges"]["BYBIT"]["base_url"] = fakes.bybit.server.http_url
    transfers["exchanges"]["OKX"]["base_url"] = fakes.okx.server.http_url
    (tmp_path / "transfers.yaml").write_text(yaml.safe_dump(transfers))
    state_dir = tmp_path / "state"
    command = [
        sys.executable,
        str(ROOT / "run_live.py"),
        *("--mode", "btc_basis", "--env", "testnet"),
        *("--config", str(tmp_path / "btc_basis.yaml")),
        *("--venue-config", str(config_dir)),
        *("--transfers-config", str(tmp_path / "transfers.yaml")),
        *("--redis", str(redis)),
        *("--state", str(state_dir)),
        *("--out", str(tmp_path / "out")),
        *("--health-minutes", "0.02", "--log-level", "WARNING"),
    ]
    return NodeProcess(tmp_path, command, KEYS, redis, STATE_KEY, state_dir, fakes.subscribed)


def _acted_on(node: NodeProcess, fakes: FakeVenues, n: int) -> None:
    """Step the fakes one hour and wait for the node to have started the tick of the ``n``-th hour
    at rest."""
    fakes.step()
    node.checkpointed(_hour(n))


@dataclass
class Killed:
    deployment: NodeProcess
    fakes: FakeVenues
    saved: dict[str, Any]
    """The strategy's state in Redis when the node was killed."""
    positions: list[tuple[str, str, float]]
    """The node's positions just before the kill."""


@pytest.fixture
def entered_then_killed(catalog_dir, tmp_path) -> Iterator[Killed]:
    """A node that entered at the first hour, checkpointed the second and was SIGKILLed; one
    more hour passes while it is down."""
    with FakeVenues(catalog_dir) as fakes, local_redis(tmp_path / "redis") as redis:
        deployment = _btc_basis_node(tmp_path, fakes, redis)
        try:
            first = deployment.start()
            assert deployment.saved() is None  # a fresh Redis: nothing saved before
            _acted_on(deployment, fakes, 0)
            deployment.wait(
                "the entry's four orders filled",
                lambda: [o[4] for o in fakes.orders()] == ["FILLED"] * 4,
            )
            _acted_on(deployment, fakes, 1)
            # both legs on both venues (a unified account's spot holdings are positions too)
            deployment.wait("the entry in status.json", lambda: len(deployment.status()["positions"]) == 4)
            killed = Killed(deployment, fakes, deployment.saved(), positions(deployment.status()))
            deployment.kill(first)
            fakes.step()  # the third hour closes while the node is down
            yield killed
        finally:
            deployment.stop_all()
    assert all(key not in deployment.outputs() for key in KEYS.values())


def test_a_killed_node_restarts_where_it_left_off(entered_then_killed):
    deployment, before_kill = entered_then_killed.deployment, entered_then_killed.saved
    fakes = entered_then_killed.fakes
    # what the killed node had saved: entered at the first hour, its book the venues' holdings
    assert before_kill["entered"] and before_kill["actions"]["entry_full"] == 1
    assert [(ts, action) for ts, action, _ in before_kill["action_log"]] == [(_hour(0), "entry_full")]
    held = fakes.holdings()
    assert before_kill["book"] == pytest.approx(
        {
            "BTCUSDT-SPOT.BYBIT": float(held["BYBIT BTC"]),
            BYBIT_PERP: float(held[BYBIT_PERP]) * 1.0,  # Bybit's linear contract is 1 BTC
            "BTC-USDT.OKX": float(held["OKX BTC"]),
            "BTC-USDT-SWAP.OKX": float(held["BTC-USDT-SWAP.OKX"]) * 0.01,  # OKX's contract: 0.01 BTC
        },
        rel=1e-12,
    )
    venue_positions = sorted(
        [
            ("BTCUSDT-SPOT.BYBIT", "LONG", float(held["BYBIT BTC"])),
            (BYBIT_PERP, "SHORT", float(-held[BYBIT_PERP])),
            ("BTC-USDT.OKX", "LONG", float(held["OKX BTC"])),
            ("BTC-USDT-SWAP.OKX", "SHORT", float(-held["BTC-USDT-SWAP.OKX"])),
        ]
    )
    assert entered_then_killed.positions == venue_positions
    orders = fakes.orders()

    deployment.start()
    status = deployment.status()
    assert status["state"] == "RUNNING" and status["halted"] is None
    # positions reconciled: the restarted node holds the venues' positions, no inferred extra one
    assert positions(status) == venue_positions
    # it carries on: the next hour is acted on, with the state it had (no second entry)
    _acted_on(deployment, fakes, 3)
    after = deployment.saved()
    assert after["entered"] and after["halted"] is None
    assert after["actions"] == before_kill["actions"]
    assert after["action_log"] == before_kill["action_log"]
    assert after["book"] == pytest.approx(before_kill["book"], rel=1e-12)
    # no order sent again, nothing flattened
    assert fakes.orders() == orders
    assert fakes.holdings() == held
    assert positions(deployment.status()) == venue_positions

    # SIGTERM is the kill switch: the node halts (nothing sent, nothing flattened), saves that it
    # is HALTED for the next start, and stops
    run = deployment.runs[-1]
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=60) == 130
    assert "HALTED by SIGTERM: open orders cancelled, positions kept" in run.log.read_text()
    assert deployment.saved()["halted"].startswith("requested by SIGTERM at ")
    assert fakes.orders() == orders
    assert fakes.holdings() == held


def test_a_position_changed_while_down_halts_the_restart(entered_then_killed):
    deployment, before_kill = entered_then_killed.deployment, entered_then_killed.saved
    fakes = entered_then_killed.fakes
    saved_contracts = fakes.on_loop(lambda: fakes.bybit.account.positions[_perp(fakes)].qty)
    by_hand = (saved_contracts / 2).quantize(Decimal("0.001"))  # the Bybit perp's size step

    def trade_by_hand() -> None:
        fakes.bybit.account.positions[_perp(fakes)].qty = by_hand

    fakes.on_loop(trade_by_hand)
    held, orders = fakes.holdings(), fakes.orders()

    deployment.start()
    deployment.wait("the restart HALTED", lambda: deployment.status()["state"] == "HALTED")
    halted = deployment.status()["halted"]
    assert halted == (
        "the venues' book differs from the saved state: "
        f"{BYBIT_PERP}: saved {float(saved_contracts):+.8g}, venue {float(by_hand):+.8g}"
    )
    assert before_kill["book"][BYBIT_PERP] == float(saved_contracts)
    # halted, it leaves the book alone: the next hour's bars reach it, and nothing is sent
    ages = deployment.status()["feeds"]
    bar_feeds = [feed for feed in ages if feed.startswith("bars ")]
    assert len(bar_feeds) == 4
    fakes.step()
    deployment.wait(
        "the next hour's bars on every leg",
        lambda: all(deployment.status()["feeds"][f] < ages[f] - 1800 for f in bar_feeds),
    )
    time.sleep(1.0)  # what a tick on those bars would send reaches the fakes well within this
    assert fakes.orders() == orders
    assert fakes.holdings() == held
    # and its saved book is still the one the venues were checked against
    assert deployment.saved()["book"] == before_kill["book"]

    # the operator's go-ahead: restarted with --clear-halt, it takes the venues' book as it is and
    # trades again (the halved short leaves the net delta out of tolerance: a rebalance)
    deployment.stop_all()
    deployment.start(["--clear-halt"])
    assert deployment.status()["state"] == "RUNNING"
    _acted_on(deployment, fakes, 4)
    assert deployment.saved()["halted"] is None
    deployment.wait("the rebalance's orders", lambda: len(fakes.orders()) > len(orders))


def _perp(fakes: FakeVenues):
    return next(i for i in fakes.bybit.account.positions if str(i) == BYBIT_PERP)
