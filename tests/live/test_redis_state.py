"""A live node's state survives a restart through Redis: one process runs a node that saves a
strategy's state and exits; a fresh process with the same trader id and Redis finds it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from live.redis_state import RedisAddress, RedisUnavailable, cache_config, local_redis

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")

NODE = textwrap.dedent(
    """
    import asyncio, json, sys
    from nautilus_trader.config import LoggingConfig, TradingNodeConfig
    from nautilus_trader.live.node import TradingNode
    from nautilus_trader.model.identifiers import TraderId
    from backtesting.config import load_run_config, mode_file_path
    from live.redis_state import RedisAddress, cache_config

    phase, port = sys.argv[1], int(sys.argv[2])
    run = load_run_config(mode_file_path("btc_basis"))
    strategy = run.spec.strategy(run.strategy)
    config = TradingNodeConfig(
        trader_id=TraderId("LIVE-001"),
        cache=cache_config(RedisAddress("127.0.0.1", port)),
        logging=LoggingConfig(log_level="ERROR"),
        save_state=phase == "save",
        load_state=phase == "load",
        timeout_connection=5.0,
        timeout_disconnection=1.0,
        timeout_post_stop=0.0,
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    node = TradingNode(config=config, loop=loop)
    node.build()
    node.trader.add_strategy(strategy)
    if config.load_state:  # a strategy added after build is loaded by hand (the kernel loads at build)
        node.kernel.cache.load_strategy(strategy)

    async def main():
        await node.kernel.start_async()
        if phase == "save":
            strategy.entered = True
            strategy.actions["rebalance"] = 7
            strategy.rejections.append("a rejection to remember")
            strategy.gate.hour = 1_717_200_000_000_000_000
        await node.kernel.stop_async()

    loop.run_until_complete(main())
    print(json.dumps({
        "entered": strategy.entered,
        "rebalances": strategy.actions["rebalance"],
        "rejections": strategy.rejections,
        "hour": strategy.hour,
    }))
    node.dispose()
    """
)


def _node(phase: str, port: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", NODE, phase, str(port)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_strategys_state_survives_a_node_restart_through_redis():
    with local_redis() as redis:
        saved = _node("save", redis.port)
        loaded = _node("load", redis.port)
    assert saved == {
        "entered": True,
        "rebalances": 7,
        "rejections": ["a rejection to remember"],
        "hour": 1_717_200_000_000_000_000,
    }
    assert loaded == saved  # a fresh process, the same trader id and Redis


def test_a_private_server_on_a_state_folder_keeps_the_state_across_its_own_restart(tmp_path):
    """The default for run_live.py: the node's private server logs to the run's state folder, so
    a restarted node (and server) on the same folder carries on."""
    with local_redis(tmp_path / "redis") as redis:
        saved = _node("save", redis.port)
    with local_redis(tmp_path / "redis") as redis:  # a new server, another port, the same folder
        loaded = _node("load", redis.port)
    assert loaded == saved and saved["rebalances"] == 7


def test_without_saved_state_the_strategy_starts_empty():
    with local_redis() as redis:
        loaded = _node("load", redis.port)
    assert loaded == {"entered": False, "rebalances": 0, "rejections": [], "hour": 0}


def test_a_redis_url_keeps_its_password_out_of_messages():
    address = RedisAddress.from_url("redis://:s3cret-pw@10.0.0.5:6380")
    assert (address.host, address.port, address.password) == ("10.0.0.5", 6380, "s3cret-pw")
    assert "s3cret" not in str(address)
    assert cache_config(address).database.password == "s3cret-pw"
    with pytest.raises(ValueError, match="not a redis:// URL") as error:
        RedisAddress.from_url("http://user:s3cret-pw@host")
    assert "s3cret" not in str(error.value)


def test_a_missing_server_binary_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RedisUnavailable, match="apt-get install -y redis-server"), local_redis():
        pass
