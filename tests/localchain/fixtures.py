"""One anvil with the real Aave v3 and Uniswap v3 deployed for the session; every test starts from
that deployed state (snapshot before, revert after)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localchain.aave import LocalAave, deploy_aave
from localchain.anvil import Anvil, revert, snapshot
from localchain.tools import missing_tools
from localchain.uniswap import LocalUniswap, deploy_uniswap


@pytest.fixture(scope="session")
def deployment(data_dir: Path) -> Iterator[tuple[LocalAave, LocalUniswap]]:
    if problem := missing_tools():
        pytest.skip(f"local chain unavailable: {problem}")
    with Anvil() as w3:
        aave = deploy_aave(w3, data_dir)
        yield aave, deploy_uniswap(aave)


@pytest.fixture
def aave(deployment: tuple[LocalAave, LocalUniswap]) -> Iterator[LocalAave]:
    """The deployed Aave market, reverted to its freshly deployed state after the test."""
    market = deployment[0]
    snapshot_id = snapshot(market.w3)
    yield market
    revert(market.w3, snapshot_id)


@pytest.fixture
def uniswap(aave: LocalAave, deployment: tuple[LocalAave, LocalUniswap]) -> LocalUniswap:
    """Uniswap v3 with the configured pools, on the chain ``aave`` reverts after the test."""
    return deployment[1]


@pytest.fixture
def users(aave: LocalAave) -> list[str]:
    """Funded accounts other than the deployer (anvil gives each 10,000 ETH)."""
    return aave.w3.eth.accounts[1:4]
