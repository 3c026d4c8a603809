"""A wallet-capital mode live on a chain (``run_live.py --env testnet --chain CHAIN.yaml``), with the
session's local chain playing the testnet (its chain id, 31337, in the chain YAML).

The node is the one ``run_live.py`` builds (``open_chain`` then ``build_live_node``: the web3
backend on the environment's key and RPC URL, the chain data feed polling every 0.2 s, Redis as
its state). The test moves the chain's clock past an hour so the feed closes the hour's pool bar
and the strategy acts, as a real chain's blocks would. The CLI's refusals run ``main`` itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from adapters.cex.margin import last_price
from adapters.config import ConfigError
from adapters.defi.backend import ExecutionRejected
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import account_balances
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.web3.connection import KEY, RPC_URL
from backtesting.config import load_run_config, mode_file_path
from live.chain_live import GAS_LEDGER, ChainLive, open_chain, read_holdings
from live.cli import main
from live.environments import LiveEnv
from live.halt import request_halt
from live.local_chain import LIMITS as LOCAL_CHAIN_LIMITS
from live.redis_state import RedisAddress, local_redis
from live.trading import LiveNode, build_live_node
from live.venues import plan_live
from localchain.aave import LocalAave
from localchain.anvil import rpc
from localchain.market import ChainMarket
from localchain.uniswap import LocalUniswap
from localchain.wallet import chain_config, deploy_own_executor, fund

MODE = "pure_lending_usdt"
CAPITAL = 10_000.0
GAS_ETH = 0.055
"""Ether for gas: the mode's gas reserve (0.05) and what set-up costs; more would be sold as dust
and supplied (stray ETH worth more than dust_threshold_usd is deployed)."""
POLL_SECS = 0.2
DRIFT_USDT = 1_000.0
STAKED_ETH = 2.0
LEVERED_ETH = 3.0
ROUNDING = 3e-8
"""Books vs chain: each gas charge and fill is booked at 8 decimals, the chain read rounded down."""
WAIT_SECS = 60.0


@pytest.fixture
def account(aave: LocalAave) -> LocalAccount:
    return Account.create()


@pytest.fixture
def chain_yaml(aave: LocalAave, uniswap: LocalUniswap, venue: WalletVenueConfig, tmp_path: Path) -> Path:
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(chain_config(aave, uniswap, venue)))
    return path


@pytest.fixture
def wallet_env(aave: LocalAave, account: LocalAccount, monkeypatch: pytest.MonkeyPatch) -> LocalAccount:
    """The wallet's key and the chain's RPC URL in the environment, as an operator sets them."""
    monkeypatch.setenv(RPC_URL, aave.w3.provider.endpoint_uri)
    monkeypatch.setenv(KEY, account.key.hex())
    return account


def _sent(aave: LocalAave, account: LocalAccount) -> int:
    """Transactions the wallet has sent (its nonce)."""
    return aave.w3.eth.get_transaction_count(account.address)


async def _until(what: str, done: Callable[[], bool], timeout: float = WAIT_SECS) -> None:
    waited = 0.0
    while not done():
        if waited > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
        waited += 0.05


@contextmanager
def _node(chain: ChainLive, state_dir: Path, redis: RedisAddress, mode: str = MODE) -> Iterator[LiveNode]:
    run = load_run_config(mode_file_path(mode))
    plan = plan_live(run, LiveEnv.TESTNET)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    live = build_live_node(
        run,
        plan,
        redis,
        Path("catalog"),
        state_dir,
        "WARNING",
        print_line=lambda _: None,
        loop=loop,
        chain=chain,
    )
    try:
        yield live
    finally:
        live.node.dispose()


def _drive(live: LiveNode, session: Callable[[], Awaitable[None]]) -> None:
    """Start the node, run ``session`` on its loop, stop it (its state saved in Redis)."""
    kernel = live.node.kernel
    loop = kernel.loop

    async def run() -> None:
        await kernel.start_async()
        try:
            await session()
        finally:
            await kernel.stop_async()

    loop.run_until_complete(asyncio.wait_for(run(), WAIT_SECS * 2))


def _next_hour(aave: LocalAave, uniswap: LocalUniswap) -> int:
    """Mine a block in the next hour (what closes the current hour's bars); its hour's start (ns)."""
    market = ChainMarket(aave, uniswap)
    hour = (market.now() // 3600 + 1) * 3600
    market.advance_to(hour + 5)
    return hour * 10**9


def _books(live: LiveNode) -> dict[str, float]:
    return account_balances(live.node.kernel.cache, live.strategy.wallet_venue)


def _enter(
    live: LiveNode, aave: LocalAave, uniswap: LocalUniswap, venue: WalletVenueConfig, token: str, what: str
) -> dict[str, dict[str, float]]:
    """Run the node until its entry is on chain (the strategy entered, no plan in flight, ``token``
    in its books) after the hour closes; then the chain's holdings and the books, read once a few
    polls later (the books accrue to the block of the entry)."""
    assert live.wallet is not None
    wallet = live.wallet
    read: dict[str, dict[str, float]] = {}

    async def entering() -> None:
        await _until("the feed's first poll", lambda: wallet.chain_ns > 0)
        _next_hour(aave, uniswap)
        await _until(
            what,
            lambda: live.strategy.entered and not live.strategy.plans.busy and _books(live).get(token, 0) > 0,
        )
        await asyncio.sleep(3 * POLL_SECS)
        read.update(chain=read_holdings(wallet.backend, venue), books=_books(live))

    _drive(live, entering)
    return read


def test_a_testnet_node_supplies_the_wallets_usdt_and_carries_on_after_a_restart(
    aave: LocalAave,
    uniswap: LocalUniswap,
    venue: WalletVenueConfig,
    wallet_env: LocalAccount,
    chain_yaml: Path,
    tmp_path: Path,
) -> None:
    fund(aave, wallet_env, "USDT", CAPITAL, GAS_ETH)
    state_dir = tmp_path / "state"
    chain = open_chain(chain_yaml, confirm_mainnet=False, poll_secs=POLL_SECS)
    a_usdt = next(r.a_token for r in venue.aave.reserves if r.asset == "USDT")
    with local_redis(tmp_path / "redis") as redis:
        with _node(chain, state_dir, redis) as live:
            assert live.wallet is not None
            # the books start from the chain: the capital is the wallet's, not the mode YAML's 100,000
            assert live.wallet.holdings["USDT"] == CAPITAL
            assert live.wallet.holdings["ETH"] == pytest.approx(GAS_ETH - _paid(aave, wallet_env), abs=1e-8)
            before = _sent(aave, wallet_env)
            opened = _enter(live, aave, uniswap, venue, a_usdt, "the supply on chain")
            assert _sent(aave, wallet_env) == before + 2  # approve, supply
            assert live.strategy.actions["entry_full"] == 1
        books, on_chain = opened["books"], opened["chain"]
        assert on_chain["USDT"] == 0.0 and books["USDT"] == 0.0
        assert on_chain[a_usdt] == pytest.approx(CAPITAL, rel=1e-6)
        assert books[a_usdt] == pytest.approx(on_chain[a_usdt], abs=2e-6)
        assert books["ETH"] == pytest.approx(on_chain["ETH"], abs=ROUNDING)
        ledger = json.loads((state_dir / GAS_LEDGER).read_text())
        paid = sum(wei for _, wei in ledger) / 1e18
        assert paid == pytest.approx(GAS_ETH - on_chain["ETH"], abs=1e-8)  # e-mode, approve, supply

        # restart: the same state folder and Redis; an hour passes on chain meanwhile
        sent = _sent(aave, wallet_env)
        _next_hour(aave, uniswap)
        chain = open_chain(chain_yaml, confirm_mainnet=False, poll_secs=POLL_SECS)
        with _node(chain, state_dir, redis) as live:
            assert live.wallet is not None
            restarted = live.wallet.holdings
            assert restarted[a_usdt] >= on_chain[a_usdt] and restarted["USDT"] == 0.0
            budget = live.wallet.backend.sender.gas_budget
            assert budget.paid_wei() == sum(wei for _, wei in ledger)  # the day's gas, not a fresh day
            after_tick: dict[str, object] = {}

            async def carrying_on() -> None:
                await _until("the feed's first poll", lambda: live.wallet.chain_ns > 0)
                hour = _next_hour(aave, uniswap)
                await _until("the strategy's next hour", lambda: live.wallet.checked_ns >= hour)
                chain_now = read_holdings(live.wallet.backend, venue)
                after_tick.update(
                    halted=live.strategy.halted, sent=_sent(aave, wallet_env), books=_books(live)
                )
                after_tick.update(chain=chain_now)
                # a hand-made transfer of aUSDT out of the wallet: the next hour's check sees it
                _transfer_by_hand(aave, wallet_env, aave.a_tokens["USDT"], DRIFT_USDT)
                _next_hour(aave, uniswap)
                await _until("the books checked against the chain", lambda: live.strategy.halted is not None)

            _drive(live, carrying_on)
            assert after_tick["halted"] is None and live.strategy.entered
            assert live.strategy.actions["entry_full"] == 1  # the saved state's: no second opening
            assert after_tick["sent"] == sent  # nothing sent again
            assert after_tick["books"][a_usdt] == pytest.approx(after_tick["chain"][a_usdt], abs=2e-6)
            held = after_tick["chain"][a_usdt]
            assert live.strategy.halted.startswith(
                f"the chain's holdings differ from the books: {a_usdt}: books {held:.8g}"
            )
            assert _sent(aave, wallet_env) == sent + 1  # the hand-made transfer only


def _transfer_by_hand(aave: LocalAave, account: LocalAccount, token: Contract, amount: float) -> None:
    """``amount`` of ``token`` sent from the wallet to another address, as its owner might by hand."""
    raw = round(amount * 10 ** token.functions.decimals().call())
    rpc(aave.w3, "anvil_impersonateAccount", account.address)
    try:
        tx = token.functions.transfer(aave.w3.eth.accounts[5], raw).transact({"from": account.address})
        aave.w3.eth.wait_for_transaction_receipt(tx)
    finally:
        rpc(aave.w3, "anvil_stopImpersonatingAccount", account.address)


def _transactions(aave: LocalAave, account: LocalAccount, since: int) -> list[dict]:
    """The wallet's transactions from nonce ``since`` on, in order (anvil mines one per block)."""
    found = []
    for number in range(aave.w3.eth.block_number, -1, -1):
        for tx in aave.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == account.address and tx["nonce"] >= since:
                found.append(tx)
        if any(tx["nonce"] == since for tx in found):
            break
    return sorted(found, key=lambda tx: tx["nonce"])


def _paid(aave: LocalAave, account: LocalAccount, funded: float = GAS_ETH) -> float:
    """Gas the wallet has paid so far (entering the chain YAML's e-mode at the node's set-up)."""
    return funded - aave.w3.eth.get_balance(account.address) / 1e18


def test_a_testnet_node_stakes_the_wallets_eth(
    aave: LocalAave,
    uniswap: LocalUniswap,
    venue: WalletVenueConfig,
    wallet_env: LocalAccount,
    chain_yaml: Path,
    tmp_path: Path,
) -> None:
    """eth_staking_only (share class ETH, weETH): the wallet's ether beyond the gas reserve is
    staked through EtherFi's deposit and weETH's wrap; the books hold what the chain holds."""
    fund(aave, wallet_env, "ETH", STAKED_ETH, 0.0)
    chain = open_chain(chain_yaml, confirm_mainnet=False, poll_secs=POLL_SECS)
    with (
        local_redis(tmp_path / "redis") as redis,
        _node(chain, tmp_path / "state", redis, "eth_staking_only") as live,
    ):
        assert live.wallet is not None
        assert live.wallet.holdings["ETH"] == pytest.approx(
            STAKED_ETH - _paid(aave, wallet_env, STAKED_ETH), abs=1e-8
        )
        staked = _enter(live, aave, uniswap, venue, "WEETH", "the stake on chain")
        rate = last_price(live.node.kernel.cache, wallet_instrument_id(venue, "WEETH-ETHERFI"))
    books, on_chain = staked["books"], staked["chain"]
    assert on_chain["WEETH"] > 0 and books["WEETH"] == pytest.approx(on_chain["WEETH"], abs=1e-8)
    assert books["ETH"] == pytest.approx(on_chain["ETH"], abs=ROUNDING)
    # everything but the gas reserve (and the gas paid) is staked
    assert on_chain["ETH"] == pytest.approx(0.05, abs=0.01)
    assert on_chain["WEETH"] * rate == pytest.approx(STAKED_ETH - on_chain["ETH"], rel=1e-3)


def test_a_testnet_node_opens_the_leveraged_loop_in_one_transaction(
    aave: LocalAave,
    uniswap: LocalUniswap,
    venue: WalletVenueConfig,
    wallet_env: LocalAccount,
    tmp_path: Path,
) -> None:
    """eth_leveraged: the wallet's own executor (deployed beforehand, named in the chain YAML)
    opens the flash-loan loop — stake, supply weETH, borrow WETH — as one transaction; the
    books' collateral, debt and ETH are the chain's."""
    fund(aave, wallet_env, "ETH", LEVERED_ETH, 0.0)
    ChainMarket(aave, uniswap).open_lending()  # WETH for the loop to borrow (a fresh reserve has none)
    executor = deploy_own_executor(aave, uniswap, wallet_env)
    config = chain_config(aave, uniswap, venue, LOCAL_CHAIN_LIMITS) | {"executor": executor.contract.address}
    chain_yaml = tmp_path / "chain.yaml"
    chain_yaml.write_text(yaml.safe_dump(config))
    chain = open_chain(chain_yaml, confirm_mainnet=False, poll_secs=POLL_SECS)
    debt_token = aave.debt_tokens["WETH"].address
    with (
        local_redis(tmp_path / "redis") as redis,
        _node(chain, tmp_path / "state", redis, "eth_leveraged") as live,
    ):
        assert live.wallet is not None
        sent = _sent(aave, wallet_env)
        opened = _enter(live, aave, uniswap, venue, "AWEETH", "the loop on chain")
        loops = _transactions(aave, wallet_env, since=sent)
    books, on_chain = opened["books"], opened["chain"]
    # the LST's route registered with the executor (once), the credit delegation for exactly this
    # loop's debt, then the loop itself: flash loan, stake, supply, borrow in one transaction
    assert [tx["to"] for tx in loops] == [executor.contract.address, debt_token, executor.contract.address]
    for code in ("AWEETH", "VDWETH", "ETH"):
        assert books[code] == pytest.approx(on_chain[code], abs=ROUNDING), code
    assert on_chain["VDWETH"] < -5 * LEVERED_ETH  # levered: the debt is several times the equity


def test_the_kill_switch_stops_the_live_nodes_on_chain_sends(
    aave: LocalAave,
    uniswap: LocalUniswap,
    wallet_env: LocalAccount,
    chain_yaml: Path,
    tmp_path: Path,
) -> None:
    """``run_live.py --halt`` (the request file in the state folder) halts the strategy and the web3
    sender: the hour's bar then opens nothing, and a transaction asked for directly is refused."""
    fund(aave, wallet_env, "USDT", CAPITAL, GAS_ETH)
    state_dir = tmp_path / "state"
    chain = open_chain(chain_yaml, confirm_mainnet=False, poll_secs=POLL_SECS)
    with local_redis(tmp_path / "redis") as redis, _node(chain, state_dir, redis) as live:
        assert live.wallet is not None
        sender = live.wallet.backend.sender
        sent = _sent(aave, wallet_env)  # the e-mode entered at set-up

        async def halted() -> None:
            await _until("the feed's first poll", lambda: live.wallet.chain_ns > 0)
            request_halt(state_dir, flatten=False)
            await _until("the kill switch", lambda: sender.halted is not None)
            hour = _next_hour(aave, uniswap)
            await _until("the strategy's next hour", lambda: live.strategy.hour >= hour)
            await asyncio.sleep(3 * POLL_SECS)

        _drive(live, halted)
        assert live.strategy.halted is not None and "run_live.py --halt" in live.strategy.halted
        assert live.strategy.actions["entry_full"] == 0 and not live.node.kernel.cache.orders()
        with pytest.raises(ExecutionRejected, match="HALTED"):
            live.wallet.backend.set_emode()
        assert _sent(aave, wallet_env) == sent


def _main(chain_yaml: Path, tmp_path: Path, *flags: str, mode: str = MODE) -> int:
    return main(["--mode", mode, "--chain", str(chain_yaml), "--out", str(tmp_path / "out"), *flags])


def _yaml_for_chain(chain_yaml: Path, chain_id: int) -> Path:
    config = yaml.safe_load(chain_yaml.read_text())
    path = chain_yaml.with_name(f"chain-{chain_id}.yaml")
    path.write_text(yaml.safe_dump({**config, "chain_id": chain_id}))
    return path


def test_mainnet_and_a_wrong_chain_are_refused_before_anything_is_sent(
    aave: LocalAave, wallet_env: LocalAccount, chain_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fund(aave, wallet_env, "USDT", CAPITAL, GAS_ETH)
    assert _main(chain_yaml, tmp_path, "--env", "mainnet") == 2
    assert "add --confirm-mainnet" in capsys.readouterr().err
    # the YAML says another chain than the node's
    assert _main(_yaml_for_chain(chain_yaml, 11155111), tmp_path, "--env", "testnet") == 2
    err = capsys.readouterr().err
    assert "the node is chain 31337; the chain config is for 11155111; nothing sent" in err
    # a mainnet YAML is never run as a testnet
    assert _main(_yaml_for_chain(chain_yaml, 1), tmp_path, "--env", "testnet") == 2
    assert "is Ethereum mainnet (chain 1)" in capsys.readouterr().err
    # a node that is chain 1 (the RPC URL of mainnet behind a mainnet YAML) needs the confirmation
    rpc(aave.w3, "anvil_setChainId", 1)
    try:
        with pytest.raises(ConfigError, match=r"chain 1 is Ethereum mainnet.*--confirm-mainnet"):
            open_chain(_yaml_for_chain(chain_yaml, 1), confirm_mainnet=False)
    finally:
        rpc(aave.w3, "anvil_setChainId", 31337)
    assert _sent(aave, wallet_env) == 0
    assert not (tmp_path / "out.state").exists()


@pytest.mark.parametrize(
    ("usdt", "eth", "refusal"),
    [
        (0.0, GAS_ETH, "the wallet holds nothing the mode can use: 0 USDT and no Aave or LST position"),
        (
            CAPITAL,
            0.001,
            "the wallet holds 0.001 ETH: below gas_reserve_min_eth 0.01 (mode YAML), it cannot pay gas",
        ),
    ],
)
def test_a_wallet_without_capital_or_gas_is_refused(
    aave: LocalAave,
    wallet_env: LocalAccount,
    chain_yaml: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    usdt: float,
    eth: float,
    refusal: str,
) -> None:
    fund(aave, wallet_env, "USDT", usdt, eth)
    assert _main(chain_yaml, tmp_path, "--env", "testnet") == 2
    err = capsys.readouterr().err
    assert refusal in err and "Nothing sent" in err and err.count("\n") == 1
    assert _sent(aave, wallet_env) == 0


def test_a_hedged_mode_is_refused_on_chain(
    chain_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Its capital moves between the wallet and the exchanges: not wired live (README)."""
    assert _main(chain_yaml, tmp_path, "--env", "testnet", mode="usdt_eth_staking_hedged_leveraged") == 2
    err = capsys.readouterr().err
    assert "as well as on chain" in err and "does not wire the on-chain leg" in err


def test_a_missing_key_or_an_unreachable_node_is_refused_without_showing_the_url(
    chain_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv(KEY, raising=False)
    monkeypatch.setenv(RPC_URL, "http://127.0.0.1:1/v3/secret-api-key")
    assert _main(chain_yaml, tmp_path, "--env", "testnet") == 2
    assert "no wallet key: set BASIS_WALLET_KEY" in capsys.readouterr().err
    monkeypatch.setenv(KEY, Account.create().key.hex())
    assert _main(chain_yaml, tmp_path, "--env", "testnet") == 2
    err = capsys.readouterr().err
    assert "RPC: cannot read the node's chain id" in err and "secret-api-key" not in err
