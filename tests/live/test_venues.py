"""The live venue clients a mode gets: Nautilus' own Binance, Bybit and OKX configs, per venue and
environment, with the venue YAML's endpoint overrides (built offline; nothing connects)."""

from __future__ import annotations

import asyncio

import pytest
from nautilus_trader.adapters.binance import BinanceAccountType
from nautilus_trader.adapters.binance.common.credentials import get_api_key, get_api_secret
from nautilus_trader.adapters.binance.common.enums import BinanceEnvironment
from nautilus_trader.adapters.bybit import BybitProductType
from nautilus_trader.core.nautilus_pyo3 import BybitEnvironment, OKXEnvironment, OKXInstrumentType
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import venue_instruments
from adapters.config import ConfigError
from backtesting.config import load_run_config, mode_file_path
from live.endpoints import Endpoints, load_endpoints
from live.environments import CREDENTIALS, LiveEnv
from live.node_config import add_client_factories, node_config
from live.venues import LivePlan, _binance, plan_live
from tests.live.venue_configs import LOCAL, venue_config_dir
from tests.venue_modes import set_venue_field, venue_dir_in_mode

ADAPTER_ENVS = {
    # project env: (Binance, Bybit, OKX)
    LiveEnv.SANDBOX: (BinanceEnvironment.LIVE, BybitEnvironment.MAINNET, OKXEnvironment.LIVE),
    LiveEnv.TESTNET: (BinanceEnvironment.TESTNET, BybitEnvironment.TESTNET, OKXEnvironment.DEMO),
    LiveEnv.DEMO: (BinanceEnvironment.DEMO, BybitEnvironment.DEMO, OKXEnvironment.DEMO),
    LiveEnv.MAINNET: (BinanceEnvironment.LIVE, BybitEnvironment.MAINNET, OKXEnvironment.LIVE),
}


def _plan(mode: str, env: LiveEnv, config_dir=None) -> LivePlan:
    run = load_run_config(mode_file_path(mode))
    return plan_live(run, env) if config_dir is None else plan_live(run, env, config_dir)


def _venues(plan: LivePlan):
    return {v.venue: v for v in plan.venues}


@pytest.mark.parametrize("env", list(LiveEnv))
def test_btc_basis_gets_each_venue_with_its_account_type_environment_and_instruments(env):
    venues = _venues(_plan("btc_basis", env))
    binance_env, bybit_env, okx_env = ADAPTER_ENVS[env]
    assert sorted(venues) == ["BINANCE", "BINANCE_SPOT", "BYBIT", "OKX"]
    spot, futures, bybit, okx = venues["BINANCE_SPOT"], venues["BINANCE"], venues["BYBIT"], venues["OKX"]

    configs = [v.data_config for v in venues.values()]
    if env.trades_on_venues:
        configs += [v.exec_config for v in venues.values()]
    else:  # sandbox: orders go to the project's simulations
        assert all(v.exec_config is None for v in venues.values())
    for config in configs:
        expected_env = {
            "BINANCE_SPOT": binance_env,
            "BINANCE": binance_env,
            "BYBIT": bybit_env,
            "OKX": okx_env,
        }
        venue = next(name for name, v in venues.items() if config in (v.data_config, v.exec_config))
        assert config.environment == expected_env[venue]
        assert config.api_key is None and config.api_secret is None  # the adapters read the environment
        assert config.instrument_provider.load_ids == frozenset(venues[venue].instruments)
        assert not config.instrument_provider.load_all

    assert spot.data_config.venue == Venue("BINANCE_SPOT")
    assert spot.data_config.account_type == BinanceAccountType.SPOT
    assert futures.data_config.venue == Venue("BINANCE")
    assert futures.data_config.account_type == BinanceAccountType.USDT_FUTURES
    assert bybit.data_config.product_types == (BybitProductType.SPOT, BybitProductType.LINEAR)
    assert okx.data_config.instrument_types == (OKXInstrumentType.SPOT, OKXInstrumentType.SWAP)
    assert spot.instruments == (InstrumentId.from_str("BTCUSDT.BINANCE_SPOT"),)
    assert futures.instruments == (InstrumentId.from_str("BTCUSDT-PERP.BINANCE"),)
    assert bybit.instruments == tuple(
        map(InstrumentId.from_str, ("BTCUSDT-SPOT.BYBIT", "BTCUSDT-LINEAR.BYBIT"))
    )
    assert okx.instruments == tuple(map(InstrumentId.from_str, ("BTC-USDT.OKX", "BTC-USDT-SWAP.OKX")))
    assert [i for v in venues.values() for i in v.perps] == list(
        map(InstrumentId.from_str, ("BTCUSDT-PERP.BINANCE", "BTCUSDT-LINEAR.BYBIT", "BTC-USDT-SWAP.OKX"))
    )
    assert {v: str(venues[v].account_id) for v in venues} == {
        "BINANCE_SPOT": "BINANCE_SPOT-SPOT-master",
        "BINANCE": "BINANCE-USDT_FUTURES-master",
        "BYBIT": "BYBIT-UNIFIED",
        "OKX": "OKX-master",
    }


def test_a_hedge_on_perps_only_asks_bybit_and_okx_for_their_derivatives_only():
    venues = _venues(_plan("usdt_eth_staking_hedged_simple", LiveEnv.TESTNET))
    assert sorted(venues) == ["BINANCE", "BYBIT", "OKX"]
    assert venues["BYBIT"].exec_config.product_types == (BybitProductType.LINEAR,)
    assert venues["OKX"].exec_config.instrument_types == (OKXInstrumentType.SWAP,)


def test_a_coin_margined_mode_trades_binance_coin_futures():
    venues = _venues(_plan("ml_btc_directional_btc_margin", LiveEnv.MAINNET))
    futures, spot = venues["BINANCE"], venues["BINANCE_SPOT"]
    assert futures.exec_config.account_type == BinanceAccountType.COIN_FUTURES
    assert str(futures.account_id) == "BINANCE-COIN_FUTURES-master"
    assert futures.instruments == (InstrumentId.from_str("BTCUSD-PERP.BINANCE"),)
    assert futures.endpoints["http"] == "https://dapi.binance.com"
    # the model's predictor reads the spot pair too: streamed, never traded
    assert spot.instruments == (InstrumentId.from_str("BTCUSDT.BINANCE_SPOT"),) and spot.exec_config is None


def test_coin_futures_on_testnet_needs_the_ws_api_the_adapter_does_not_know(tmp_path):
    with pytest.raises(ConfigError, match=r"live\.BINANCE\.ws_api"):
        _plan("ml_btc_directional_btc_margin", LiveEnv.TESTNET)
    config_dir = venue_config_dir(tmp_path, {"BINANCE": {"ws_api": "ws://127.0.0.1:9102/api"}})
    futures = _venues(_plan("ml_btc_directional_btc_margin", LiveEnv.TESTNET, config_dir))["BINANCE"]
    assert futures.exec_config.base_url_ws == "ws://127.0.0.1:9102/api"


def test_without_a_live_section_the_adapters_own_endpoints_are_used():
    venues = _venues(_plan("btc_basis", LiveEnv.TESTNET))
    for venue in venues.values():
        for config in (venue.data_config, venue.exec_config):
            assert config.base_url_http is None
    assert venues["BINANCE_SPOT"].endpoints["http"] == "https://testnet.binance.vision"
    assert venues["BYBIT"].endpoints["http"] == "https://api-testnet.bybit.com"
    assert venues["OKX"].endpoints["ws (market data)"] == "wss://wspap.okx.com:8443/ws/v5/public"


@pytest.mark.parametrize("env", [LiveEnv.TESTNET, LiveEnv.DEMO, LiveEnv.MAINNET])
def test_every_settable_endpoint_is_overridden_from_the_venue_yaml(tmp_path, env):
    venues = _venues(_plan("btc_basis", env, venue_config_dir(tmp_path, LOCAL)))
    spot, futures, bybit, okx = venues["BINANCE_SPOT"], venues["BINANCE"], venues["BYBIT"], venues["OKX"]
    for binance in (spot, futures):
        urls = LOCAL[binance.venue]
        assert binance.data_config.base_url_http == binance.exec_config.base_url_http == urls["http"]
        assert binance.data_config.base_url_ws == urls["ws"]
        assert binance.exec_config.base_url_ws == urls["ws_api"]
    assert futures.exec_config.base_url_ws_stream == LOCAL["BINANCE"]["ws_stream"]
    assert bybit.data_config.base_url_http == bybit.exec_config.base_url_http == LOCAL["BYBIT"]["http"]
    assert bybit.exec_config.base_url_ws_private == LOCAL["BYBIT"]["ws_private"]
    assert bybit.exec_config.base_url_ws_trade == LOCAL["BYBIT"]["ws_trade"]
    assert okx.data_config.base_url_http == okx.exec_config.base_url_http == LOCAL["OKX"]["http"]
    assert okx.data_config.base_url_ws == LOCAL["OKX"]["ws"]
    assert okx.exec_config.base_url_ws == LOCAL["OKX"]["ws_private"]
    shown = {url for v in venues.values() for url in v.endpoints.values()}
    used = {url for urls in LOCAL.values() for url in urls.values()} - {
        LOCAL["BYBIT"]["ws"]
    }  # per product, below
    if env is LiveEnv.DEMO:  # Bybit demo has no trade stream: orders go over HTTP
        used.remove(LOCAL["BYBIT"]["ws_trade"])
    assert used <= shown  # the plan shows the overrides, not the adapters' URLs
    assert bybit.data_config.base_url_ws == LOCAL["BYBIT"]["ws"]
    public_bybit = {role: url for role, url in bybit.endpoints.items() if role.startswith("ws (market data")}
    assert public_bybit == {
        f"ws (market data, {p})": f"{LOCAL['BYBIT']['ws']}/{p}" for p in ("spot", "linear")
    }
    assert not {url for url in shown - used if url.startswith("wss:")}  # nothing left on a real venue


def test_the_backtest_reads_a_venue_yaml_with_a_live_section(tmp_path):
    config_dir = venue_config_dir(tmp_path, LOCAL)
    assert load_cex_venue("BINANCE", config_dir).instruments == load_cex_venue("BINANCE").instruments


@pytest.mark.parametrize(
    ("live", "message"),
    [
        ({"BINANCE_SPOT": {"ws_stream": "ws://127.0.0.1:1/s"}}, r"cannot set ws_stream"),
        ({"BYBIT": {"ws_api": "ws://127.0.0.1:1/api"}}, r"BYBIT adapter cannot set ws_api"),
        ({"BINANCE": {"http": "ws://127.0.0.1:1"}}, r"`http` must be an http or https URL"),
        ({"OKX": {"ws": "127.0.0.1:1"}}, r"`ws` must be an ws or wss URL"),
        ({"OKX": {"htp": "http://127.0.0.1:1"}}, r"unknown field `htp`"),
    ],
)
def test_a_bad_live_section_is_refused_naming_the_file_and_field(tmp_path, live, message):
    config_dir = venue_config_dir(tmp_path, live)
    exchange = "binance" if next(iter(live)).startswith("BINANCE") else next(iter(live)).lower()
    with pytest.raises(ConfigError, match=message) as e:
        load_endpoints(exchange.upper(), config_dir)
    assert f"{exchange}.yaml" in str(e.value)


def test_a_live_section_for_another_exchanges_venue_is_refused(tmp_path):
    config_dir = venue_config_dir(tmp_path, {})
    with (config_dir / "okx.yaml").open("a") as f:
        f.write("\nlive:\n  BINANCE: {http: 'http://127.0.0.1:1'}\n")
    with pytest.raises(ConfigError, match=r"okx\.yaml: `live\.BINANCE`: not a venue of OKX"):
        load_endpoints("OKX", config_dir)


@pytest.mark.parametrize("env", [LiveEnv.TESTNET, LiveEnv.DEMO, LiveEnv.MAINNET])
@pytest.mark.parametrize("account_type", [BinanceAccountType.SPOT, BinanceAccountType.USDT_FUTURES])
def test_the_key_table_names_the_variables_binances_adapter_reads(monkeypatch, env, account_type):
    venue = "BINANCE_SPOT" if account_type == BinanceAccountType.SPOT else "BINANCE"
    for names in (n for table in CREDENTIALS.values() for n in table.values()):
        for name in names:
            monkeypatch.delenv(name, raising=False)
    key_var, secret_var = CREDENTIALS[venue][env]
    monkeypatch.setenv(key_var, "table-key")
    monkeypatch.setenv(secret_var, "table-secret")
    binance_env = ADAPTER_ENVS[env][0]
    assert get_api_key(account_type, binance_env) == "table-key"
    assert get_api_secret(account_type, binance_env) == "table-secret"


def test_the_node_builds_every_client_and_the_funding_feed_offline(tmp_path, monkeypatch):
    for venue, names in ((v, n) for v, table in CREDENTIALS.items() for n in [table[LiveEnv.TESTNET]]):
        for name in names:
            monkeypatch.setenv(name, f"FAKE-{venue}-{name}")
    plan = _plan("btc_basis", LiveEnv.TESTNET, venue_config_dir(tmp_path, LOCAL))
    loop = asyncio.new_event_loop()
    node = TradingNode(config=node_config(plan, 250_000.0, log_level="ERROR"), loop=loop)
    try:
        add_client_factories(node, plan)
        node.build()  # builds the adapters' clients; connecting is node.run()
        expected = ["BINANCE", "BINANCE_SPOT", "BYBIT", "OKX"]
        assert [str(c) for c in node.kernel.data_engine.registered_clients] == expected
        assert [str(c) for c in node.kernel.exec_engine.registered_clients] == expected
        assert [str(a.id) for a in node.trader.actors()] == ["FundingFeed"]
    finally:
        pending = asyncio.all_tasks(loop)  # the executor's worker and the clients' tasks, never run
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        node.dispose()  # closes the loop


def test_usdt_m_and_coin_m_on_one_binance_venue_is_refused():
    instruments = [instrument for _, instrument in venue_instruments(load_cex_venue("BINANCE")).values()]
    perps = [i for i in instruments if i.id.venue == Venue("BINANCE")]
    assert {i.is_inverse for i in perps} == {True, False}
    with pytest.raises(ConfigError, match="one execution client per venue"):
        _binance("BINANCE", perps, LiveEnv.MAINNET, Endpoints(), build_exec=True)


@pytest.mark.parametrize("env", [LiveEnv.SANDBOX, LiveEnv.TESTNET])
def test_bybit_and_okx_show_the_venue_yamls_account_mode_with_unchanged_account_ids(tmp_path, env):
    unified = _venues(_plan("btc_basis", env))
    assert {v: unified[v].account_type for v in ("BYBIT", "OKX")} == {"BYBIT": "UNIFIED", "OKX": "UNIFIED"}
    # classic OKX ("spot and futures mode") trades through the same client and account id
    folder = venue_dir_in_mode(tmp_path, "classic")
    if env.trades_on_venues:
        set_venue_field(folder, "BYBIT", "account_mode", "unified")
    classic = _venues(_plan("btc_basis", env, folder))
    assert classic["OKX"].account_type == "CLASSIC"
    assert classic["BYBIT"].account_type == ("UNIFIED" if env.trades_on_venues else "CLASSIC")
    assert {v: str(classic[v].account_id) for v in ("BYBIT", "OKX")} == {
        "BYBIT": "BYBIT-UNIFIED",
        "OKX": "OKX-master",
    }


def test_trading_a_classic_bybit_account_live_is_refused(tmp_path):
    folder = venue_dir_in_mode(tmp_path, "classic")
    with pytest.raises(ConfigError, match=r"bybit.yaml: account_mode classic cannot trade live"):
        _plan("btc_basis", LiveEnv.DEMO, folder)
