"""``run_live.py`` on the live environments: mainnet needs its confirmation, missing keys are
named (exit 2), ``--check`` prints the plan without connecting, and no key ever reaches an output
or a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from live.cli import main
from live.environments import CREDENTIALS, LiveEnv
from tests.live.venue_configs import LOCAL, venue_config_dir

PROJECT = Path(__file__).resolve().parents[2]
ALL_KEY_VARIABLES = sorted({n for table in CREDENTIALS.values() for names in table.values() for n in names})


@pytest.fixture
def no_keys(monkeypatch):
    for name in ALL_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _set_keys(monkeypatch, env: LiveEnv, venues=CREDENTIALS) -> None:
    for venue in venues:
        for name in CREDENTIALS[venue].get(env, ()):
            monkeypatch.setenv(name, f"fake-{name}")


@pytest.mark.parametrize("check", [[], ["--check"]])
def test_mainnet_without_its_confirmation_exits_2_before_anything_else(no_keys, capsys, check):
    _set_keys(no_keys, LiveEnv.MAINNET)
    assert main(["--mode", "btc_basis", "--env", "mainnet", *check]) == 2
    err = capsys.readouterr().err
    assert "real money" in err and "--confirm-mainnet" in err


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        (
            "testnet",
            "BINANCE_FUTURES_TESTNET_API_KEY, BINANCE_FUTURES_TESTNET_API_SECRET, BINANCE_TESTNET_API_KEY, "
            "BINANCE_TESTNET_API_SECRET, BYBIT_TESTNET_API_KEY, BYBIT_TESTNET_API_SECRET, OKX_API_KEY, "
            "OKX_API_SECRET, OKX_API_PASSPHRASE",
        ),
        (
            "demo",
            "BINANCE_DEMO_API_KEY, BINANCE_DEMO_API_SECRET, BYBIT_DEMO_API_KEY, BYBIT_DEMO_API_SECRET, "
            "OKX_API_KEY, OKX_API_SECRET, OKX_API_PASSPHRASE",
        ),
        (
            "mainnet",
            "BINANCE_API_KEY, BINANCE_API_SECRET, BYBIT_API_KEY, BYBIT_API_SECRET, OKX_API_KEY, "
            "OKX_API_SECRET, OKX_API_PASSPHRASE",
        ),
    ],
)
def test_missing_keys_exit_2_naming_every_variable_the_environment_needs(no_keys, capsys, env, missing):
    other = LiveEnv.TESTNET if env != "testnet" else LiveEnv.MAINNET
    _set_keys(no_keys, other, venues=["BINANCE_SPOT", "BINANCE", "BYBIT"])  # OKX's are the same in every env
    assert main(["--mode", "btc_basis", "--env", env, "--confirm-mainnet", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith(f"not set: {missing}")


def test_only_the_unset_variables_and_only_those_of_the_venues_traded_are_named(no_keys, capsys):
    _set_keys(no_keys, LiveEnv.MAINNET, venues=["BINANCE"])
    no_keys.setenv("OKX_API_KEY", "fake")
    no_keys.setenv("OKX_API_PASSPHRASE", "")  # empty is unset
    assert main(["--mode", "btc_basis", "--env", "mainnet", "--confirm-mainnet"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith(
        "not set: BYBIT_API_KEY, BYBIT_API_SECRET, OKX_API_SECRET, OKX_API_PASSPHRASE"
    )
    # a mode trading Binance futures only needs the futures keys
    _set_keys(no_keys, LiveEnv.TESTNET, venues=["BINANCE_SPOT"])
    assert main(["--mode", "ml_btc_directional_usdt_margin", "--env", "testnet", "--check"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("not set: BINANCE_FUTURES_TESTNET_API_KEY, BINANCE_FUTURES_TESTNET_API_SECRET")
    )


def test_sandbox_check_needs_no_keys_and_shows_data_clients_only(no_keys, capsys):
    assert main(["--mode", "ml_btc_directional_usdt_margin", "--env", "sandbox", "--check"]) == 0
    out = capsys.readouterr().out
    # the perp, and the spot pair the model's predictor reads
    assert "execution clients none" in out and out.count("clients: data only") == 2
    assert "keys from" not in out
    # Nautilus 1.231's OKX data client signs in: a sandbox reading OKX needs its keys
    assert main(["--mode", "btc_basis", "--env", "sandbox", "--check"]) == 2
    assert (
        capsys.readouterr().err.strip().endswith("not set: OKX_API_KEY, OKX_API_SECRET, OKX_API_PASSPHRASE")
    )
    _set_keys(no_keys, LiveEnv.SANDBOX, venues=["OKX"])
    assert main(["--mode", "btc_basis", "--env", "sandbox", "--check"]) == 0
    out = capsys.readouterr().out
    assert "execution clients none" in out and out.count("clients: data only") == 4
    assert out.count("keys from") == 1 and "fake-" not in out


def test_check_prints_venues_clients_endpoints_account_ids_and_instruments(no_keys, capsys, tmp_path):
    _set_keys(no_keys, LiveEnv.TESTNET)
    config_dir = venue_config_dir(tmp_path, LOCAL)
    argv = ["--mode", "btc_basis", "--env", "testnet", "--check", "--venue-config", str(config_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for text in (
        "execution clients BINANCE, BINANCE_SPOT, BYBIT, OKX",
        "BINANCE_SPOT: SPOT account, environment TESTNET, clients: data + execution",
        "BINANCE: USDT_FUTURES account",
        "account id: BINANCE-USDT_FUTURES-master",
        "account id: BYBIT-UNIFIED",
        "account id: OKX-master",
        "instruments: BTCUSDT-SPOT.BYBIT, BTCUSDT-LINEAR.BYBIT",
        f"http: {LOCAL['OKX']['http']}",
        f"ws_api (orders): {LOCAL['BINANCE']['ws_api']}",
        "keys from: BYBIT_TESTNET_API_KEY, BYBIT_TESTNET_API_SECRET (set; values not shown)",
        "funding: BTCUSDT-LINEAR.BYBIT, BTC-USDT-SWAP.OKX from the venues' funding streams",
        "funding: BTCUSDT-PERP.BINANCE from Binance's mark-price stream (the funding bridge)",
    ):
        assert text in out
    assert "fake-" not in out


@pytest.mark.parametrize("env", ["sandbox", "testnet", "demo"])
def test_live_needs_the_capital_on_the_venues(no_keys, capsys, env):
    _set_keys(no_keys, LiveEnv(env))
    assert main(["--mode", "btc_basis", "--env", env]) == 2
    err = capsys.readouterr().err
    assert "starts its capital in the on-chain wallet" in err
    assert "capital_source: venues" in err and "--env paper" in err


def test_paper_takes_no_live_flags(capsys):
    assert main(["--mode", "btc_basis", "--env", "paper", "--check"]) == 2
    assert "for the live environments" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--start", "2024-06-01"], "--start"),
        (["--end", "2024-06-02", "--speed", "10"], "--end, --speed"),
        (["--resume"], "--resume"),
        (["--chain", "local"], "--chain"),
    ],
)
def test_the_default_environment_is_sandbox_and_takes_no_replay_flags(no_keys, capsys, flags, named):
    _set_keys(no_keys, LiveEnv.SANDBOX, venues=["OKX"])
    assert main(["--mode", "btc_basis", "--check"]) == 0
    assert capsys.readouterr().out.startswith("btc_basis on sandbox: plan checked")
    assert main(["--mode", "btc_basis", *flags]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {named}: for --env paper (a replay of history); --env sandbox runs on the live market from now"
    )


def test_a_bad_venue_config_is_one_line_and_exit_2(no_keys, capsys, tmp_path):
    config_dir = venue_config_dir(tmp_path, {"BYBIT": {"ws_api": "ws://127.0.0.1:1/api"}})
    assert (
        main(["--mode", "btc_basis", "--env", "sandbox", "--check", "--venue-config", str(config_dir)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bybit.yaml" in err and err.count("\n") == 1


def _fake_keys() -> dict[str, str]:
    """A distinctive value per variable, unlike anything a run prints."""
    return {name: f"FAKEKEY-9f8e7d6c5b4a-{i:02d}-{name.lower()}" for i, name in enumerate(ALL_KEY_VARIABLES)}


def _leaks(text: str, keys: dict[str, str]) -> list[str]:
    return [name for name, value in keys.items() if value in text]


@pytest.mark.parametrize(
    "args",
    [
        ["--env", "testnet", "--check"],
        ["--env", "demo", "--check"],
        ["--env", "mainnet", "--confirm-mainnet", "--check"],
        ["--env", "testnet"],
    ],
)
def test_no_key_reaches_stdout_stderr_or_any_file_written(tmp_path, args):
    keys = _fake_keys()
    work = tmp_path / "work"
    work.mkdir()
    config_dir = venue_config_dir(tmp_path, LOCAL)
    env = {**{k: v for k, v in os.environ.items() if k not in keys}, **keys}
    env.update(HOME=str(work), TMPDIR=str(work), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "run_live.py"),
            "--mode",
            "btc_basis",
            *args,
            "--venue-config",
            str(config_dir),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == (0 if "--check" in args else 2), proc.stderr
    assert not _leaks(proc.stdout + proc.stderr, keys)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(not _leaks(p.read_text(errors="replace"), keys) for p in written)


BUILD_NODE = """
import asyncio, sys
from pathlib import Path
import msgspec
from nautilus_trader.config import LoggingConfig
from nautilus_trader.live.node import TradingNode
from backtesting.config import load_run_config, mode_file_path
from live.environments import LiveEnv
from live.node_config import add_client_factories, node_config
from live.venues import plan_live

plan = plan_live(load_run_config(mode_file_path("btc_basis")), LiveEnv(sys.argv[1]), Path(sys.argv[2]))
logging = LoggingConfig(log_level="DEBUG", log_level_file="DEBUG", log_directory=sys.argv[3])
config = msgspec.structs.replace(node_config(plan, 250_000.0), logging=logging)
node = TradingNode(config=config, loop=asyncio.new_event_loop())
add_client_factories(node, plan)
node.build()
print(config)  # the node's whole configuration: it holds no key
node.dispose()
"""


@pytest.mark.parametrize("env", ["testnet", "demo", "mainnet"])
def test_the_built_node_logs_no_key_even_at_debug(tmp_path, env):
    """The adapters read the keys when the clients are built: nothing they log holds one."""
    keys = _fake_keys()
    logs = tmp_path / "logs"
    config_dir = venue_config_dir(tmp_path, LOCAL)
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", BUILD_NODE, env, str(config_dir), str(logs)],
        cwd=PROJECT,
        env={**{k: v for k, v in os.environ.items() if k not in keys}, **keys},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ExecClient-BYBIT" in proc.stdout  # the clients were built and logged
    log_files = list(logs.rglob("*"))
    assert log_files
    assert not _leaks(proc.stdout + proc.stderr, keys)
    assert all(not _leaks(p.read_text(errors="replace"), keys) for p in log_files if p.is_file())
