"""``python -m localchain`` deploys, prints where everything is, and stops its chain."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localchain.tools import missing_tools


def test_the_cli_prints_the_deployment_and_stops(data_dir: Path) -> None:
    if problem := missing_tools():
        pytest.skip(f"local chain unavailable: {problem}")
    run = subprocess.run(
        [sys.executable, "-m", "localchain", "--once", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    deployed = json.loads(run.stdout)
    assert set(deployed["tokens"]) == {"WETH", "USDT", "wstETH", "weETH"}
    assert set(deployed["uniswap"]["pools"]) == {"ETHUSDT-UNIV3", "WSTETHETH-UNIV3", "WEETHETH-CURVE"}
    assert all(address.startswith("0x") for address in deployed["aave"]["a_tokens"].values())
    port = int(deployed["rpc_url"].rsplit(":", 1)[1])
    with pytest.raises(OSError):  # the chain is gone
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
