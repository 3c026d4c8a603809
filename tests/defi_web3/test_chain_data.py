"""The chain data client on the local chain: what it publishes equals the chain's own numbers,
converted here independently, and the backtest's code consumes it."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import pandas as pd
import pytest
from nautilus_trader.data.engine import DataEngine
from nautilus_trader.model.data import Bar, DataType
from web3 import Web3

from adapters.bars import bar_type_for
from adapters.defi.aave_index import SECONDS_PER_YEAR
from adapters.defi.aave_market import AaveMarket
from adapters.defi.aave_params import load_emode, load_reserve_params
from adapters.defi.config import load_wallet_venue
from adapters.defi.data import (
    AaveAccountHealth,
    AaveEModeParams,
    AaveReserveParams,
    AaveReserveSnapshot,
    GasPrice,
)
from adapters.defi.instruments import wallet_instrument_id, wallet_instruments
from adapters.defi.web3.chain_data import (
    ChainDataFeed,
    ChainDataFeedConfig,
    ChainPoller,
    ChainReader,
    HourlyBars,
)
from adapters.defi.web3.config import ChainLiveConfig, load_chain_live
from adapters.defi.web3.connection import RPC_URL, read_only_web3
from adapters.hours import HOUR_NS, closing_hour
from data_catalog import raw_files
from live.funding import DATA_ENGINE_PROCESS
from localchain.aave import RESERVES, LocalAave
from localchain.anvil import advance_time
from tests.defi_web3.node import Node
from tests.localchain.helpers import ETHER, fund, send, supply, units

WALLET = load_wallet_venue()
RAY = 1e27
DAY = 86400


@pytest.fixture
def chain(live_config_path: Path) -> ChainLiveConfig:
    """The chain YAML the web3 backend's tests write from the deployment."""
    return load_chain_live(live_config_path, WALLET)


@pytest.fixture
def poller(aave: LocalAave, chain: ChainLiveConfig, users: list[str]) -> ChainPoller:
    return ChainPoller(ChainReader(aave.w3, chain, WALLET, users[0]))


def borrower(aave: LocalAave, users: list[str]) -> None:
    """users[0]: 100 WETH supplied, 40 WETH and 20,000 USDT borrowed (users[1] supplies the USDT)."""
    supply(aave, users[1], "USDT", 100_000)
    supply(aave, users[0], "WETH", 100)
    pool = aave.pool.functions
    send(aave, pool.borrow(aave.tokens["WETH"].address, 40 * ETHER, 2, 0, users[0]), users[0])
    send(
        aave, pool.borrow(aave.tokens["USDT"].address, units(aave, "USDT", 20_000), 2, 0, users[0]), users[0]
    )


def aave_market(data_dir: Path) -> AaveMarket:
    """The backtest's Aave model with the data set's parameters (as the catalog hands them over)."""
    params = {
        "emode": msgspec.to_builtins(load_emode(data_dir / raw_files.AAVE_RISK_FILE)),
        "reserves": {
            s: msgspec.to_builtins(p)
            for s, p in load_reserve_params(data_dir / raw_files.AAVE_PARAMS_FILE, RESERVES).items()
        },
    }
    return AaveMarket(WALLET.aave, params)


def of_type(points: list, kind: type) -> list:
    return [p for p in points if isinstance(p, kind)]


def snapshot_of(points: list, reserve: str) -> AaveReserveSnapshot:
    return next(p for p in of_type(points, AaveReserveSnapshot) if p.reserve == reserve)


def test_reserve_snapshots_are_the_chain_indices_and_rates_at_the_block(aave, users, poller) -> None:
    borrower(aave, users)
    advance_time(aave.w3, 3 * DAY)
    points = poller.poll()
    block = aave.w3.eth.get_block("latest")
    assert {p.reserve for p in of_type(points, AaveReserveSnapshot)} == set(RESERVES)
    for symbol in ("WETH", "USDT"):
        snapshot = snapshot_of(points, symbol)
        data = aave.pool.functions.getReserveData(aave.tokens[symbol].address).call()
        elapsed = block["timestamp"] - data[6]  # since the reserve's last update (the borrow)
        assert elapsed >= 3 * DAY
        assert snapshot.ts_event == block["timestamp"] * 10**9
        assert snapshot.instrument_id == wallet_instrument_id(WALLET, f"A{symbol}-AAVE")  # as in the catalog
        assert (
            snapshot.liquidity_rate == pytest.approx(data[2] / RAY, rel=1e-15) and snapshot.liquidity_rate > 0
        )
        assert snapshot.variable_borrow_rate == pytest.approx(data[4] / RAY, rel=1e-15)
        # the stored indices accrued to the block: linear for supply, compounded per second for debt
        liquidity = data[1] / RAY * (1 + data[2] / RAY * elapsed / SECONDS_PER_YEAR)
        borrow = data[3] / RAY * math.exp(elapsed * math.log1p(data[4] / RAY / SECONDS_PER_YEAR))
        assert snapshot.liquidity_index == pytest.approx(liquidity, rel=1e-12)
        assert snapshot.variable_borrow_index == pytest.approx(borrow, rel=1e-12)
        assert snapshot.variable_borrow_index > data[3] / RAY * (1 + 1e-6)  # not the stale stored one
        decimals = 10 ** aave.tokens[symbol].functions.decimals().call()
        assert snapshot.total_a_token == aave.a_tokens[symbol].functions.totalSupply().call() / decimals
        assert (
            snapshot.total_variable_debt == aave.debt_tokens[symbol].functions.totalSupply().call() / decimals
        )
    assert snapshot_of(points, "USDT").total_variable_debt == pytest.approx(20_000, rel=1e-3)


def test_published_snapshots_accrue_in_the_backtest_model_as_on_chain(aave, users, poller, data_dir) -> None:
    """AaveMarket fed the live snapshot books the interest the chain's balances show a month on.

    The snapshot is taken at a block that updated the reserve: the model restarts its linear
    supply accrual at each snapshot, Aave at each update of the reserve, which differ at second
    order (≈ rate × time between the two / year, relative).
    """
    borrower(aave, users)
    advance_time(aave.w3, DAY)
    supply(aave, users[2], "WETH", 1)  # updates the WETH reserve
    market = aave_market(data_dir)

    def balances() -> dict[str, float]:
        weth = aave.a_tokens["WETH"].functions.balanceOf(users[0]).call() / ETHER
        debt = aave.debt_tokens["WETH"].functions.balanceOf(users[0]).call() / ETHER
        return {"AWETH": weth, "VDWETH": -debt}

    points = poller.poll()
    for snapshot in of_type(points, AaveReserveSnapshot):
        market.on_snapshot(snapshot)
    then = balances()
    market.accrue(poller.last_ts, then)
    advance_time(aave.w3, 30 * DAY)
    now = balances()
    changes = market.accrue(aave.w3.eth.get_block("latest")["timestamp"] * 10**9, then)
    assert now["AWETH"] > then["AWETH"] and now["VDWETH"] < then["VDWETH"]
    assert changes["AWETH"] == pytest.approx(now["AWETH"] - then["AWETH"], rel=1e-9)
    # Aave compounds debt with a binomial whose cubic term truncates to 0 in ray at these rates
    # (basePowerThree = (r/year)³·1e27 < 1): the chain lacks x³/6 of the growth x = r·t/year
    x = snapshot_of(points, "WETH").variable_borrow_rate * 30 * DAY / SECONDS_PER_YEAR
    debt_change = now["VDWETH"] - then["VDWETH"]
    assert changes["VDWETH"] == pytest.approx(debt_change * (1 + x**2 / 6), rel=1e-9)


def test_reserve_parameters_are_the_data_sets_and_their_changes_reach_the_model(
    aave, poller, data_dir
) -> None:
    """The deployment configured each reserve from the reference CSV: the chain's configuration
    word decodes back to it. A cap lowered on chain is published once and the model's cap check
    follows it."""
    expected = load_reserve_params(data_dir / raw_files.AAVE_PARAMS_FILE, RESERVES)
    published = {p.reserve: p for p in of_type(poller.poll(), AaveReserveParams)}
    for symbol, params in expected.items():
        got = published[symbol].params()
        assert got.supply_cap == params.supply_cap and got.borrow_cap == params.borrow_cap
        assert got.borrowing_enabled == params.borrowing_enabled
        assert got.flashloan_enabled == params.flashloan_enabled
        assert got.collateral_enabled == params.collateral_enabled
        for field in ("ltv", "liquidation_threshold", "liquidation_bonus", "reserve_factor"):
            assert getattr(got, field) == pytest.approx(getattr(params, field), abs=1e-12), (symbol, field)

    market = aave_market(data_dir)
    assert market.cap_check("AWETH", 0.0, 1_000) is None
    send(aave, aave.configurator.functions.setSupplyCap(aave.tokens["WETH"].address, 500), aave.admin)
    advance_time(aave.w3, 1)
    (update,) = of_type(poller.poll(), AaveReserveParams)  # only the reserve that changed
    assert (update.reserve, update.supply_cap) == ("WETH", 500.0)
    market.on_reserve_params(update)
    assert market.cap_check("AWETH", 0.0, 1_000) is not None
    assert market.cap_check("AWETH", 0.0, 100) is None


def test_lst_rates_and_pool_prices_become_hourly_bars(aave, uniswap, poller) -> None:
    """The samples of an hour make its bar, stamped at the hour's close, once a later block comes."""
    wsteth = wallet_instrument_id(WALLET, "WSTETH-LIDO")
    weeth = wallet_instrument_id(WALLET, "WEETH-ETHERFI")
    eth_usd = wallet_instrument_id(WALLET, "ETHUSDT-UNIV3")
    staking = aave.staking["wstETH"].functions
    first = staking.ethPerShare().call() / ETHER
    assert not of_type(poller.poll(), Bar)  # the first hour is still open
    sampled_at = poller.last_ts
    raised = 1.23456789
    send(aave, staking.setEthPerShare(round(raised * ETHER)), aave.admin)
    advance_time(aave.w3, 1)  # a block of its own second (anvil stamps blocks mined together alike)
    assert not of_type(poller.poll(), Bar)
    slot0 = uniswap.pools["ETHUSDT-UNIV3"].contract.functions.slot0().call()[0]
    advance_time(aave.w3, 3600)
    bars = {b.bar_type.instrument_id: b for b in of_type(poller.poll(), Bar)}

    assert set(bars) >= {wsteth, weeth, eth_usd, wallet_instrument_id(WALLET, "WSTETHETH-UNIV3")}
    assert all(b.ts_event == closing_hour(sampled_at) for b in bars.values())
    assert bars[wsteth].bar_type == bar_type_for(wsteth)
    assert bars[wsteth].open.as_double() == pytest.approx(first, abs=1e-10)
    assert bars[wsteth].close.as_double() == pytest.approx(raised, abs=1e-10)
    assert bars[wsteth].high.as_double() == pytest.approx(max(first, raised), abs=1e-10)
    weeth_rate = aave.staking["weETH"].functions.ethPerShare().call() / ETHER
    assert bars[weeth].close.as_double() == pytest.approx(weeth_rate, abs=1e-10)
    pool = uniswap.pools["ETHUSDT-UNIV3"]
    raw = (slot0 / 2**96) ** 2  # USDT (6 decimals) per WETH (18) in raw units, or its inverse
    price = raw * 1e12 if pool.base.address == pool.contract.functions.token0().call() else 1e12 / raw
    assert bars[eth_usd].close.as_double() == pytest.approx(price, abs=0.01)
    eth_usd_oracle = aave.oracle.functions.getAssetPrice(aave.tokens["WETH"].address).call()
    usdt_oracle = aave.oracle.functions.getAssetPrice(aave.tokens["USDT"].address).call()
    assert price == pytest.approx(eth_usd_oracle / usdt_oracle, rel=1e-6)  # the pool sits at the mark


def test_gas_emode_and_health_match_the_chain(aave, users, poller, data_dir) -> None:
    borrower(aave, users)
    points = poller.poll()
    block = aave.w3.eth.get_block("latest")
    (gas,) = of_type(points, GasPrice)
    assert gas.gwei == aave.w3.eth.gas_price / 1e9 and gas.gwei > 0
    assert gas.base_fee_gwei == block["baseFeePerGas"] / 1e9

    (emode,) = of_type(points, AaveEModeParams)
    expected = load_emode(data_dir / raw_files.AAVE_RISK_FILE, WALLET.aave.emode_category)
    assert set(emode.assets.split(",")) == set(expected.assets)
    assert (emode.ltv, emode.liquidation_threshold) == (expected.ltv, expected.liquidation_threshold)
    assert emode.liquidation_bonus == pytest.approx(expected.liquidation_bonus, abs=1e-12)

    (health,) = of_type(points, AaveAccountHealth)
    collateral, debt, _, threshold, _, factor = aave.pool.functions.getUserAccountData(users[0]).call()
    assert health.health_factor == pytest.approx(factor / 1e18, rel=1e-15)
    assert health.ltv == pytest.approx(debt / collateral)
    weth_usd = aave.oracle.functions.getAssetPrice(aave.tokens["WETH"].address).call() / 1e8
    assert health.collateral_usd == pytest.approx(100 * weth_usd, rel=1e-9)
    assert health.health_factor == pytest.approx(
        health.collateral_usd * threshold / 1e4 / health.debt_usd, rel=1e-6
    )

    advance_time(aave.w3, 12)  # a new block: the same e-mode is not published again
    later = poller.poll()
    assert of_type(later, GasPrice) and not of_type(later, AaveEModeParams)
    assert poller.poll() == []  # no new block, nothing new


def test_feed_publishes_on_the_topics_the_backtest_data_arrives_on(
    aave, users, live_config_path, monkeypatch
) -> None:
    """Through the data engine, as the strategies and the wallet venue subscribe to it; the feed
    set up as a node does, from its config, the chain YAML and the environment."""
    monkeypatch.setenv(RPC_URL, aave.w3.provider.endpoint_uri)
    node = Node()
    engine = DataEngine(node.msgbus, node.cache, node.clock)
    engine.start()
    received: dict[str, list] = {}
    eth_usd = bar_type_for(wallet_instrument_id(WALLET, WALLET.eth_usd_pool))
    topics = {
        "gas": f"data.{DataType(GasPrice).topic}",
        "reserves": f"data.{DataType(AaveReserveSnapshot).topic}*",
        "emode": f"data.{DataType(AaveEModeParams).topic}",
        "health": f"data.{DataType(AaveAccountHealth).topic}",
        "params": f"data.{DataType(AaveReserveParams).topic}",
        "bars": f"data.bars.{eth_usd}",
    }
    for name, topic in topics.items():
        node.msgbus.subscribe(topic, received.setdefault(name, []).append)
    borrower(aave, users)
    config = ChainDataFeedConfig(chain_config_path=str(live_config_path), account=users[0], interval_secs=12)
    node.start(ChainDataFeed(config))
    advance_time(aave.w3, 3600)
    node.tick(12)
    assert [type(g) for g in received["gas"]] == [GasPrice, GasPrice]
    assert sorted(s.reserve for s in received["reserves"]) == sorted(RESERVES * 2)
    assert len(received["emode"]) == 1 and len(received["health"]) == 2
    assert sorted(p.reserve for p in received["params"]) == sorted(RESERVES)  # unchanged: once
    (bar,) = received["bars"]
    assert node.cache.bar(eth_usd) == bar  # cached as a venue's bar is: last_price reads it


def test_feed_survives_an_rpc_outage(aave, chain, users, relay) -> None:
    """Down: nothing is published and attempts back off; back: the newest block, once, in order."""
    w3 = read_only_web3(2.0, {RPC_URL: relay.url})
    poller = ChainPoller(ChainReader(w3, chain, WALLET, users[0]))
    node = Node()
    sent: list = []
    node.msgbus.register(DATA_ENGINE_PROCESS, sent.append)
    feed = node.start(ChainDataFeed(ChainDataFeedConfig(interval_secs=12, max_backoff_secs=48), poller))
    first = [m.data if hasattr(m, "data") else m for m in sent]  # polled at start
    assert of_type(first, AaveReserveSnapshot)
    relay.close()
    fund(aave, users[2], "WETH", 1)  # blocks go on while the feed is cut off
    sent.clear()
    node.tick(12)  # attempt 1 fails: retry in 24 s
    node.tick(12)  # within the backoff: no attempt
    node.tick(12)  # attempt 2 fails: retry in 48 s (the cap)
    assert sent == []
    relay.open()
    accepted = relay.accepted
    node.tick(36)  # still backing off
    assert relay.accepted == accepted
    advance_time(aave.w3, 60)
    node.tick(12)
    resumed = [m.data for m in sent if hasattr(m, "data")]
    block = aave.w3.eth.get_block("latest")
    assert {p.ts_event for p in resumed} == {block["timestamp"] * 10**9}  # the newest block only
    assert len(of_type(resumed, AaveReserveSnapshot)) == len(RESERVES)
    assert min(p.ts_event for p in resumed) > max(p.ts_event for p in first)
    sent.clear()
    node.tick(12)  # no new block: nothing repeated
    assert sent == []
    feed.stop()


def test_feed_started_while_the_rpc_is_down_starts_when_it_is_back(chain, users, relay) -> None:
    relay.close()
    w3 = Web3(Web3.HTTPProvider(relay.url, exception_retry_configuration=None))
    poller = ChainPoller(ChainReader(w3, chain, WALLET, users[0]))
    node = Node()
    sent: list = []
    node.msgbus.register(DATA_ENGINE_PROCESS, sent.append)
    node.start(ChainDataFeed(ChainDataFeedConfig(interval_secs=12), poller))
    assert sent == []
    relay.open()
    node.tick(24)  # the first retry, 24 s after the failed start
    assert len(of_type([m.data for m in sent], AaveReserveSnapshot)) == len(RESERVES)


def test_an_hour_without_samples_gets_no_bar() -> None:
    eth_usd = wallet_instrument_id(WALLET, WALLET.eth_usd_pool)
    bars = HourlyBars({i.id: i for i in wallet_instruments(WALLET)})
    t0 = pd.Timestamp("2026-01-05 10:20", tz="UTC").value
    assert bars.add(t0, {eth_usd: 3000.004}) == []
    assert bars.add(t0 + 30 * 60 * 10**9, {eth_usd: 3010.0}) == []  # 10:50
    (bar,) = bars.add(t0 + 3 * HOUR_NS, {eth_usd: 2900.0})  # 13:20: the RPC was down 11:00-13:00
    assert bar.ts_event == pd.Timestamp("2026-01-05 11:00", tz="UTC").value
    assert (bar.open.as_double(), bar.high.as_double(), bar.close.as_double()) == (3000.0, 3010.0, 3010.0)
    assert bars.add(t0 + 3 * HOUR_NS + 10**9, {eth_usd: 2901.0}) == []  # 13:00's hour is still open
