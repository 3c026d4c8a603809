"""An anvil node on a free loopback port, with the test-control RPCs (snapshot, revert, time)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from types import TracebackType

from web3 import Web3

from localchain.tools import ANVIL, missing_tools


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STATE_IN_MEMORY = ("--prune-history", "64")
"""Keep the last 64 block states in memory and none on disk: by default anvil also writes older
states to ``~/.foundry/anvil/tmp``, which a replayed week grows to gigabytes and a killed node
never removes."""


class Anvil:
    """A fresh, empty chain for the duration of a ``with`` block (its 10 accounts hold 10,000 ETH).

    anvil is started in its own process group so stopping it also stops the native binary that
    the npm launcher spawns.
    """

    def __init__(self, port: int | None = None, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = port or 0
        self._process: subprocess.Popen[bytes] | None = None
        self.w3: Web3 | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Web3:
        problem = missing_tools()
        if problem:
            raise RuntimeError(problem)
        self.port = self.port or _free_port()
        self._process = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--silent", *STATE_IN_MEMORY],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))
        deadline = time.monotonic() + self.startup_timeout
        while not w3.is_connected():
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"anvil exited with {self._process.returncode}: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"anvil did not answer on {self.url} within {self.startup_timeout}s")
            time.sleep(0.05)
        w3.eth.default_account = w3.eth.accounts[0]
        # web3's request validation asks the node for its chain id before every call and
        # transaction (uncached): on a chain we started ourselves it only doubles the round trips
        w3.middleware_onion.remove("validation")
        self.w3 = w3
        return w3

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None

    def __enter__(self) -> Web3:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def rpc(w3: Web3, method: str, *params: object) -> object:
    """Call an anvil/Hardhat test RPC and return its result (raises on an RPC error)."""
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}{params}: {response['error']}")
    return response["result"]


def snapshot(w3: Web3) -> str:
    """Save the chain state; ``revert(w3, id)`` returns to it (an id is consumed by its revert)."""
    return str(rpc(w3, "evm_snapshot"))


def revert(w3: Web3, snapshot_id: str) -> None:
    if rpc(w3, "evm_revert", snapshot_id) is not True:
        raise RuntimeError(f"evm_revert({snapshot_id}) failed")


def advance_time(w3: Web3, seconds: int) -> None:
    """Move the chain clock forward and mine a block stamped with the new time."""
    rpc(w3, "evm_increaseTime", seconds)
    rpc(w3, "evm_mine")
