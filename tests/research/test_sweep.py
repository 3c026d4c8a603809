"""``python -m research sweep``: a sweep's figures equal separate ``run_backtest.py`` runs (a worker
that keeps data in memory and runs one backtest after another leaks nothing between runs), a
failed run is recorded without stopping the sweep, a killed sweep resumes, Optuna trials, and
the validation errors that stop a sweep before any worker starts."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from adapters.config import ConfigError
from backtesting.config import mode_file_path, set_field
from research.sweep import cli
from research.sweep.config import load_sweep
from research.sweep.driver import run_sweep
from research.sweep.worker import SweepWorker

PROJECT = Path(__file__).resolve().parents[2]
WEEK = {"start": "2024-06-01", "end": "2024-06-08"}
SWEEPS: dict[str, dict[str, list]] = {
    # mode → two swept fields with 3 × 2 values (6 runs): a basis, an on-chain and a hedged mode
    "btc_basis": {"strategy.perp_margin_fraction": [0.15, 0.25, 0.4], "strategy.margin_floor": [0.06, 0.1]},
    # the LST changes the data a run reads: the worker's in-memory data switches between runs
    "eth_leveraged": {"strategy.target_ltv": [0.85, 0.88, 0.9], "strategy.lst": ["WEETH", "WSTETH"]},
    "usdt_eth_staking_hedged_simple": {
        "strategy.hedge.stake_allocation": [0.45, 0.5, 0.55],
        "strategy.hedge.margin_floor": [0.2, 0.3],
    },
}
RUN_OBJECTS = ("BacktestEngine", "AccountingActor", "WalletModule", "CexVenueModule")
"""Per-run components that must not accumulate in a worker."""
FIGURES = ("final_nav", "apy", "annual_volatility", "sharpe", "sortino", "max_drawdown", "liquidations")


def write_sweep(path: Path, mode: str, parameters: dict, **extra) -> Path:
    spec = {
        "mode": mode,
        "parameters": {name: {"values": values} for name, values in parameters.items()},
        "windows": [WEEK],
        **extra,
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def single_run(mode: str, params: dict, catalog: Path, out: Path) -> dict:
    """One ``run_backtest.py`` process on a mode YAML with ``params`` set: its ``summary.json``."""
    raw = yaml.safe_load(mode_file_path(mode).read_text())
    for name, value in params.items():
        set_field(raw, name, value, "test")
    config = out.with_suffix(".yaml")
    config.write_text(yaml.safe_dump(raw))
    argv = [sys.executable, "run_backtest.py", "--mode", mode, "--config", str(config), "--out", str(out)]
    argv += [
        "--start",
        WEEK["start"],
        "--end",
        WEEK["end"],
        "--catalog",
        str(catalog),
        "--use-existing-catalog",
    ]
    subprocess.run(argv, cwd=PROJECT, check=True, capture_output=True, text=True)
    return json.loads((out / "summary.json").read_text())


def live_objects(kind: str) -> int:
    gc.collect()
    return sum(type(o).__name__ == kind for o in gc.get_objects())


@pytest.mark.integration
@pytest.mark.parametrize("mode", list(SWEEPS))
def test_sweep_equals_separate_runs(mode: str, catalog_dir: Path, tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "sweep.yaml", mode, SWEEPS[mode]))
    tasks = [t for params in sweep.parameter_sets() for t in sweep.tasks(params)]
    assert len(tasks) == 6
    worker = SweepWorker(str(catalog_dir))
    # what the process held before (another test's backtests, in a pytest worker shared with
    # other files) is not the sweep's
    before = {kind: live_objects(kind) for kind in RUN_OBJECTS}
    rows, counts = [], []
    for task in tasks:
        rows.append(worker.run(task))
        counts.append({kind: live_objects(kind) - before[kind] for kind in RUN_OBJECTS})
    # nothing piles up run after run: at most the last run's components are still referenced
    # (by a Nautilus handler, until the next run replaces them), never the earlier runs'
    assert counts[0]["BacktestEngine"] == 0 and counts[0]["AccountingActor"] <= 1
    assert all(c == counts[0] for c in counts[1:] if c["CexVenueModule"] == counts[0]["CexVenueModule"])
    assert all(c["AccountingActor"] <= 1 and c["WalletModule"] <= 1 for c in counts)
    assert [r["status"] for r in rows] == ["ok"] * 6, [r["error"] for r in rows]
    # one catalog read per distinct data set (the LST changes eth_leveraged's)
    assert worker.reads == len({t.params.get("strategy.lst") for t in tasks})
    for i, (task, row) in enumerate(zip(tasks, rows, strict=True)):
        summary = single_run(mode, task.params, catalog_dir, tmp_path / f"single{i}")
        assert {f: row[f] for f in FIGURES} == {f: summary[f] for f in FIGURES}, task.params
        assert row["reconciliation_error"] == summary["reconciliation_error"]
        attribution = {
            k.removeprefix("attribution."): v for k, v in row.items() if k.startswith("attribution.")
        }
        assert attribution == summary["attribution"]
    # the parameters matter: the six runs are not one run six times
    assert len({r["final_nav"] for r in rows}) > 1


def live_object_count() -> int:
    gc.collect()
    return len(gc.get_objects())


@pytest.mark.integration
def test_a_worker_holds_nothing_more_after_20_runs(catalog_dir: Path, tmp_path: Path) -> None:
    """What makes a worker's per-run time creep up is what its runs leave behind: over 20 runs
    (5 × 4 parameter sets on three days), the objects the process holds do not grow. The time
    itself is measured by ``benchmarks/bench_sweep.py``, not here."""
    fractions, floors = [0.15, 0.2, 0.25, 0.3, 0.35], [0.05, 0.06, 0.08, 0.1]
    params = {"strategy.perp_margin_fraction": fractions, "strategy.margin_floor": floors}
    window = {"start": "2024-06-01", "end": "2024-06-04"}
    sweep = load_sweep(write_sweep(tmp_path / "sweep.yaml", "btc_basis", params, windows=[window]))
    tasks = [t for params in sweep.parameter_sets() for t in sweep.tasks(params)]
    assert len(tasks) == 20
    worker = SweepWorker(str(catalog_dir))
    counts = []
    for task in tasks:
        row = worker.run(task)
        assert row["status"] == "ok", row["error"]
        counts.append(live_object_count())
    # the first run fills the worker's data cache and Nautilus' one-off registries; from the
    # second on, a run holding on to anything of its own (its engine, NAV rows, events) would
    # add thousands of objects per run, 19 times over
    assert max(counts[1:]) - min(counts[1:]) < 200, counts


@pytest.mark.integration
def test_failed_run_is_recorded_and_the_sweep_goes_on(catalog_dir: Path, tmp_path: Path) -> None:
    # 2019 is before the catalog's history: that window's runs fail when they read the catalog
    path = write_sweep(
        tmp_path / "sweep.yaml",
        "btc_basis",
        {"strategy.perp_margin_fraction": [0.2, 0.3]},
        windows=[{"start": "2019-01-01", "end": "2019-01-08"}, WEEK],
    )
    out = tmp_path / "out"
    argv = [str(path), "--workers", "0", "--out", str(out), "--catalog", str(catalog_dir)]
    assert cli.main(argv) == 1  # some runs failed
    table = pd.read_parquet(out / "runs.parquet")
    assert len(table) == 4
    failed = table[table["start"] == "2019-01-01"]
    assert set(failed["status"]) == {"error"}
    assert all("2019" in e for e in failed["error"])
    ok = table[table["start"] == WEEK["start"]]
    assert set(ok["status"]) == {"ok"} and ok["apy"].notna().all()


@pytest.mark.integration
def test_killed_sweep_resumes(catalog_dir: Path, tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "sweep.yaml",
        "btc_basis",
        {"strategy.perp_margin_fraction": [0.15, 0.2, 0.25, 0.3, 0.35, 0.4]},
    )
    out = tmp_path / "out"
    table = out / "runs.parquet"
    argv = [sys.executable, "-m", "research", "sweep", str(path), "--workers", "0", "--out", str(out)]
    argv += ["--catalog", str(catalog_dir)]
    proc = subprocess.Popen(argv, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (table.is_file() and len(pd.read_parquet(table)) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before it was killed"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    before = pd.read_parquet(table)  # whatever the kill interrupted, the table reads whole
    assert 2 <= len(before) < 6 and set(before["status"]) == {"ok"}
    assert cli.main(argv[4:]) == 0
    after = pd.read_parquet(table).set_index("key")
    assert len(after) == 6 and set(after["status"]) == {"ok"}
    assert sorted(after["param.strategy.perp_margin_fraction"]) == [0.15, 0.2, 0.25, 0.3, 0.35, 0.4]
    # the runs finished before the kill were skipped: their rows (wall time included) are untouched
    kept = after.loc[before["key"]]
    assert list(kept["wall_seconds"]) == list(before["wall_seconds"])


@pytest.mark.integration
def test_optuna_search_resumes_from_the_table(catalog_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "optuna.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mode": "btc_basis",
                "search": {
                    "kind": "optuna",
                    "n_trials": 3,
                    "seed": 3,
                    "metric": "sharpe",
                    "constraints": {"max_drawdown": {"min": -0.5}},
                },
                "parameters": {"strategy.perp_margin_fraction": {"low": 0.15, "high": 0.4}},
                "windows": [WEEK],
            }
        )
    )
    out = tmp_path / "out"
    sweep = load_sweep(path)
    first = run_sweep(sweep, out, catalog_dir, workers=0, show_progress=False).frame
    assert sorted(first["trial"]) == [0, 1, 2] and set(first["status"]) == {"ok"}
    assert first["param.strategy.perp_margin_fraction"].between(0.15, 0.4).all()
    again = run_sweep(sweep, out, catalog_dir, workers=0, show_progress=False).frame
    # the seeded sampler proposes the same trials, found in the table: nothing ran again
    pd.testing.assert_frame_equal(again, first)


def test_validation_errors_stop_the_sweep_before_it_starts(tmp_path: Path, monkeypatch, capsys) -> None:
    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started")

    monkeypatch.setattr("research.sweep.driver.make_pool", no_pool)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "manifest.json").write_text("{}")
    cases = {
        "unknown sweep field": (
            {"mode": "btc_basis", "parameters": {"capital": {"values": [1]}}, "speed": 2},
            "speed",
        ),
        "unknown config field": (
            {"mode": "btc_basis", "parameters": {"strategy.no_such_field": {"values": [1]}}},
            "no_such_field",
        ),
        "bad value": (
            {"mode": "btc_basis", "parameters": {"strategy.perp_margin_fraction": {"values": [0.2, -1.0]}}},
            "perp_margin_fraction",
        ),
        "unknown scenario": (
            {"mode": "btc_basis", "parameters": {"capital": {"values": [1000]}}, "scenarios": ["no_such"]},
            "no_such.yaml",
        ),
        "scenario outside every window": (
            {
                "mode": "btc_basis",
                "parameters": {"capital": {"values": [1000]}},
                "windows": [WEEK],
                "scenarios": ["eth_crash"],
            },
            "outside every window",
        ),
        "grid over a range without step": (
            {"mode": "btc_basis", "parameters": {"capital": {"low": 1000, "high": 2000}}},
            "step",
        ),
        "random without n": (
            {"mode": "btc_basis", "search": {"kind": "random"}, "parameters": {"capital": {"values": [1]}}},
            "`n`",
        ),
        "unknown mode": ({"mode": "btc_basic", "parameters": {"capital": {"values": [1]}}}, "btc_basic"),
    }
    for name, (spec, expected) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.yaml"
        path.write_text(yaml.safe_dump(spec))
        assert cli.main([str(path), "--catalog", str(catalog), "--out", str(tmp_path / "out")]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err, (name, err)
        with pytest.raises(ConfigError):
            load_sweep(path)


def test_grid_random_and_walk_forward_expand(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mode": "btc_basis",
                "search": {"kind": "random", "n": 5, "seed": 1},
                "parameters": {
                    "strategy.perp_margin_fraction": {"low": 0.15, "high": 0.4},
                    "capital": {"values": [50000, 100000]},
                },
                "walk_forward": {
                    "start": "2024-06-01",
                    "end": "2024-07-01",
                    "length_days": 10,
                    "step_days": 7,
                },
            }
        )
    )
    sweep = load_sweep(path)
    # windows start every 7 days and last 10, the last one ending by the end: Jun 1, 8, 15
    assert [(w.start[:10], w.end[:10]) for w in sweep.windows] == [
        ("2024-06-01", "2024-06-11"),
        ("2024-06-08", "2024-06-18"),
        ("2024-06-15", "2024-06-25"),
    ]
    draws = sweep.parameter_sets()
    assert draws == load_sweep(path).parameter_sets()  # seeded: the same draws, so resume works
    assert len(draws) == 5 and all(0.15 <= d["strategy.perp_margin_fraction"] <= 0.4 for d in draws)
    keys = [t.key for d in draws for t in sweep.tasks(d)]
    assert len(keys) == 15 == len(set(keys))


@pytest.mark.integration
def test_keep_runs_writes_each_run_folder(catalog_dir: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path / "sweep.yaml", "btc_basis", {"strategy.perp_margin_fraction": [0.2, 0.3]})
    table = run_sweep(
        load_sweep(path), tmp_path / "out", catalog_dir, workers=0, keep_runs=True, show_progress=False
    )
    assert len(table.frame) == 2
    for _, row in table.frame.iterrows():
        folder = Path(row["run_dir"])
        assert folder == tmp_path / "out" / "runs" / row["key"]
        summary = json.loads((folder / "summary.json").read_text())
        assert {f: row[f] for f in FIGURES} == {f: summary[f] for f in FIGURES}
        assert (folder / "nav.csv").is_file()
