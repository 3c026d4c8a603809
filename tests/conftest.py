"""Shared fixtures: where the real history is, and a catalog built from it once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data_catalog.builder import build_catalog

pytest_plugins = ["tests.localchain.fixtures"]
"""The local chain's session deployment, shared by every test of on-chain code."""

PROJECT = Path(__file__).resolve().parents[1]
IN_FRESH_PROCESS = "BASIS_TEST_IN_FRESH_PROCESS"
"""Set in the interpreter a ``fresh_process`` test runs in."""
REUSED_CATALOGS = {"catalog_dir": "BASIS_TEST_CATALOG_DIR", "built_signals": "BASIS_TEST_SIGNALS_CATALOG_DIR"}
"""The session catalogs a fresh-process test reuses from the suite's process (by fixture)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fresh_process: run the test in an interpreter of its own. A live node must not inherit "
        "the process-wide state a backtest leaves in Nautilus 1.231: each backtest venue is "
        "registered for good in AccountFactory's calculated accounts, after which a live account "
        "of that venue applies every fill to its balances on top of what the venue reports.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A ``fresh_process`` test runs as its own pytest in a new interpreter, reusing the session's
    catalogs (building them again would cost minutes)."""
    if pyfuncitem.get_closest_marker("fresh_process") is None or os.environ.get(IN_FRESH_PROCESS):
        return None
    env = {**os.environ, IN_FRESH_PROCESS: "1"}
    for fixture, variable in REUSED_CATALOGS.items():
        if fixture in pyfuncitem.funcargs:
            value = pyfuncitem.funcargs[fixture]
            env[variable] = str(value[0] if isinstance(value, tuple) else value)
    proc = subprocess.run(
        # Nautilus' executor leaves coroutines that warn once the loop is closed: noise that would
        # bury a failure's report
        [
            sys.executable,
            "-m",
            "pytest",
            pyfuncitem.nodeid,
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        failures = output.find("= FAILURES =")
        report = output[failures:][:8000] if failures >= 0 else output[-8000:]
        pytest.fail(f"in its own interpreter:\n{report}", pytrace=False)
    return True


def real_data_dir() -> Path | None:
    """``$BASIS_DATA_DIR`` or ``../shared/data``, if it holds the raw history."""
    candidate = Path(os.environ.get("BASIS_DATA_DIR", PROJECT.parent / "shared" / "data"))
    return candidate if (candidate / "cex").is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = real_data_dir()
    if path is None:
        pytest.skip("real history not found: set BASIS_DATA_DIR or put it at ../shared/data")
    return path


@pytest.fixture(scope="session")
def catalog_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full real-data catalog, built once for the whole test session."""
    if reused := os.environ.get(REUSED_CATALOGS["catalog_dir"]):
        return Path(reused)
    path = tmp_path_factory.mktemp("catalog") / "catalog"
    build_catalog(data_dir, path)
    return path


@pytest.fixture(scope="session")
def built_signals(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(catalog copy with default predictions built by ``python -m signals build``, its stdout;
    in a fresh-process test, the suite's copy without the stdout)."""
    if reused := os.environ.get(REUSED_CATALOGS["built_signals"]):
        return Path(reused), ""
    copy = tmp_path_factory.mktemp("signals") / "catalog"
    shutil.copytree(catalog_dir, copy)
    proc = subprocess.run(
        [sys.executable, "-m", "signals", "build", "--catalog", str(copy)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return copy, proc.stdout
