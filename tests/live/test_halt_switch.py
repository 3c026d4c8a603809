"""The kill switch and the health timer as node components: in a bare ``TradingNode`` (no venue
clients) the halt switch publishes a request once it appears, and the health reporter emits on
its clock timer, both on the node's event loop (Nautilus' live timers call back on a thread of
their own)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import msgspec
from nautilus_trader.config import LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode

from adapters.halt import HALT_TOPIC, HaltRequest
from backtesting.config import load_run_config, mode_file_path
from live.environments import LiveEnv
from live.halt import HALT_FILE, HaltSwitch, HaltSwitchConfig, clear_halt, read_halt, request_halt
from live.health import HealthMonitor, HealthReporter
from live.redis_state import RedisAddress
from live.trading import live_node_config
from live.venues import plan_live


def _run_node(actors, during) -> None:
    """Start a bare node with ``actors``, await ``during(node)``, stop and dispose it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    config = TradingNodeConfig(
        logging=LoggingConfig(log_level="ERROR"), timeout_disconnection=0.1, timeout_post_stop=0.0
    )
    node = TradingNode(config=config, loop=loop)
    for actor in actors:
        node.trader.add_actor(actor)
    node.build()

    async def main() -> None:
        await node.kernel.start_async()
        try:
            await during(node)
        finally:
            await node.kernel.stop_async()

    try:
        loop.run_until_complete(main())
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]  # executor workers
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    finally:
        node.dispose()


def test_the_request_is_written_whole_and_a_garbled_one_still_halts(tmp_path):
    path = request_halt(tmp_path, flatten=True)
    assert path == tmp_path / HALT_FILE and not list(tmp_path.glob("*.partial"))
    request = read_halt(tmp_path)
    assert request is not None and request.flatten and request.source == "run_live.py --halt"
    path.write_text("{not json")
    garbled = read_halt(tmp_path)
    assert garbled is not None and not garbled.flatten and "unreadable halt file" in garbled.source
    clear_halt(tmp_path)
    assert read_halt(tmp_path) is None


def test_the_switch_publishes_a_request_once_on_the_nodes_loop(tmp_path):
    main_thread = threading.get_ident()
    received: list[tuple[HaltRequest, bool]] = []
    switch = HaltSwitch(HaltSwitchConfig(state_dir=str(tmp_path), poll_secs=0.05))

    async def during(node: TradingNode) -> None:
        node.kernel.msgbus.subscribe(
            HALT_TOPIC, lambda r: received.append((r, threading.get_ident() == main_thread))
        )
        await asyncio.sleep(0.3)
        assert received == []  # nothing asked yet
        request_halt(tmp_path, flatten=False)
        await asyncio.sleep(0.3)  # several polls: published once

    _run_node([switch], during)
    assert len(received) == 1
    request, on_loop = received[0]
    assert not request.flatten and on_loop
    assert switch.request == request


class _Recorder(HealthMonitor):
    """A monitor that records when it is asked to emit (the status itself is tested in paper)."""

    def __init__(self, every_minutes: float) -> None:
        super().__init__("test", None, None, Path("unused"), print, every_minutes)  # type: ignore[arg-type]
        self.emitted: list[bool] = []
        self._main = threading.get_ident()

    def emit(self, now_ns: int) -> None:
        self.emitted.append(threading.get_ident() == self._main)


def test_the_health_reporter_emits_every_interval_on_the_nodes_loop():
    monitor = _Recorder(every_minutes=0.1 / 60)  # every 100 ms

    async def during(node: TradingNode) -> None:
        await asyncio.sleep(0.55)

    _run_node([HealthReporter(monitor)], during)
    assert 4 <= len(monitor.emitted) <= 6 and all(monitor.emitted)


def test_the_live_node_carries_the_yamls_caps_and_the_kill_switch(tmp_path):
    """The live node's configuration: Nautilus' risk engine with the mode's per-order notional and
    order-rate caps, and the halt switch watching the run's state folder."""
    run = load_run_config(mode_file_path("btc_basis"))
    run.strategy = msgspec.structs.replace(
        run.strategy, capital_source="venues", max_orders_per_minute=12, max_order_notional_usd=90_000.0
    )
    plan = plan_live(run, LiveEnv.SANDBOX)
    needs = run.spec.strategy(run.strategy).data_needs()
    config = live_node_config(
        run, plan, needs, RedisAddress("127.0.0.1", 6379), tmp_path, "ERROR", tmp_path / "state"
    )
    assert config.risk_engine.max_order_submit_rate == "12/00:01:00"
    assert set(config.risk_engine.max_notional_per_order.values()) == {90_000.0}
    (switch,) = [a for a in config.actors if a.actor_path == f"{HaltSwitch.__module__}:HaltSwitch"]
    assert switch.config["state_dir"] == str(tmp_path / "state")
