"""Shared fixtures: where the real history is, and a catalog built from it once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data_catalog.builder import build_catalog

PROJECT = Path(__file__).resolve().parents[1]


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
    path = tmp_path_factory.mktemp("catalog") / "catalog"
    build_catalog(data_dir, path)
    return path


@pytest.fixture(scope="session")
def built_signals(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(catalog copy with default predictions built by ``python -m signals build``, its stdout)."""
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
