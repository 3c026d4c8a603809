"""Real-data fixtures: the input frame of the session catalog, and a private copy of the catalog
with the default predictions built by the real command (so the shared catalog stays untouched)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from signals.config import SignalConfig
from signals.inputs import load_inputs

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def real_inputs(catalog_dir: Path) -> pd.DataFrame:
    return load_inputs(catalog_dir, SignalConfig())
