"""What the web3 backend refuses before sending (slippage, health-factor floor, gas-price cap, a
simulated revert: nothing spent) and what a revert on chain costs (its gas, charged)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import yaml
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from nautilus_trader.model.enums import OrderSide

from adapters.defi.aave_params import load_reserve_params
from adapters.defi.backend import ExecutionRejected
from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.backend import Web3Backend
from data_catalog import raw_files
from localchain.aave import ETH_EMODE_CATEGORY, LocalAave
from localchain.anvil import rpc
from localchain.uniswap import LocalUniswap
from tests.defi_web3.conftest import LIMITS, order
from tests.defi_web3.rpc_relay import RpcRelay
from tests.defi_web3.test_orders import eth_held
from tests.localchain.helpers import ETHER, account, price, supply, units

BUY, SELL = OrderSide.BUY, OrderSide.SELL
GWEI = 10**9


def nonce(aave: LocalAave, wallet: LocalAccount) -> int:
    return aave.w3.eth.get_transaction_count(wallet.address)


def test_a_swap_quoted_worse_than_the_tolerance_is_refused_unsent(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount, marks: dict
) -> None:
    """The strategy marks ETH 2 % above the pool: selling would get less than mark × (1 − fee) ×
    (1 − 1 %), so no amountOutMinimum the pool can meet; buying at 2 % below it likewise."""
    start, sent = eth_held(aave, wallet), nonce(aave, wallet)
    marks["ETHUSDT-UNIV3"] *= 1.02
    with pytest.raises(ExecutionRejected, match="SLIPPAGE: ETHUSDT-UNIV3 would get") as sold:
        backend.execute([order(venue, "ETHUSDT-UNIV3", SELL, "1")], atomic=False)
    marks["ETHUSDT-UNIV3"] /= 1.02 * 1.02
    with pytest.raises(ExecutionRejected, match="SLIPPAGE: ETHUSDT-UNIV3 would pay") as bought:
        backend.execute([order(venue, "ETHUSDT-UNIV3", BUY, "1")], atomic=False)
    assert sold.value.gas_eth is None and bought.value.gas_eth is None
    assert (eth_held(aave, wallet), nonce(aave, wallet)) == (start, sent)

    marks["ETHUSDT-UNIV3"] *= 1.02 * 1.005  # within 1 % of the pool again: the swap goes through
    filled = backend.execute([order(venue, "ETHUSDT-UNIV3", SELL, "1")], atomic=False)
    # at the pool's price less the impact of 1 ETH on its ~7,000 ETH of virtual reserves
    assert filled.fills[0].price == pytest.approx(marks["ETHUSDT-UNIV3"] / 1.005, rel=3e-4)


def test_the_health_factor_floor_refuses_a_borrow_aave_would_allow(
    aave: LocalAave,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    wallet: LocalAccount,
    users: list[str],
    data_dir,
) -> None:
    """10 WETH collateral outside e-mode: HF = 10 × P_eth × LT / debt. Borrowing 99 % of what the
    LTV allows ends at HF = LT / (0.99 LTV) ≈ 1.04 < 1.05: refused before sending. A borrow to
    HF 1.2 goes through and the chain's own HF matches."""
    supply(aave, users[0], "USDT", 1_000_000)
    backend.execute([order(venue, "AWETH-AAVE", BUY, "10")], atomic=False)
    weth = load_reserve_params(data_dir / raw_files.AAVE_PARAMS_FILE, ["WETH"])["WETH"]
    collateral_usd = 10 * price(aave, "WETH")
    too_much = 0.99 * weth.ltv * collateral_usd / price(aave, "USDT")
    expected_hf = weth.liquidation_threshold / (0.99 * weth.ltv)
    assert 1.0 < expected_hf < LIMITS["min_health_factor"]
    sent = nonce(aave, wallet)
    with pytest.raises(ExecutionRejected, match=f"HEALTH_FLOOR: borrow .* at {expected_hf:.3f}"):
        backend.execute([order(venue, "VDUSDT-AAVE", SELL, f"{too_much:.2f}")], atomic=False)
    assert nonce(aave, wallet) == sent and account(aave, wallet.address)["debt"] == 0

    fine = collateral_usd * weth.liquidation_threshold / 1.2 / price(aave, "USDT")
    backend.execute([order(venue, "VDUSDT-AAVE", SELL, f"{fine:.2f}")], atomic=False)
    assert account(aave, wallet.address)["health_factor"] / ETHER == pytest.approx(1.2, rel=1e-5)
    with pytest.raises(ExecutionRejected, match="HEALTH_FLOOR: withdraw"):  # 20 % less collateral
        backend.execute([order(venue, "AWETH-AAVE", SELL, "2")], atomic=False)


def test_a_gas_price_above_the_cap_is_refused_unsent(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    start, sent = eth_held(aave, wallet), nonce(aave, wallet)
    usual = aave.w3.eth.get_block("pending")["baseFeePerGas"]
    rpc(aave.w3, "anvil_setNextBlockBaseFeePerGas", hex(2 * LIMITS["max_gas_price_gwei"] * GWEI))
    try:
        with pytest.raises(
            ExecutionRejected, match=r"GAS_PRICE: 20\d\.\d\d gwei is above the cap of 100\.00"
        ):
            backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    finally:  # the next block's base fee is node state a snapshot's revert does not restore
        rpc(aave.w3, "anvil_setNextBlockBaseFeePerGas", hex(usual))
    assert (eth_held(aave, wallet), nonce(aave, wallet)) == (start, sent)


def test_a_revert_in_simulation_spends_nothing(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    """Withdrawing collateral never supplied: Aave refuses in ``eth_call``, nothing is sent."""
    start, sent = eth_held(aave, wallet), nonce(aave, wallet)
    with pytest.raises(ExecutionRejected, match="SIMULATION: withdraw would revert") as refused:
        backend.execute([order(venue, "AWETH-AAVE", SELL, "1")], atomic=False)
    assert refused.value.gas_eth is None
    assert (eth_held(aave, wallet), nonce(aave, wallet)) == (start, sent)


def test_a_revert_on_chain_is_a_rejection_with_its_gas_charged(
    aave: LocalAave,
    uniswap: LocalUniswap,
    backend: Web3Backend,
    venue: WalletVenueConfig,
    wallet: LocalAccount,
) -> None:
    """A sandwich: the wallet's swap simulates fine, then a bigger sale of ETH lands first in the
    same block, and the swap's amountOutMinimum makes it revert on chain. Its gas is charged,
    nothing else moves, and the next order still gets a good nonce."""
    weth, router = aave.tokens["WETH"], uniswap.router
    backend.sender.send(weth.functions.deposit(), value=ETHER)  # funded and approved beforehand:
    backend.sender.approve(weth, router.address, ETHER)  # the swap is the only transaction
    front = units(aave, "WETH", 500)
    weth.functions.deposit().transact({"value": front})
    weth.functions.approve(router.address, front).transact()
    start = eth_held(aave, wallet)
    sent = nonce(aave, wallet)

    rpc(aave.w3, "evm_setAutomine", False)
    outcome: dict[str, object] = {}

    def swap() -> None:
        try:
            outcome["execution"] = backend.execute([order(venue, "ETHUSDT-UNIV3", SELL, "1")], atomic=False)
        except ExecutionRejected as e:
            outcome["rejected"] = e

    thread = threading.Thread(target=swap)
    thread.start()
    try:
        wait_for(lambda: aave.w3.eth.get_transaction_count(wallet.address, "pending") > sent)
        pool = uniswap.pools["ETHUSDT-UNIV3"]
        params = (weth.address, pool.quote.address, pool.fee, aave.admin, 2**63, front, 0, 0)
        router.functions.exactInputSingle(params).transact(
            {"maxPriorityFeePerGas": 50 * GWEI, "maxFeePerGas": 100 * GWEI}
        )
        rpc(aave.w3, "evm_mine")
        thread.join(timeout=30)
    finally:
        rpc(aave.w3, "evm_setAutomine", True)
    rejected = outcome["rejected"]
    assert isinstance(rejected, ExecutionRejected)
    assert rejected.reason.startswith("REVERTED: exactInputSingle reverted on chain")
    assert rejected.gas_operation == "token_swap" and rejected.gas_eth > 0
    assert eth_held(aave, wallet) == pytest.approx(start - rejected.gas_eth, abs=1e-12)
    assert weth.functions.balanceOf(wallet.address).call() == ETHER  # the sale did not happen

    supplied = backend.execute([order(venue, "AWETH-AAVE", BUY, "0.5")], atomic=False)
    assert supplied.gas_eth > 0 and nonce(aave, wallet) > sent + 1


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_usdt_allowances_go_through_zero_and_are_exact(
    aave: LocalAave, uniswap: LocalUniswap, backend: Web3Backend, wallet: LocalAccount
) -> None:
    """TetherLike refuses a non-zero → non-zero approve, as mainnet USDT does."""
    usdt, spender = aave.tokens["USDT"], uniswap.router.address
    backend.sender.approve(usdt, spender, 5_000_000)
    backend.sender.approve(usdt, spender, 7_000_000)
    assert usdt.functions.allowance(wallet.address, spender).call() == 7_000_000
    sent = nonce(aave, wallet)
    backend.sender.approve(usdt, spender, 7_000_000)  # already exact: nothing sent
    assert nonce(aave, wallet) == sent


def test_order_lists_and_orders_no_protocol_takes_are_refused_unsent(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    sent = nonce(aave, wallet)
    supply = order(venue, "AWETH-AAVE", BUY, "1")
    with pytest.raises(ExecutionRejected, match="atomic order lists need the executor"):
        backend.execute([supply], atomic=True)
    with pytest.raises(ExecutionRejected, match="WSTETH-LIDO only mints; redeem through WSTETH-LIDOQ"):
        backend.execute([order(venue, "WSTETH-LIDO", SELL, "1")], atomic=False)
    with pytest.raises(ExecutionRejected, match="WEETH-ETHERFIQ only takes withdrawal requests"):
        backend.execute([order(venue, "WEETH-ETHERFIQ", BUY, "1")], atomic=False)
    assert nonce(aave, wallet) == sent


def test_a_nonce_used_elsewhere_is_re_read_and_the_order_still_goes(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    """Another process signs with the same key between two orders: the tracked nonce is stale, the
    node refuses it, and the sender re-reads the pending count and signs again."""
    backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    w3, sent = aave.w3, nonce(aave, wallet)
    elsewhere = {"to": wallet.address, "value": 0, "gas": 21_000, "nonce": sent, "chainId": w3.eth.chain_id}
    elsewhere |= {"maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI}
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(wallet.sign_transaction(elsewhere).raw_transaction)
    )
    supplied = backend.execute([order(venue, "AWETH-AAVE", BUY, "1")], atomic=False)
    assert supplied.gas_eth > 0 and nonce(aave, wallet) == sent + 4  # theirs, then wrap, approve, supply
    assert aave.a_tokens["WETH"].functions.balanceOf(wallet.address).call() == pytest.approx(
        2 * ETHER, rel=1e-7
    )


def test_a_wallet_that_cannot_pay_the_gas_is_refused_by_the_node(
    aave: LocalAave, backend: Web3Backend, venue: WalletVenueConfig, wallet: LocalAccount
) -> None:
    rpc(aave.w3, "anvil_setBalance", wallet.address, hex(10**12))  # 1e-6 ETH: less than any gas
    with pytest.raises(ExecutionRejected, match=r"SEND: the node refused deposit: .*(?i:insufficient funds)"):
        backend.execute([order(venue, "AWETH-AAVE", BUY, "0.0000005")], atomic=False)
    assert (aave.w3.eth.get_balance(wallet.address), nonce(aave, wallet)) == (10**12, 0)


def pending_tip(aave: LocalAave, wallet: LocalAccount) -> int | None:
    """The priority fee of the wallet's transaction waiting in anvil's pool, if any."""
    pending = rpc(aave.w3, "txpool_content")["pending"].get(wallet.address.lower(), {})
    return max((int(tx["maxPriorityFeePerGas"], 16) for tx in pending.values()), default=None)


def stalled_emode(aave: LocalAave, backend: Web3Backend, until: Callable[[], bool]) -> dict[str, object]:
    """``set_emode`` (one transaction) with blocks mined only once ``until()``: what it returned."""
    outcome: dict[str, object] = {}

    def enter() -> None:
        try:
            outcome["execution"] = backend.set_emode()
        except ExecutionRejected as e:
            outcome["rejected"] = e

    rpc(aave.w3, "evm_setAutomine", False)
    thread = threading.Thread(target=enter)
    thread.start()
    try:
        wait_for(until)
        rpc(aave.w3, "evm_mine")
        thread.join(timeout=30)
    finally:
        rpc(aave.w3, "evm_setAutomine", True)
    return outcome


def quick_backend(
    make_backend: Callable[..., Web3Backend], live_config_path, tmp_path, **changes: float
) -> Web3Backend:
    """A backend that calls a transaction stuck after 0.3 s (and ``changes`` to its limits)."""
    config = yaml.safe_load(live_config_path.read_text()) | {"receipt_timeout_seconds": 0.3} | changes
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(config))
    return make_backend(path)


def test_a_stuck_transaction_is_replaced_with_higher_fees(
    aave: LocalAave, make_backend, live_config_path, tmp_path, wallet: LocalAccount
) -> None:
    backend = quick_backend(make_backend, live_config_path, tmp_path)
    tips: list[int] = []

    def replaced() -> bool:
        tip = pending_tip(aave, wallet)
        if tip is not None and tip not in tips:
            tips.append(tip)
        return len(tips) == 2

    outcome = stalled_emode(aave, backend, replaced)
    assert outcome["execution"].gas_eth > 0
    assert tips[1] == -(-tips[0] * 5 // 4)  # +25 %, rounded up
    assert aave.pool.functions.getUserEMode(wallet.address).call() == ETH_EMODE_CATEGORY
    block = aave.w3.eth.get_block("latest", full_transactions=True)
    assert [tx["maxPriorityFeePerGas"] for tx in block["transactions"]] == [tips[1]]  # only one mined
    assert nonce(aave, wallet) == 1


def test_a_stuck_transaction_whose_fee_cannot_rise_under_the_cap_is_refused_as_pending(
    aave: LocalAave, make_backend, live_config_path, tmp_path, wallet: LocalAccount
) -> None:
    """The cap sits just above the next block's fees: the first offer is the cap itself, so there
    is no room for a replacement."""
    fees = aave.w3.eth.get_block("pending")["baseFeePerGas"] + aave.w3.eth.max_priority_fee
    cap_gwei = fees * 1.05 / GWEI
    backend = quick_backend(make_backend, live_config_path, tmp_path, max_gas_price_gwei=cap_gwei)
    started = time.monotonic()
    outcome = stalled_emode(aave, backend, lambda: time.monotonic() > started + 1.0)
    assert "not mined within 0.3s and its fee cannot rise under the cap" in outcome["rejected"].reason
    # mined at last (the caveat): the sender re-reads the nonce, and the next transaction goes
    assert aave.pool.functions.getUserEMode(wallet.address).call() == ETH_EMODE_CATEGORY
    assert backend.set_emode().gas_eth > 0 and nonce(aave, wallet) == 2


def drop_on_broadcast(
    backend: Web3Backend, relay: RpcRelay, monkeypatch: pytest.MonkeyPatch, before: bool, down_for: float
) -> None:
    """Cut the connection at the backend's first broadcast, ``before`` the node gets it or just
    after, and restore it ``down_for`` seconds later. web3's own retries (about 4 s of backoff)
    are turned off: the outage outlasts them, as a real one may, and the sender has to cope."""
    backend.w3.provider.exception_retry_configuration = None
    eth = backend.w3.eth
    broadcast = eth.send_raw_transaction

    def dropping(raw: bytes) -> HexBytes:
        monkeypatch.setattr(eth, "send_raw_transaction", broadcast)  # the first broadcast only
        threading.Timer(down_for, relay.open).start()
        if before:
            relay.close()
            return broadcast(raw)
        sent = broadcast(raw)
        relay.close()
        return sent

    monkeypatch.setattr(eth, "send_raw_transaction", dropping)


def test_a_connection_lost_after_the_broadcast_is_awaited_and_not_sent_again(
    aave: LocalAave, make_backend, relay: RpcRelay, wallet: LocalAccount, monkeypatch
) -> None:
    """The node has the transaction (and mines it) when the connection drops: the sender reads the
    receipt once the connection is back, and sends nothing more."""
    backend = make_backend(rpc_url=relay.url)
    drop_on_broadcast(backend, relay, monkeypatch, before=False, down_for=1.0)
    accepted = relay.accepted
    execution = backend.set_emode()
    assert relay.accepted > accepted  # reconnected
    assert execution.gas_eth > 0 and nonce(aave, wallet) == 1
    assert aave.pool.functions.getUserEMode(wallet.address).call() == ETH_EMODE_CATEGORY


def test_a_connection_lost_while_broadcasting_is_sent_once_at_the_same_nonce(
    aave: LocalAave,
    make_backend,
    live_config_path,
    tmp_path,
    relay: RpcRelay,
    wallet: LocalAccount,
    monkeypatch,
) -> None:
    """The connection drops before the node gets the transaction: no receipt comes, so once the
    connection is back the transaction goes again as a replacement (same nonce, higher fees):
    mined exactly once."""
    config = yaml.safe_load(live_config_path.read_text()) | {"receipt_timeout_seconds": 0.3}
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(config))
    backend = make_backend(path, rpc_url=relay.url)
    drop_on_broadcast(backend, relay, monkeypatch, before=True, down_for=1.0)
    execution = backend.set_emode()
    assert execution.gas_eth > 0 and nonce(aave, wallet) == 1
    assert aave.pool.functions.getUserEMode(wallet.address).call() == ETH_EMODE_CATEGORY
    mined = aave.w3.eth.get_block("latest", full_transactions=True)["transactions"]
    assert [tx["from"] for tx in mined] == [wallet.address]


def test_an_unreachable_node_refuses_before_sending_and_the_next_send_goes(
    aave: LocalAave, make_backend, relay: RpcRelay, wallet: LocalAccount
) -> None:
    backend = make_backend(rpc_url=relay.url)
    backend.w3.provider.exception_retry_configuration = None  # no waiting for web3's own retries
    relay.close()
    with pytest.raises(
        ExecutionRejected, match=r"RPC: setUserEMode not sent, the node is unreachable"
    ) as refused:
        backend.set_emode()
    assert str(relay.port) not in refused.value.reason and refused.value.gas_eth is None
    relay.open()
    assert backend.set_emode().gas_eth > 0 and nonce(aave, wallet) == 1
