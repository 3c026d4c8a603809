"""One anvil with the real Aave v3 deployed for the session; every test starts from that state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localchain.aave import LocalAave, deploy_aave
from localchain.anvil import Anvil, revert, snapshot
from localchain.tools import missing_tools


@pytest.fixture(scope="session")
def deployed(data_dir: Path) -> Iterator[LocalAave]:
    if problem := missing_tools():
        pytest.skip(f"local chain unavailable: {problem}")
    with Anvil() as w3:
        yield deploy_aave(w3, data_dir)


@pytest.fixture
def aave(deployed: LocalAave) -> Iterator[LocalAave]:
    """The deployed market, reverted to its freshly deployed state after the test."""
    snapshot_id = snapshot(deployed.w3)
    yield deployed
    revert(deployed.w3, snapshot_id)


@pytest.fixture
def users(aave: LocalAave) -> list[str]:
    """Funded accounts other than the deployer (anvil gives each 10,000 ETH)."""
    return aave.w3.eth.accounts[1:4]
