"""The command line's edges: every bad flag, results folder or data location is refused up front
(exit 2, a message naming the flag or path), and a results folder is written whole or not at all."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from backtesting import cli, runner
from data_catalog import paths
from data_catalog.interrupt import SIGTERM_EXIT

WINDOW = ["--start", "2024-06-01", "--end", "2024-06-04"]


@pytest.fixture
def restore_sigterm():
    """``cli.main`` installs a SIGTERM handler; the test session keeps its own."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def _main(*args: str | Path) -> int:
    return cli.main([str(a) for a in args])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0", "ten"])
def test_capital_must_be_a_finite_positive_number(value, capsys, tmp_path, restore_sigterm):
    with pytest.raises(SystemExit) as exit_:
        _main("--mode", "btc_basis", f"--capital={value}", "--out", tmp_path / "out")
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --capital" in err and repr(value) in err and "yaml" not in err
    assert not (tmp_path / "out").exists()


def _refused(capsys, tmp_path, out: Path, *extra: str) -> str:
    """Run with ``--out out`` on a catalog that does not exist: refused before anything ran."""
    code = _main("--mode", "btc_basis", *WINDOW, "--catalog", tmp_path / "catalog", "--out", out, *extra)
    assert code == 2
    assert not (tmp_path / "catalog").exists(), "the check comes before the catalog is built"
    return capsys.readouterr().err


def test_out_that_is_a_file_is_refused_up_front(capsys, tmp_path, restore_sigterm):
    out = tmp_path / "results.txt"
    out.write_text("not a folder")
    err = _refused(capsys, tmp_path, out)
    assert f"--out {out} is a file" in err
    assert out.read_text() == "not a folder"


def test_out_under_a_file_is_refused_up_front(capsys, tmp_path, restore_sigterm):
    parent = tmp_path / "results.txt"
    parent.write_text("")
    err = _refused(capsys, tmp_path, parent / "btc")
    assert f"{parent} is a file, not a folder" in err


def _read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    if not Path("/proc").is_dir():
        pytest.skip("running as root without /proc: no folder is read-only to us")
    return Path("/proc")


def test_out_in_a_read_only_location_is_refused_up_front(capsys, tmp_path, restore_sigterm):
    folder = _read_only_folder(tmp_path)
    err = _refused(capsys, tmp_path, folder / "results")
    assert f"cannot write in {folder}" in err


def test_existing_non_empty_out_is_refused_without_overwrite(capsys, tmp_path, restore_sigterm):
    out = tmp_path / "out"
    out.mkdir()
    (out / "account_binance.csv").write_text("from an earlier run\n")
    err = _refused(capsys, tmp_path, out)
    assert "exists and is not empty; pass --overwrite" in err
    assert [p.name for p in out.iterdir()] == ["account_binance.csv"]


def test_config_for_another_mode_is_refused(capsys, tmp_path, restore_sigterm):
    config = tmp_path / "eth.yaml"
    config.write_text((Path(cli.__file__).parents[1] / "configs/modes/eth_basis.yaml").read_text())
    err = _refused(capsys, tmp_path, tmp_path / "out", "--config", str(config))
    assert f"--config {config} is for mode 'eth_basis', but --mode is 'btc_basis'" in err


def test_asset_contradicting_the_mode_is_refused(capsys, tmp_path, restore_sigterm):
    text = (Path(cli.__file__).parents[1] / "configs/modes/btc_basis.yaml").read_text()
    assert "  asset: BTC\n" in text
    config = tmp_path / "btc_but_eth.yaml"
    config.write_text(text.replace("  asset: BTC\n", "  asset: ETH\n"))
    err = _refused(capsys, tmp_path, tmp_path / "out", "--config", str(config))
    assert f"{config}: strategy.asset 'ETH' contradicts mode btc_basis" in err


def test_empty_data_dir_with_a_built_catalog_exits_2(
    capsys, monkeypatch, tmp_path, catalog_dir, restore_sigterm
):
    """No silent fallback to a catalog of unknown age: the error says where it looked and names
    the flag that makes the choice explicit."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(empty))
    code = _main("--mode", "btc_basis", *WINDOW, "--catalog", catalog_dir, "--out", tmp_path / "out")
    assert code == 2
    err = capsys.readouterr().err
    assert f"${paths.DATA_DIR_ENV}={empty} has no raw history" in err and "--use-existing-catalog" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_use_existing_catalog_runs_without_raw_data(
    capsys, monkeypatch, tmp_path, catalog_dir, restore_sigterm
):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(empty))
    out = tmp_path / "out"
    code = _main(
        "--mode", "btc_basis", *WINDOW, "--catalog", catalog_dir, "--out", out, "--use-existing-catalog"
    )
    assert code == 0, capsys.readouterr().err
    assert "using the existing catalog" in capsys.readouterr().out
    assert (out / "summary.json").is_file()


def _interrupt_while_writing(monkeypatch, interrupt) -> list[Path]:
    """Let the run write part of its folder, then ``interrupt()``; return the files it had written."""
    written: list[Path] = []

    def partial_run(run, catalog_dir, out_dir, progress):
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("summary.json", "nav.csv"):
            (out_dir / name).write_text("{}")
            written.append(out_dir / name)
        interrupt()

    monkeypatch.setattr(cli, "run_backtest", partial_run)
    return written


@pytest.mark.parametrize(
    "interrupt",
    [
        pytest.param(lambda: os.kill(os.getpid(), signal.SIGINT), id="SIGINT"),
        pytest.param(lambda: os.kill(os.getpid(), signal.SIGTERM), id="SIGTERM"),
        pytest.param(lambda: (_ for _ in ()).throw(RuntimeError("boom")), id="exception"),
    ],
)
def test_an_interrupted_run_leaves_nothing_behind(
    monkeypatch, tmp_path, catalog_dir, interrupt, restore_sigterm
):
    written = _interrupt_while_writing(monkeypatch, interrupt)
    out = tmp_path / "results" / "btc"
    with pytest.raises((KeyboardInterrupt, SystemExit, RuntimeError)) as raised:
        _main(
            "--mode", "btc_basis", *WINDOW, "--catalog", catalog_dir, "--out", out, "--use-existing-catalog"
        )
    if isinstance(raised.value, SystemExit):
        assert raised.value.code == SIGTERM_EXIT
    assert written and all(not p.exists() for p in written), "the partial files were written, then removed"
    assert list((tmp_path / "results").iterdir()) == []


def test_an_interrupted_overwrite_keeps_the_previous_results(
    monkeypatch, tmp_path, catalog_dir, restore_sigterm
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"previous": true}')
    _interrupt_while_writing(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        _main(
            "--mode",
            "btc_basis",
            *WINDOW,
            "--catalog",
            catalog_dir,
            "--out",
            out,
            "--overwrite",
            "--use-existing-catalog",
        )
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (out / "summary.json").read_text() == '{"previous": true}'


@pytest.fixture(scope="module")
def small_run(catalog_dir, tmp_path_factory) -> Path:
    """A btc_basis run from 2024-05-12 (a midnight) over a window without liquidations or flows,
    written with --overwrite over a folder left by another run."""
    out = tmp_path_factory.mktemp("run") / "out"
    out.mkdir()
    (out / "account_stale.csv").write_text("from an ETH run\n")
    previous = signal.getsignal(signal.SIGTERM)
    code = _main(
        "--mode",
        "btc_basis",
        "--start",
        "2024-05-12",
        "--end",
        "2024-05-20",
        "--capital",
        "100000",
        "--catalog",
        catalog_dir,
        "--out",
        out,
        "--overwrite",
        "--use-existing-catalog",
    )
    signal.signal(signal.SIGTERM, previous)
    assert code == 0
    return out


@pytest.mark.integration
def test_overwrite_replaces_the_folder_whole(small_run):
    names = {p.name for p in small_run.iterdir()}
    assert "account_stale.csv" not in names and "summary.json" in names
    assert [p.name for p in small_run.parent.iterdir()] == ["out"], "no staging folder left beside it"


@pytest.mark.integration
def test_every_event_log_has_its_header_even_when_empty(small_run):
    expected = {
        "liquidations.csv": ["ts", "venue", "instrument_id", "signed_base_qty", "price", "mark", "fee"],
        "aave_liquidations.csv": [
            "ts",
            "debt_token",
            "repaid",
            "collateral_token",
            "seized",
            "health_factor",
        ],
        "capital_flows.csv": ["ts", "kind", "amount"],
        "transfers.csv": ["ts", "request_id", "kind", "venue", "asset", "amount", "status"],
        "funding.csv": ["ts", "venue", "instrument_id", "rate", "mark", "signed_base_qty", "payment"],
        "gas.csv": ["ts", "operation", "units", "gwei", "eth", "eth_price", "usd"],
        "actions.csv": ["ts", "action", "why"],
    }
    for name, columns in expected.items():
        frame = pd.read_csv(small_run / name)
        assert set(columns) <= set(frame.columns), name
    assert pd.read_csv(small_run / "liquidations.csv").empty
    assert pd.read_csv(small_run / "aave_liquidations.csv").empty
    assert pd.read_csv(small_run / "capital_flows.csv").empty


@pytest.mark.integration
def test_the_window_shown_is_the_one_asked_for(small_run):
    summary = json.loads((small_run / "summary.json").read_text())
    assert (summary["start"], summary["end"]) == ("2024-05-12T00:00:00+00:00", "2024-05-20T00:00:00+00:00")
    assert "btc_basis (USDT) 2024-05-12 → 2024-05-20" in (small_run / "tearsheet.html").read_text()


@pytest.mark.integration
def test_every_action_says_why(small_run):
    actions = pd.read_csv(small_run / "actions.csv", keep_default_na=False)
    assert len(actions) >= 1
    assert (actions["why"].str.len() > 0).all(), actions
    entry = actions.iloc[0]
    assert entry["action"] == "entry_full" and "100,000 USDT in the wallet" in entry["why"]


def test_runner_is_what_the_cli_calls():
    """The interruption tests replace ``cli.run_backtest``: it must be the runner's."""
    assert cli.run_backtest is runner.run_backtest


@pytest.mark.integration
def test_a_capital_too_small_to_deploy_says_so(capsys, tmp_path, catalog_dir, small_run, restore_sigterm):
    out = tmp_path / "out"
    code = _main(
        "--mode",
        "btc_basis",
        *WINDOW,
        "--capital",
        "10",
        "--catalog",
        catalog_dir,
        "--out",
        out,
        "--use-existing-catalog",
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    reason = summary["not_deployed"]
    assert reason.startswith("nothing was deployed: 10 USDT") and "dust_threshold_usd 25 USD" in reason
    assert "min notional" in reason
    assert f"note: {reason}" in capsys.readouterr().out
    assert json.loads((small_run / "summary.json").read_text())["not_deployed"] is None
