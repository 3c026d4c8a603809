"""A :class:`Web3Backend` on the session's local chain, for a fresh funded account of its own.

The account's key is generated per test and reaches the backend only through the environment
(``BASIS_WALLET_KEY``); the contract addresses through a chain config YAML written from the
deployment, as an operator writes mainnet's (the chain data feed reads the same file). The
account's own executor contract is deployed through anvil's impersonation, so the key stays in the
environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import ClientOrderId, StrategyId, TraderId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import MarketOrder

from adapters.defi.config import WalletVenueConfig, load_wallet_venue
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.config import load_chain_live
from adapters.defi.web3.connection import KEY, RPC_URL, connect
from adapters.defi.web3.executor import LoopExecutor
from adapters.defi.web3.limits import DEFAULT_LIMITS, SendLimits
from backtesting.config import load_run_config, mode_file_path
from localchain.aave import LocalAave
from localchain.anvil import rpc
from localchain.uniswap import LocalUniswap, mark
from localchain.wallet import LIMITS as LOCAL_LIMITS
from localchain.wallet import chain_config, deploy_own_executor
from tests.defi_web3.rpc_relay import RpcRelay
from tests.localchain.helpers import ETHER

WALLET_ETH = 1_000
LIMITS = LOCAL_LIMITS


@pytest.fixture
def venue() -> WalletVenueConfig:
    return load_wallet_venue()


@pytest.fixture
def wallet(aave: LocalAave) -> LocalAccount:
    """A fresh account holding ``WALLET_ETH`` (reverted with the chain after the test)."""
    account = Account.create()
    rpc(aave.w3, "anvil_setBalance", account.address, hex(WALLET_ETH * ETHER))
    return account


@pytest.fixture
def live_config_path(
    aave: LocalAave, uniswap: LocalUniswap, venue: WalletVenueConfig, tmp_path: Path
) -> Path:
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(chain_config(aave, uniswap, venue)))
    return path


@pytest.fixture
def marks(aave: LocalAave, uniswap: LocalUniswap) -> dict[str, float]:
    """Each pool's mark as the strategy sees it: the oracle price the pool was seeded at."""
    return {symbol: mark(aave, p.base, p.quote) for symbol, p in uniswap.pools.items()}


@pytest.fixture
def make_backend(
    aave: LocalAave,
    wallet: LocalAccount,
    venue: WalletVenueConfig,
    live_config_path: Path,
    marks: dict[str, float],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Web3Backend]:
    """A backend for ``wallet`` from the environment and the written config (``path``, the node's
    ``rpc_url`` and the mode's ``limits`` override the defaults)."""

    def make(
        path: Path = live_config_path, rpc_url: str | None = None, limits: SendLimits = DEFAULT_LIMITS
    ) -> Web3Backend:
        monkeypatch.setenv(RPC_URL, rpc_url or aave.w3.provider.endpoint_uri)
        monkeypatch.setenv(KEY, wallet.key.hex())
        return Web3Backend(venue, load_chain_live(path, venue), connect(), marks.get, limits)

    return make


@pytest.fixture
def backend(make_backend: Callable[..., Web3Backend]) -> Web3Backend:
    return make_backend()


@pytest.fixture
def relay(aave: LocalAave) -> Iterator[RpcRelay]:
    """A relay in front of the node, to drop and restore the connection."""
    relay = RpcRelay(urlparse(aave.w3.provider.endpoint_uri).port)
    relay.open()
    yield relay
    relay.close()


@pytest.fixture
def executor(aave: LocalAave, uniswap: LocalUniswap, wallet: LocalAccount) -> LoopExecutor:
    """``wallet``'s own executor."""
    return deploy_own_executor(aave, uniswap, wallet)


@pytest.fixture
def executor_backend(
    make_backend: Callable[..., Web3Backend], live_config_path: Path, executor: LoopExecutor
) -> Web3Backend:
    """A backend whose chain config names ``wallet``'s executor: it sends atomic order lists, with
    eth_leveraged's limits (a loop moves about 11 times its equity in one transaction)."""
    config = yaml.safe_load(live_config_path.read_text())
    path = live_config_path.with_name("chain_with_executor.yaml")
    path.write_text(yaml.safe_dump({**config, "executor": executor.contract.address}))
    return make_backend(path, limits=load_run_config(mode_file_path("eth_leveraged")).strategy.send_limits)


def order(venue: WalletVenueConfig, symbol: str, side: OrderSide, quantity: str) -> MarketOrder:
    return MarketOrder(
        TraderId("TRADER-001"),
        StrategyId("Web3-000"),
        wallet_instrument_id(venue, symbol),
        ClientOrderId(str(UUID4())),
        side,
        Quantity.from_str(quantity),
        UUID4(),
        0,
    )
