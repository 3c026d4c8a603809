"""Where a live node keeps its state across restarts: Redis, Nautilus' only cache database.

The node's cache (orders, positions, accounts, instruments) and every strategy's ``on_save``
state are written to Redis and read back by the next node with the same trader id. A user points
the node at their own server (a ``redis://`` URL); by default a private ``redis-server`` (Debian's
package, ≥ 6.2) is started on a free loopback port, without disk snapshots, and stopped with the
node. ``fakeredis`` does not work here: Nautilus' connection needs the ``INFO`` command.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from nautilus_trader.config import CacheConfig, DatabaseConfig

REDIS_SERVER = "redis-server"
STARTUP_TIMEOUT_SECS = 10.0


class RedisUnavailable(RuntimeError):
    """No Redis server to keep the node's state in (not installed, or not answering)."""


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """``redis://[:password@]host[:port]``; the password stays out of every message."""
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            raise ValueError(f"not a redis:// URL: {parts.scheme}://{parts.hostname or ''}")
        return cls(parts.hostname, parts.port or 6379, parts.password)

    def __str__(self) -> str:
        return f"redis://{self.host}:{self.port}"  # never the password


def cache_config(address: RedisAddress) -> CacheConfig:
    """The node's cache, persisted to ``address`` and kept across restarts (never flushed on
    start: a restart must find what the previous run left)."""
    return CacheConfig(
        database=DatabaseConfig(
            type="redis", host=address.host, port=address.port, password=address.password
        ),
        encoding="msgpack",
        flush_on_start=False,
        persist_account_events=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def local_redis(data_dir: Path | None = None) -> Iterator[RedisAddress]:
    """A private ``redis-server`` on a free loopback port for the duration of the block.

    With ``data_dir`` the server logs every write to an append-only file there, so a later server
    started on the same folder (the node restarted) finds the state; without, nothing touches the
    disk.
    """
    binary = shutil.which(REDIS_SERVER)
    if binary is None:
        raise RedisUnavailable(
            "redis-server is not installed (Debian: apt-get install -y redis-server); "
            "or point the node at a running server with --redis redis://HOST:PORT"
        )
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "yes"]
    if data_dir is None:
        args += ["--save", "", "--appendonly", "no"]
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(data_dir), "--save", "", "--appendonly", "yes"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECS
        while not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                error = server.stderr.read().decode(errors="replace").strip() if server.stderr else ""
                raise RedisUnavailable(f"redis-server did not start on port {port}: {error or 'no answer'}")
            time.sleep(0.05)
        yield RedisAddress("127.0.0.1", port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
