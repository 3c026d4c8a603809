"""Scenario files: the shipped examples load and sit in the data window; bad ones are refused with
the file and the field named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from adapters.config import ConfigError
from backtesting.config import load_run_config, mode_file_path
from scenarios.config import SCENARIO_DIR, load_scenario

GOOD = {"kind": "gas_spike", "factor": 20, "hours": 6}


def write(tmp_path: Path, **changes) -> Path:
    raw = {"name": "x", "description": "d", "start": "2024-06-01", "transformations": [GOOD], **changes}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_every_shipped_example_loads_and_changes_data_inside_the_modes_window():
    default = load_run_config(mode_file_path("btc_basis"))  # every mode's YAML: 2024-05-12 .. 2025-09-18
    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    kinds = set()
    for path in files:
        scenario = load_scenario(path.stem)
        assert scenario.name == path.stem
        for t in scenario.file.transformations:
            kinds.add(type(t).__name__)
            start, end = (pd.Timestamp(ns, tz="UTC") for ns in scenario.window(t))
            assert default.start <= start < end <= default.end, path.name
    assert kinds == {
        "LstDepeg",
        "FundingInversion",
        "BorrowRateSpike",
        "PriceCrash",
        "VenueOutage",
        "GasSpike",
    }


@pytest.mark.parametrize(
    ("transformation", "message"),
    [
        (
            {"kind": "lst_depeg", "asset": "wstETH", "depth": 1.2, "days": 3},
            r"depth must be in \(0, 1\), got 1.2",
        ),
        (
            {"kind": "lst_depeg", "asset": "wstETH", "depth": 0.05, "days": 3, "recovery": "linear"},
            "recovery_days must be positive for a linear recovery",
        ),
        ({"kind": "funding_inversion", "days": 0}, "days must be positive, got 0"),
        (
            {"kind": "borrow_rate_spike", "utilization": 1.0, "kink": 0.92, "days": 3},
            r"utilization must be in \(0, 1\), got 1.0",
        ),
        (
            {"kind": "price_crash", "asset": "ETH", "drop": 0.25, "recovered": -0.1},
            r"recovered must be in \[0, 1\)",
        ),
        ({"kind": "venue_outage", "venue": "BINANCE"}, "missing required field `hours`"),
        (
            {"kind": "gas_spike", "factor": "high", "hours": 6},
            r"Expected `float`, got `str`",
        ),
        ({"kind": "meteor", "days": 1}, r"Invalid value 'meteor'"),
        ({**GOOD, "hour": 6}, "unknown field `hour`"),
    ],
)
def test_a_bad_transformation_names_the_file_and_the_field(tmp_path, transformation, message):
    path = write(tmp_path, transformations=[GOOD, transformation])
    with pytest.raises(ConfigError, match=message) as raised:
        load_scenario(str(path))
    assert str(path) in str(raised.value)
    assert "$.transformations[1]" in str(raised.value)


def test_a_scenario_needs_transformations_a_start_and_an_existing_file(tmp_path):
    with pytest.raises(ConfigError, match="transformations: give at least one"):
        load_scenario(str(write(tmp_path, transformations=[])))
    with pytest.raises(ConfigError, match=r"bad.yaml: start: cannot parse 'soon'"):
        load_scenario(str(write(tmp_path, start="soon")))
    with pytest.raises(ConfigError, match=r"scenario not found: .*configs/scenarios/no_such\.yaml"):
        load_scenario("no_such")


def test_a_scenario_starting_outside_the_run_window_is_refused(tmp_path):
    scenario = load_scenario(str(write(tmp_path, start="2023-01-01")))
    with pytest.raises(
        ConfigError, match=r"bad.yaml: start 2023-01-01 00:00:00\+00:00 is outside the run window"
    ):
        load_run_config(mode_file_path("btc_basis"), scenario=scenario)
