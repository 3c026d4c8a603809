"""The mode's limits on on-chain sends (a value cap per transaction, a daily gas budget), the kill
switch stopping the sender, and the explicit go-ahead mainnet needs."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from eth_account.signers.local import LocalAccount
from nautilus_trader.model.enums import OrderSide

from adapters.config import ConfigError
from adapters.defi.backend import ExecutionRejected
from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.config import check_chain, load_chain_live
from adapters.defi.web3.limits import DAY_SECONDS, GasBudget, SendLimits
from adapters.halt import HALT_TOPIC, HaltRequest
from localchain.aave import LocalAave
from localchain.anvil import rpc
from tests.defi_web3.conftest import order
from tests.defi_web3.node import Node
from tests.defi_web3.test_safety import nonce, pending_tip, quick_backend, wait_for
from tests.localchain.helpers import ETHER, price

BUY = OrderSide.BUY
HALT = HaltRequest(flatten=False, requested_at="2026-12-07T04:00:00Z")


def test_a_transaction_worth_more_than_max_tx_value_usd_is_refused_unsent(
    aave: LocalAave, make_backend: Callable[..., Web3Backend], venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    """The cap sits at 1.5 ETH at the oracle's price: supplying 1 ETH goes, 2 ETH is refused."""
    eth_usd = price(aave, "WETH")
    backend = make_backend(limits=SendLimits(max_tx_value_usd=1.5 * eth_usd))
    backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    sent = nonce(aave, wallet)
    with pytest.raises(ExecutionRejected) as refused:
        backend.execute([order(venue, "AWETH-AAVE", BUY, "2")], atomic=False)
    assert refused.value.reason == (
        f"TX_VALUE: supply ETH moves {2 * eth_usd:,.0f} USD, above max_tx_value_usd {1.5 * eth_usd:,.0f} (mode YAML)"
    )
    assert refused.value.gas_eth is None and nonce(aave, wallet) == sent


def test_the_daily_gas_budget_stops_sends_before_it_is_exceeded(
    aave: LocalAave, make_backend: Callable[..., Web3Backend], venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    """A budget of 1.3 times what one supply (wrap, approve, supply) costs: the first goes, the
    second is refused part-way with the gas of what it did send charged, and the gas paid
    never exceeds the budget."""
    probe = make_backend()
    first = probe.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False).gas_eth
    budget = 1.3 * first
    backend = make_backend(limits=SendLimits(max_daily_gas_eth=budget))
    assert backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False).gas_eth > 0
    with pytest.raises(ExecutionRejected, match=r"GAS_BUDGET: \w+ would cost ~0\.\d+ ETH of gas") as refused:
        backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    paid = backend.sender.gas_paid_wei / ETHER
    assert paid <= budget and paid == pytest.approx(backend.sender.gas_budget.paid_wei() / ETHER)
    assert f"max_daily_gas_eth {budget:g}" in refused.value.reason


def test_the_gas_budget_counts_a_rolling_24_hours() -> None:
    now = [0.0]
    budget = GasBudget(0.5, clock=lambda: now[0])
    budget.record(3 * ETHER // 10)
    now[0] = 3_600.0
    budget.record(ETHER // 10)
    budget.check("supply", ETHER // 10)  # 0.3 + 0.1 + 0.1 = 0.5: within
    with pytest.raises(ExecutionRejected, match=r"0\.400000 ETH paid in the last 24 h"):
        budget.check("supply", ETHER // 10 + 1)
    now[0] = DAY_SECONDS + 1.0  # the 0.3 ETH has left the window, the 0.1 ETH not yet
    assert budget.paid_wei() == ETHER // 10
    budget.check("supply", 4 * ETHER // 10)


def test_a_gas_ledger_carries_the_day_across_restarts(tmp_path: Path) -> None:
    """A live node's budget (``SendLimits.gas_ledger``): a new budget on the same file starts from
    the receipts still inside the 24 hours, so restarting does not reset the day."""
    now, ledger = [0.0], tmp_path / "gas_ledger.json"
    budget = GasBudget(0.5, clock=lambda: now[0], ledger=ledger)
    budget.record(3 * ETHER // 10)
    now[0] = 3_600.0
    budget.record(ETHER // 10)
    restarted = GasBudget(0.5, clock=lambda: now[0], ledger=ledger)
    assert restarted.paid_wei() == 4 * ETHER // 10
    with pytest.raises(ExecutionRejected, match=r"0\.400000 ETH paid in the last 24 h"):
        restarted.check("supply", ETHER // 10 + 1)
    now[0] = DAY_SECONDS + 1.0  # the 0.3 ETH has left the window
    restarted.record(ETHER // 20)
    assert json.loads(ledger.read_text()) == [[3_600.0, ETHER // 10], [now[0], ETHER // 20]]
    assert GasBudget(0.5, clock=lambda: now[0], ledger=ledger).paid_wei() == 3 * ETHER // 20
    ledger.write_text("{not json")
    with pytest.raises(ValueError, match="not a gas ledger"):
        GasBudget(0.5, ledger=ledger)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tx_value_usd and max_daily_gas_eth must be > 0"):
        SendLimits(max_daily_gas_eth=0)


def test_a_halt_on_the_bus_stops_every_send(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    node = Node()
    backend.sender.watch_halt(node.msgbus)
    node.msgbus.publish(HALT_TOPIC, HALT)
    with pytest.raises(ExecutionRejected) as refused:
        backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    assert refused.value.reason == f"HALTED: deposit not sent (requested by {HALT.describe()})"
    assert nonce(aave, wallet) == 0


def in_thread(act: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """``act()`` running in a thread; its result or rejection lands in the dict."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["done"] = act()
        except ExecutionRejected as e:
            outcome["rejected"] = e

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_halt_mid_order_awaits_the_broadcast_transaction_and_starts_no_other(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    """A supply is wrap, approve, supply. The halt arrives while the wrap is in the mempool: the
    wrap is awaited and mined (its gas charged with the rejection), the approve is never sent."""
    node = Node()
    backend.sender.watch_halt(node.msgbus)
    rpc(aave.w3, "evm_setAutomine", False)
    try:
        thread, outcome = in_thread(
            lambda: backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
        )
        wait_for(lambda: pending_tip(aave, wallet) is not None)
        node.msgbus.publish(HALT_TOPIC, HALT)
        rpc(aave.w3, "evm_mine")
        thread.join(timeout=30)
    finally:
        rpc(aave.w3, "evm_setAutomine", True)
    rejected = outcome["rejected"]
    assert isinstance(rejected, ExecutionRejected) and rejected.reason.startswith("HALTED: approve not sent")
    assert rejected.gas_eth == pytest.approx(backend.sender.gas_paid_wei / ETHER) and rejected.gas_eth > 0
    assert nonce(aave, wallet) == 1
    assert aave.tokens["WETH"].functions.balanceOf(wallet.address).call() == ETHER


def test_a_halted_sender_does_not_replace_a_stuck_transaction(
    aave: LocalAave, make_backend, live_config_path, tmp_path, wallet: LocalAccount
) -> None:
    """Stuck after 0.3 s, but halted: reported pending, never re-sent with higher fees; it is mined
    later as it was (one transaction, the first fee)."""
    backend = quick_backend(make_backend, live_config_path, tmp_path)
    rpc(aave.w3, "evm_setAutomine", False)
    try:
        thread, outcome = in_thread(backend.set_emode)
        wait_for(lambda: pending_tip(aave, wallet) is not None)
        tip = pending_tip(aave, wallet)
        backend.sender.halt("test")
        thread.join(timeout=30)
        assert pending_tip(aave, wallet) == tip  # not replaced
        rpc(aave.w3, "evm_mine")
    finally:
        rpc(aave.w3, "evm_setAutomine", True)
    assert "not mined within 0.3s and not replaced: halted" in outcome["rejected"].reason
    block = aave.w3.eth.get_block("latest", full_transactions=True)
    assert [tx["maxPriorityFeePerGas"] for tx in block["transactions"]] == [tip]
    assert nonce(aave, wallet) == 1


def test_mainnet_needs_the_operators_confirmation(live_config_path, venue: WalletVenueConfig) -> None:
    local = load_chain_live(live_config_path, venue)
    mainnet = msgspec.structs.replace(local, chain_id=1)
    with pytest.raises(ConfigError, match="--confirm-mainnet"):
        check_chain(mainnet, 1, confirm_mainnet=False)
    check_chain(mainnet, 1, confirm_mainnet=True)
    check_chain(local, local.chain_id, confirm_mainnet=False)
    # a mainnet node behind the local chain's config is caught, confirmed or not
    with pytest.raises(ConfigError, match=f"the node is chain 1; the chain config is for {local.chain_id}"):
        check_chain(local, 1, confirm_mainnet=True)
