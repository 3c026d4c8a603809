"""The same sweep on a two-node Ray cluster on 127.0.0.1 (a head and a worker node, one CPU
each) through ``--address``: both nodes run workers and the figures equal an in-process sweep's.

The nodes are ``ray start --block`` processes in sessions of their own, stopped by signalling
their process groups (``ray stop`` would stop every Ray of the machine's user)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from research.sweep.config import load_sweep
from research.sweep.driver import run_sweep

PROJECT = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")
# no token file to share between the test's nodes (Ray >= 2.5x enables token auth by default)
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(PROJECT)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nodes_alive(address: str) -> int:
    status = subprocess.run([RAY, "status", f"--address={address}"], env=ENV, capture_output=True, text=True)
    return status.stdout.count(" node_") if status.returncode == 0 else 0


def _stop(procs: list[subprocess.Popen]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        time.sleep(3 if sig == signal.SIGTERM else 0)
    for proc in procs:
        proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A head and a worker node on 127.0.0.1; the address to pass to ``--address``."""
    address = f"127.0.0.1:{_free_port()}"
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats"]
    common.append("--object-store-memory=200000000")  # not 30 % of the machine's memory per node
    head_args = ["--head", f"--port={address.split(':')[1]}", "--include-dashboard=false"]
    # Ray's socket paths must stay under 108 bytes: a short folder, not pytest's tmp_path
    temp_dir = tempfile.mkdtemp(prefix="ray")
    head_args.append(f"--temp-dir={temp_dir}")
    procs = []
    try:
        for args, nodes in ((head_args, 1), ([f"--address={address}"], 2)):
            log = open(tmp_path / f"node{nodes}.log", "w")  # noqa: SIM115 - the node writes it until stopped
            procs.append(
                subprocess.Popen(
                    [RAY, "start", *args, *common], env=ENV, stdout=log, stderr=log, start_new_session=True
                )
            )
            deadline = time.monotonic() + 90
            while _nodes_alive(address) < nodes:
                assert procs[-1].poll() is None, (tmp_path / f"node{nodes}.log").read_text()[-2000:]
                assert time.monotonic() < deadline, f"node {nodes} did not join"
                time.sleep(1)
        yield address
    finally:
        _stop(procs)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.integration
def test_sweep_runs_on_a_two_node_cluster(cluster: str, catalog_dir: Path, tmp_path: Path) -> None:
    sweep_file = PROJECT / "configs" / "sweeps" / "tiny.yaml"
    argv = [
        sys.executable,
        "-m",
        "research",
        "sweep",
        str(sweep_file),
        "--address",
        cluster,
        "--workers",
        "2",
    ]
    argv += ["--out", str(tmp_path / "cluster"), "--catalog", str(catalog_dir)]
    done = subprocess.run(argv, cwd=PROJECT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    on_cluster = pd.read_parquet(tmp_path / "cluster" / "runs.parquet").set_index("key").sort_index()
    assert len(on_cluster) == 4 and set(on_cluster["status"]) == {"ok"}
    nodes = {w.split(":")[2] for w in on_cluster["worker"]}
    assert len(nodes) == 2, on_cluster["worker"]  # both nodes ran workers
    local = run_sweep(load_sweep(sweep_file), tmp_path / "local", catalog_dir, workers=0, show_progress=False)
    local_rows = local.frame.set_index("key").sort_index()
    figures = ["apy", "final_nav", "max_drawdown", "sharpe", "reconciliation_error"]
    pd.testing.assert_frame_equal(on_cluster[figures], local_rows[figures])
