"""The command lines a user runs: clear errors with exit code 2, a results table on success."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backtesting import cli
from data_catalog import paths
from tests.conftest import PROJECT


def test_unknown_mode_lists_the_available_ones(capsys):
    assert cli.main(["--mode", "moon_shot"]) == 2
    err = capsys.readouterr().err
    assert "unknown mode 'moon_shot'" in err and "btc_basis" in err and "eth_basis" in err


def test_window_outside_the_data_is_refused(capsys, catalog_dir, tmp_path):
    code = cli.main(
        [
            "--mode",
            "btc_basis",
            "--start",
            "2023-01-01",
            "--end",
            "2023-03-01",
            "--catalog",
            str(catalog_dir),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "outside the data" in err and "BTCUSDT-PERP.BINANCE" in err
    assert not (tmp_path / "out").exists(), "nothing is written for a refused run"


def test_no_data_anywhere_says_where_it_looked_and_how_to_get_some(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("BASIS_DATA_DIR", raising=False)
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        ["--mode", "btc_basis", "--catalog", str(tmp_path / "catalog"), "--out", str(tmp_path / "out")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "Looked in" in err and str(tmp_path / "data") in err and "../shared/data" in err
    assert "python -m data_catalog download" in err
    assert not (tmp_path / "catalog").exists() and not (tmp_path / "out").exists()


@pytest.mark.integration
def test_run_backtest_script_end_to_end(catalog_dir, data_dir, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "run_backtest.py"),
            "--mode",
            "btc_basis",
            "--start",
            "2024-06-01",
            "--end",
            "2024-06-20",
            "--capital",
            "50000",
            "--catalog",
            str(catalog_dir),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={"BASIS_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "btc_basis: results in" in proc.stdout and "APY" in proc.stdout
    assert (out / "summary.json").is_file() and (out / "tearsheet.html").is_file()


def test_run_live_refuses_an_unknown_mode_and_a_reversed_window_as_the_backtest_does(tmp_path):
    run = [sys.executable, str(PROJECT / "run_live.py"), "--env", "paper", "--out", str(tmp_path / "r")]
    unknown = subprocess.run(
        [*run, "--mode", "nope"], capture_output=True, text=True, timeout=60, check=False
    )
    assert unknown.returncode == 2 and "unknown mode 'nope'" in unknown.stderr
    reversed_ = subprocess.run(
        [*run, "--mode", "btc_basis", "--start", "2024-06-10", "--end", "2024-06-01"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reversed_.returncode == 2 and "must be after start" in reversed_.stderr
    assert not (tmp_path / "r").exists()


def test_usdt_runs_print_their_apy_beside_the_benchmarks():
    from backtesting.cli import _comparison

    summary = {
        "mode": "usdt_eth_staking_hedged_leveraged",
        "apy": 0.13,
        "benchmarks": {"susde": {"apy_mean": 0.1046}, "aave_usdt_lending": {"apy": None}},
        "hedge": {
            "max_abs_delta_fraction": 0.0034,
            "margin_top_ups": 1,
            "margin_releases": 2,
            "deleverages": 0,
        },
    }
    line = _comparison(summary)
    assert line is not None
    assert "APY +13.00% vs sUSDe +10.46%, Aave USDT lending n/a" in line
    assert "max |net delta| 0.34% of NAV, 1 margin top-ups, 2 margin releases, 0 deleverages" in line
    assert _comparison({"mode": "eth_leveraged", "apy": 0.19}) is None  # ETH class: no USDT benchmarks
