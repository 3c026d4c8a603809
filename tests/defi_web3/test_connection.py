"""The wallet connection from the environment, the chain config's validation, and secrets that
never show: not in a repr, not in a log line (web3 logs its endpoint), not on stdout/stderr."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from nautilus_trader.model.enums import OrderSide

from adapters.config import ConfigError
from adapters.defi.backend import ExecutionRejected
from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.config import load_chain_live
from adapters.defi.web3.connection import (
    KEY,
    KEYSTORE_FILE,
    KEYSTORE_PASSWORD,
    MASK,
    RPC_URL,
    connect,
    read_only_web3,
)
from localchain.aave import LocalAave
from localchain.anvil import _free_port
from tests.conftest import PROJECT
from tests.defi_web3.conftest import order

RPC_TOKEN = "s3cr3t-rpc-token-5f1e"
"""A distinctive credential in the RPC URL (anvil ignores basic auth, a hosted node checks it)."""
FEED_ON_A_DEAD_NODE = """
import sys
from nautilus_trader.common.component import init_logging
from adapters.defi.web3.chain_data import ChainDataFeed, ChainDataFeedConfig
from tests.defi_web3.node import Node

guard = init_logging(colors=False)
node = Node()
node.start(ChainDataFeed(ChainDataFeedConfig(chain_config_path=sys.argv[1], account=sys.argv[2])))
node.tick(24)
"""
"""The chain data feed set up from its config, polling a node that is not there, at start and on
its retry, with Nautilus' logging on (once per process, hence a process of its own)."""


def test_missing_variables_are_named() -> None:
    with pytest.raises(ConfigError, match=RPC_URL):
        connect({})
    with pytest.raises(ConfigError, match=RPC_URL):
        read_only_web3(1.0, {})  # the chain data feed's client reads the same variable
    with pytest.raises(ConfigError, match=f"{KEY}.*{KEYSTORE_FILE}.*{KEYSTORE_PASSWORD}"):
        connect({RPC_URL: "http://127.0.0.1:1"})


def test_the_key_can_come_from_an_encrypted_keystore(tmp_path: Path, wallet: LocalAccount) -> None:
    keystore = tmp_path / "wallet.json"
    keystore.write_text(json.dumps(Account.encrypt(wallet.key, "pass phrase", kdf="pbkdf2", iterations=2)))
    env = {RPC_URL: "http://127.0.0.1:1", KEYSTORE_FILE: str(keystore), KEYSTORE_PASSWORD: "pass phrase"}
    assert connect(env).address == wallet.address
    with pytest.raises(ValueError, match="MAC mismatch"):
        connect(env | {KEYSTORE_PASSWORD: "wrong"})


def test_the_chain_config_is_validated(
    live_config_path: Path, venue: WalletVenueConfig, tmp_path: Path
) -> None:
    good = yaml.safe_load(live_config_path.read_text())
    config = load_chain_live(live_config_path, venue)
    assert config.max_gas_price_wei == good["max_gas_price_gwei"] * 10**9
    assert config.pools == good["pools"]
    tokens, pools, staking = good["tokens"], good["pools"], good["staking"]
    no_usdt = {k: v for k, v in tokens.items() if k != "USDT"}
    no_usdt_reserve = msgspec.structs.replace(
        venue.aave, reserves=[r for r in venue.aave.reserves if r.underlying != "USDT"]
    )
    for change, wallet, error in [
        ({"aave_pool": "0x1234"}, venue, "aave_pool: '0x1234' is not an address"),
        ({"min_health_factor": 1.0}, venue, "min_health_factor must be above 1"),
        ({"tokens": {"USDT": tokens["USDT"]}}, venue, "staking.WEETH: the LST itself needs"),
        ({"tokens": {k: v for k, v in tokens.items() if k != "ETH"}}, venue, "tokens.ETH"),
        ({"slippage": 0.01}, venue, "unknown field"),
        ({"pools": pools | {"ETHUSDT-UNIV3": "0x1234"}}, venue, "pools.ETHUSDT-UNIV3: '0x1234' is not"),
        # against the wallet venue config: its reserves' and pools' tokens, its pools and LSTs
        ({"tokens": no_usdt}, venue, r"no address for reserve underlying\(s\) \['USDT'\]"),
        (
            {"tokens": no_usdt},
            msgspec.structs.replace(venue, aave=no_usdt_reserve),
            "pools.ETHUSDT-UNIV3: tokens needs ETH and USDT",
        ),
        ({"pools": pools | {"NOPE": good["aave_pool"]}}, venue, r"wallet venue config: \['NOPE'\]"),
        (
            {"tokens": tokens | {"RETH": tokens["WEETH"]}, "staking": staking | {"RETH": staking["WEETH"]}},
            venue,
            r"wallet venue config: \['RETH'\]",
        ),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(good | change))
        with pytest.raises(ConfigError, match=error) as refused:
            load_chain_live(path, wallet)
        assert str(refused.value).startswith(f"{path}: ")


def test_secrets_never_show(
    aave: LocalAave,
    wallet: LocalAccount,
    venue: WalletVenueConfig,
    live_config_path: Path,
    marks: dict[str, float],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = aave.w3.provider.endpoint_uri.replace("http://", f"http://basis:{RPC_TOKEN}@")
    monkeypatch.setenv(RPC_URL, url)
    monkeypatch.setenv(KEY, wallet.key.hex())
    caplog.set_level(logging.DEBUG)
    connection = connect()
    backend = Web3Backend(venue, load_chain_live(live_config_path, venue), connection, marks.get)
    backend.execute([order(venue, "AWETH-AAVE", OrderSide.BUY, "1")], atomic=False)
    with pytest.raises(ExecutionRejected) as refused:
        backend.execute([order(venue, "AWETH-AAVE", OrderSide.SELL, "5")], atomic=False)
    logging.getLogger("basis.test").warning("connected to %s with %s", url, connection)
    print(connection, repr(connection), refused.value)

    shown = caplog.text + "".join(capsys.readouterr())
    key = wallet.key.hex().removeprefix("0x")
    assert RPC_TOKEN not in shown and key not in shown
    assert MASK in caplog.text  # web3 did log the endpoint: masked
    assert wallet.address in repr(connection)
    assert "HTTPConnectionPool" not in str(refused.value)


def test_the_chain_data_feed_never_shows_the_rpc_url(live_config_path: Path, wallet: LocalAccount) -> None:
    """The feed logs why the node is unreachable, through Nautilus' logger (not a Python log
    record), masked: the credential here is both the URL's password and its path, where hosted
    nodes put their API key (a connection error's text names the path)."""
    url = f"http://basis:{RPC_TOKEN}@127.0.0.1:{_free_port()}/v3/{RPC_TOKEN}"
    run = subprocess.run(
        [sys.executable, "-c", FEED_ON_A_DEAD_NODE, str(live_config_path), wallet.address],
        env=os.environ | {RPC_URL: url},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = run.stdout + run.stderr
    assert run.returncode == 0, shown
    assert shown.count("chain RPC unreachable (ConnectionError: ") == 2, shown  # start, and the retry
    assert f"with url: {MASK}" in shown  # the error's text, its path masked
    assert RPC_TOKEN not in shown
