"""The wallet's connection to a chain, from the environment: RPC URL and signing key.

``BASIS_RPC_URL`` names the node (it often carries an API key); the key is ``BASIS_WALLET_KEY``
or an encrypted keystore (``BASIS_KEYSTORE_FILE`` + ``BASIS_KEYSTORE_PASSWORD``, decrypted with
eth-account). Neither value is ever shown: the connection's repr names only the address, and once
connected every Python log record has them masked (web3 logs the endpoint at debug level), as are
the URL's credential-bearing parts (password, path and query: an error's text names the path).
Text logged elsewhere (a Nautilus actor's log is not a Python log record) goes through
:func:`masked` first.

This module is the one reader of the environment: the wallet's connection (:func:`connect`) and
the chain data feed's read-only client (:func:`read_only_web3`) share it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from adapters.config import ConfigError

RPC_URL = "BASIS_RPC_URL"
KEY = "BASIS_WALLET_KEY"
KEYSTORE_FILE = "BASIS_KEYSTORE_FILE"
KEYSTORE_PASSWORD = "BASIS_KEYSTORE_PASSWORD"
MASK = "***"


class WalletConnection:
    """A web3 client on the configured node and the account that signs for the wallet."""

    def __init__(self, rpc_url: str, account: LocalAccount, timeout: float = 60.0) -> None:
        _mask_in_logs(*_url_secrets(rpc_url), account.key.hex())
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.account = account

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def __repr__(self) -> str:
        return f"WalletConnection(address={self.address}, rpc={MASK})"

    __str__ = __repr__


def rpc_url(env: Mapping[str, str] = os.environ) -> str:
    """The node's URL; a :class:`ConfigError` naming the variable when unset."""
    url = env.get(RPC_URL)
    if not url:
        raise ConfigError(f"{RPC_URL} is not set: the node's RPC URL is read from the environment")
    return url


def connect(env: Mapping[str, str] = os.environ) -> WalletConnection:
    """A connection from the environment; a :class:`ConfigError` naming the variables when unset."""
    return WalletConnection(rpc_url(env), _account(env))


def read_only_web3(timeout: float, env: Mapping[str, str] = os.environ) -> Web3:
    """A client on the node without a key, for reading (the chain data feed). It makes no retries
    of its own: its caller backs off and retries. The URL is masked in logs from now on."""
    url = rpc_url(env)
    _mask_in_logs(*_url_secrets(url))
    provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    return Web3(provider)


def _account(env: Mapping[str, str]) -> LocalAccount:
    if key := env.get(KEY):
        return Account.from_key(key)
    keystore, password = env.get(KEYSTORE_FILE), env.get(KEYSTORE_PASSWORD)
    if keystore and password is not None:
        return Account.from_key(Account.decrypt(json.loads(Path(keystore).read_text()), password))
    raise ConfigError(
        f"no wallet key: set {KEY}, or {KEYSTORE_FILE} with {KEYSTORE_PASSWORD} (an encrypted keystore)"
    )


_SECRETS: set[str] = set()


def masked(text: str) -> str:
    """``text`` with every secret of a connection made so far replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):  # a whole URL before its parts
        text = text.replace(secret, MASK)
    return text


def _url_secrets(url: str) -> list[str]:
    """The URL and the parts of it that can carry a credential: the password of ``user:password@``
    and the path with its query (``/v3/<API key>``), which a connection error's text shows alone."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url, parts.password or "", "" if path in ("", "/") else path]


def _mask_in_logs(*secrets: str) -> None:
    """Have every log record created from now on show ``secrets`` as ``***`` (process-wide, once)."""
    if not _SECRETS:
        make_record = logging.getLogRecordFactory()

        def masking(*args: object, **kwargs: object) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            message = record.getMessage()
            if any(secret in message for secret in _SECRETS):
                record.msg, record.args = masked(message), ()
            return record

        logging.setLogRecordFactory(masking)
    _SECRETS.update(s for s in secrets if s)
