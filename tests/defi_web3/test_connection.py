"""The wallet connection from the environment, the chain config's validation, and secrets that
never show: not in a repr, not in a log line (web3 logs its endpoint), not on stdout/stderr."""

from __future__ import annotations

import json
import logging
from pathlib import Path

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
from adapters.defi.web3.connection import KEY, KEYSTORE_FILE, KEYSTORE_PASSWORD, MASK, RPC_URL, connect
from localchain.aave import LocalAave
from tests.defi_web3.conftest import order

RPC_TOKEN = "s3cr3t-rpc-token-5f1e"
"""A distinctive credential in the RPC URL (anvil ignores basic auth, a hosted node checks it)."""


def test_missing_variables_are_named() -> None:
    with pytest.raises(ConfigError, match=RPC_URL):
        connect({})
    with pytest.raises(ConfigError, match=f"{KEY}.*{KEYSTORE_FILE}.*{KEYSTORE_PASSWORD}"):
        connect({RPC_URL: "http://127.0.0.1:1"})


def test_the_key_can_come_from_an_encrypted_keystore(tmp_path: Path, wallet: LocalAccount) -> None:
    keystore = tmp_path / "wallet.json"
    keystore.write_text(json.dumps(Account.encrypt(wallet.key, "pass phrase", kdf="pbkdf2", iterations=2)))
    env = {RPC_URL: "http://127.0.0.1:1", KEYSTORE_FILE: str(keystore), KEYSTORE_PASSWORD: "pass phrase"}
    assert connect(env).address == wallet.address
    with pytest.raises(ValueError, match="MAC mismatch"):
        connect(env | {KEYSTORE_PASSWORD: "wrong"})


def test_the_chain_config_is_validated(live_config_path: Path, tmp_path: Path) -> None:
    good = yaml.safe_load(live_config_path.read_text())
    assert load_chain_live(live_config_path).max_gas_price_wei == good["max_gas_price_gwei"] * 10**9
    for change, error in [
        ({"aave_pool": "0x1234"}, "aave_pool: '0x1234' is not an address"),
        ({"min_health_factor": 1.0}, "min_health_factor must be above 1"),
        ({"tokens": {"USDT": good["tokens"]["USDT"]}}, "staking.WEETH: the LST itself needs"),
        ({"tokens": {k: v for k, v in good["tokens"].items() if k != "ETH"}}, "tokens.ETH"),
        ({"slippage": 0.01}, "unknown field"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(good | change))
        with pytest.raises(ConfigError, match=error):
            load_chain_live(path)


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
    backend = Web3Backend(venue, load_chain_live(live_config_path), connection, marks.get)
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
