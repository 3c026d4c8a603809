"""``run_live.py``'s node as a real subprocess, for the restart tests: started with one command (its
mode YAML, venue configs pointing at fakes on 127.0.0.1, a Redis of the test's own, a state
folder), killed outright (SIGKILL) and started again with the same command, as often as a test
wants; what it left is read back from Redis (the strategy's saved state) and from ``status.json``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from live.redis_state import RedisAddress

ROOT = Path(__file__).resolve().parents[2]
NODE_START_SECS = 60.0


def state_key(trader_id: str, strategy_id: str) -> str:
    """Where Nautilus keeps a strategy's saved state in Redis (the trader id is the mode and
    environment: ``live.trading.trader_id``)."""
    return f"trader-{trader_id}:strategies:{strategy_id}:state"


def saved_state(redis: RedisAddress, key: str) -> dict[str, bytes] | None:
    """The strategy's last saved state at ``key`` in Redis (None before the first save): its
    ``on_save`` parts by name.

    Nautilus stores it as one value, the msgpack of ``{name: bytes}``. Read over Redis' wire
    protocol (no client library needed)."""
    with socket.create_connection((redis.host, redis.port), timeout=5) as conn:
        command = [b"GET", key.encode()]
        conn.sendall(b"*%d\r\n" % len(command) + b"".join(b"$%d\r\n%s\r\n" % (len(c), c) for c in command))
        reply = conn.makefile("rb")
        header = reply.readline()
        assert header.startswith(b"$"), header
        size = int(header[1:])
        if size < 0:
            return None
        payload = reply.read(size)
    return msgspec.msgpack.decode(payload)


@dataclass
class Run:
    """One ``run_live.py`` process and where its output goes."""

    process: subprocess.Popen
    log: Path


class NodeProcess:
    """``command`` (a ``run_live.py`` command line whose ``--state`` is ``state_dir``) run with the
    venues' ``keys`` in its environment; ``following()`` tells when a started node follows the
    fakes' bars (so the next step reaches it)."""

    def __init__(
        self,
        tmp_path: Path,
        command: list[str],
        keys: dict[str, str],
        redis: RedisAddress,
        key: str,
        state_dir: Path,
        following: Callable[[], bool],
    ):
        self.tmp_path, self.command, self.keys = tmp_path, command, keys
        self.redis, self.key, self.state_dir, self.following = redis, key, state_dir, following
        self.runs: list[Run] = []

    def start(self, extra: list[str] | None = None, env: dict[str, str] | None = None) -> Run:
        """Start the node (``extra`` arguments appended, ``env`` added to its environment) and wait
        until it follows the bars and has written its first ``status.json``."""
        (self.state_dir / "status.json").unlink(missing_ok=True)
        log = self.tmp_path / f"node{len(self.runs)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*self.command, *(extra or [])],
                cwd=ROOT,
                env=os.environ | self.keys | (env or {}),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        run = Run(process, log)
        self.runs.append(run)
        self.wait(f"node {len(self.runs)} subscribed to the bars", self.following, NODE_START_SECS)
        self.wait(f"node {len(self.runs)}'s first status.json", lambda: self.status() is not None)
        return run

    def kill(self, run: Run) -> None:
        run.process.send_signal(signal.SIGKILL)
        assert run.process.wait(timeout=10) == -signal.SIGKILL

    def stop_all(self) -> None:
        for run in self.runs:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait(timeout=10)

    def status(self) -> dict[str, Any] | None:
        path = self.state_dir / "status.json"
        return json.loads(path.read_text()) if path.exists() else None

    def saved_parts(self) -> dict[str, Any] | None:
        """The strategy's saved state, each part decoded (JSON, as the strategies write theirs)."""
        state = saved_state(self.redis, self.key)
        return {name: json.loads(value) for name, value in state.items()} if state is not None else None

    def saved(self, part: str = "yield_strategy") -> dict[str, Any] | None:
        """``part`` of the strategy's saved state."""
        return (self.saved_parts() or {}).get(part)

    def checkpointed(self, hour_ns: int) -> None:
        """Wait for the node to have started the tick of the hour closing at ``hour_ns`` at rest
        (its checkpoint in Redis names that hour)."""
        self.wait(
            f"the node's checkpoint of {time.strftime('%Y-%m-%d %H:%M', time.gmtime(hour_ns / 1e9))}",
            lambda: (self.saved() or {}).get("gate", {}).get("hour") == hour_ns,
        )

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            for run in self.runs[-1:]:
                if run.process.poll() is not None:
                    raise AssertionError(
                        f"the node exited ({run.process.returncode}) while waiting for {what}:\n"
                        + run.log.read_text()[-3000:]
                    )
            if time.monotonic() > deadline:
                log = self.runs[-1].log.read_text(errors="replace")[-3000:] if self.runs else ""
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; the node's log ends:\n{log}"
                )
            time.sleep(0.1)

    def outputs(self) -> str:
        return "".join(r.log.read_text(errors="replace") for r in self.runs)


def positions(status: dict[str, Any]) -> list[tuple[str, str, float]]:
    """The node's open CEX positions in ``status``: (instrument, side, quantity)."""
    return sorted((p["instrument"], p["side"], p["quantity"]) for p in status["positions"])
