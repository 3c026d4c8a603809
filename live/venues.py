"""Nautilus' own Binance, Bybit and OKX client configs for the venues a mode trades.

The instruments come from the strategy's declared data needs (the same ids as the backtest:
``adapters/cex/instruments.py``), so the live node loads exactly what the backtest traded, from
the venue YAML's instrument list, without a catalog. One data and one execution client per
Nautilus venue (Nautilus allows one execution client per venue): Binance spot ``BINANCE_SPOT``
(SPOT account), Binance futures ``BINANCE`` (USDT_FUTURES, or COIN_FUTURES for a coin-margined
mode), Bybit (spot + linear, one unified account) and OKX (spot + swap). Keys stay out of the
configs: the adapters read them from their environment variables (``live/environments.py``).
Binance futures run the adapter's clients as ``live/binance_exec.py`` corrects them (the venue
YAML's contract terms, a reconciliation that reports each fill once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nautilus_trader.adapters.binance import (
    BinanceAccountType,
    BinanceDataClientConfig,
    BinanceExecClientConfig,
    BinanceLiveDataClientFactory,
    BinanceLiveExecClientFactory,
)
from nautilus_trader.adapters.binance.common.urls import (
    get_http_base_url,
    get_ws_api_base_url,
    get_ws_base_url,
)
from nautilus_trader.adapters.binance.config import BinanceInstrumentProviderConfig
from nautilus_trader.adapters.bybit import (
    BybitExecClientConfig,
    BybitLiveExecClientFactory,
    BybitProductType,
)
from nautilus_trader.adapters.okx import (
    OKXDataClientConfig,
    OKXExecClientConfig,
    OKXLiveExecClientFactory,
)
from nautilus_trader.config import InstrumentProviderConfig, LiveDataClientConfig, LiveExecClientConfig
from nautilus_trader.core import nautilus_pyo3
from nautilus_trader.core.nautilus_pyo3 import OKXInstrumentType
from nautilus_trader.model.identifiers import AccountId, InstrumentId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument

from adapters.cex.config import UNIFIED_CAPABLE, CexVenueConfig, load_cex_venue
from adapters.cex.instruments import exchange_of, live_account_id, venue_instruments
from adapters.config import VENUE_CONFIG_DIR, ConfigError
from adapters.defi.config import load_wallet_venue
from backtesting.config import RunConfig
from live.binance_exec import (
    BinanceFuturesDataClientFactory,
    BinanceFuturesExecClientFactory,
    ContractTerms,
    ProjectTermsProviderConfig,
)
from live.bybit_data import BybitStreamsDataClientConfig, BybitStreamsDataClientFactory, public_stream_url
from live.endpoints import Endpoints, load_endpoints
from live.environments import LiveEnv, adapter_environment
from live.okx_data import OKXCloseStampedDataClientFactory
from signals.predictor import MODEL_SPOT_INSTRUMENT


@dataclass(frozen=True)
class LiveVenue:
    """One Nautilus venue of a live run: its clients' configs and what the plan shows of them."""

    venue: str
    environment: str
    """The member of the adapter's environment enum (``TESTNET``, ``MAINNET``, ``DEMO``...)."""
    instruments: tuple[InstrumentId, ...]
    perps: tuple[InstrumentId, ...]
    """The perpetuals among them (whose funding the node follows)."""
    inverse_contract_usd: dict[InstrumentId, float]
    """The USD face value of one contract of each inverse perp among them (Nautilus' risk engine
    counts an inverse order's notional in contracts: ``live/node_config.py``)."""
    data_config: LiveDataClientConfig
    exec_config: LiveExecClientConfig | None
    """None in sandbox: orders go to the project's simulations."""
    data_factory: type
    exec_factory: type
    account_id: AccountId
    """The account id the venue's execution client reports."""
    account_type: str
    endpoints: dict[str, str]
    """Where the clients connect, by role (an override from the venue YAML, or the adapter's URL)."""


@dataclass(frozen=True)
class LivePlan:
    """The venues a mode trades live, and what has no live client yet."""

    env: LiveEnv
    venues: list[LiveVenue]
    wallet_venue: str
    wallet_instruments: tuple[InstrumentId, ...]
    """On-chain instruments the mode trades: their live (web3) client is a later step."""


def _adapter_url(name: str, venue: str, url: Callable[[], str]) -> str:
    try:
        return url()
    except (RuntimeError, ValueError) as e:  # the adapter knows no such endpoint for the environment
        raise ConfigError(
            f"{venue}: {e}; set `live.{venue}.{name}` in the venue YAML (Nautilus' adapter has no default)"
        ) from None


def _binance(
    venue: str, instruments: list[Instrument], env: LiveEnv, over: Endpoints, build_exec: bool
) -> LiveVenue:
    if venue == "BINANCE_SPOT":
        account_type = BinanceAccountType.SPOT
    else:
        inverse = {i.is_inverse for i in instruments}
        if len(inverse) > 1:
            raise ConfigError(
                "the mode trades USDT-M and COIN-M perps on BINANCE: Nautilus runs one execution client "
                "per venue (USDT_FUTURES or COIN_FUTURES), so a mode may use only one of them"
            )
        account_type = (
            BinanceAccountType.COIN_FUTURES if inverse == {True} else BinanceAccountType.USDT_FUTURES
        )
    env_name, environment = adapter_environment("BINANCE", env)
    endpoints = {
        "http": over.http
        or _adapter_url("http", venue, lambda: get_http_base_url(account_type, environment, False)),
        "ws (market data)": over.ws
        or _adapter_url("ws", venue, lambda: get_ws_base_url(account_type, environment, False)),
    }
    load_ids = frozenset(i.id for i in instruments)
    futures = account_type.is_futures
    terms = tuple(ContractTerms.of(i) for i in instruments if isinstance(i, CryptoPerpetual))
    common: dict[str, Any] = {
        "venue": Venue(venue),
        "account_type": account_type,
        "environment": environment,
        "base_url_http": over.http,
        "instrument_provider": (
            ProjectTermsProviderConfig(load_ids=load_ids, contract_terms=terms)
            if futures
            else BinanceInstrumentProviderConfig(load_ids=load_ids)
        ),
    }
    exec_config = None
    if build_exec:
        endpoints["ws_api (orders)"] = over.ws_api or _adapter_url(
            "ws_api", venue, lambda: get_ws_api_base_url(account_type, environment, False)
        )
        if over.ws_stream:
            endpoints["ws_stream (account events)"] = over.ws_stream
        exec_config = BinanceExecClientConfig(
            **common,
            base_url_ws=over.ws_api,
            base_url_ws_stream=over.ws_stream if futures else None,
        )
    settlement = next((i.settlement_currency.code for i in instruments if i.is_inverse), "USDT")
    return LiveVenue(
        venue=venue,
        environment=env_name,
        **_traded(instruments),
        data_config=BinanceDataClientConfig(**common, base_url_ws=over.ws),
        exec_config=exec_config,
        # futures: the adapter's clients with the project's contract terms and a reconciliation
        # that asks each symbol once (live/binance_exec.py)
        data_factory=BinanceFuturesDataClientFactory if futures else BinanceLiveDataClientFactory,
        exec_factory=BinanceFuturesExecClientFactory if futures else BinanceLiveExecClientFactory,
        account_id=_account_id(venue, settlement),
        account_type=account_type.value,
        endpoints=endpoints,
    )


def _bybit_product_type(instrument: Instrument) -> BybitProductType:
    if not isinstance(instrument, CryptoPerpetual):
        return BybitProductType.SPOT
    return BybitProductType.INVERSE if instrument.is_inverse else BybitProductType.LINEAR


def _bybit(
    venue: str, instruments: list[Instrument], env: LiveEnv, over: Endpoints, build_exec: bool
) -> LiveVenue:
    env_name, environment = adapter_environment("BYBIT", env)
    product_types = tuple(dict.fromkeys(_bybit_product_type(i) for i in instruments))
    common: dict[str, Any] = {
        "product_types": product_types,
        "environment": environment,
        "base_url_http": over.http,
        "instrument_provider": InstrumentProviderConfig(load_ids=frozenset(i.id for i in instruments)),
    }
    data_config = BybitStreamsDataClientConfig(**common, base_url_ws=over.ws)
    endpoints = {"http": over.http or nautilus_pyo3.get_bybit_http_base_url(environment)}
    for product_type in product_types:
        endpoints[f"ws (market data, {product_type.name.lower()})"] = public_stream_url(
            product_type, data_config
        )
    exec_config = None
    if build_exec:
        endpoints["ws_private (account events)"] = over.ws_private or nautilus_pyo3.get_bybit_ws_url_private(
            environment
        )
        endpoints["ws_trade (orders)"] = (
            "none: Bybit demo takes orders over HTTP"
            if env_name == "DEMO"
            else over.ws_trade or nautilus_pyo3.get_bybit_ws_url_trade(environment)
        )
        exec_config = BybitExecClientConfig(
            **common, base_url_ws_private=over.ws_private, base_url_ws_trade=over.ws_trade
        )
    return LiveVenue(
        venue=venue,
        environment=env_name,
        **_traded(instruments),
        data_config=data_config,
        exec_config=exec_config,
        data_factory=BybitStreamsDataClientFactory,
        exec_factory=BybitLiveExecClientFactory,
        account_id=_account_id(venue),
        account_type="UNIFIED",
        endpoints=endpoints,
    )


def _okx(
    venue: str, instruments: list[Instrument], env: LiveEnv, over: Endpoints, build_exec: bool
) -> LiveVenue:
    env_name, environment = adapter_environment("OKX", env)
    instrument_types = tuple(
        dict.fromkeys(
            OKXInstrumentType.SWAP if isinstance(i, CryptoPerpetual) else OKXInstrumentType.SPOT
            for i in instruments
        )
    )
    endpoints = {
        "http": over.http or nautilus_pyo3.get_okx_http_base_url(),
        "ws (market data)": over.ws or nautilus_pyo3.get_okx_ws_url_public(environment),
    }
    common: dict[str, Any] = {
        "instrument_types": instrument_types,
        "environment": environment,
        "base_url_http": over.http,
        "instrument_provider": InstrumentProviderConfig(load_ids=frozenset(i.id for i in instruments)),
    }
    exec_config = None
    if build_exec:
        endpoints["ws_private (orders, account events)"] = (
            over.ws_private or nautilus_pyo3.get_okx_ws_url_private(environment)
        )
        # a unified account holds its spot as coins, not positions: without reports built from the
        # coin balances, a restart's reconciliation takes the spot fills' position for a venue that
        # is flat and books an inferred opposite fill (a phantom short beside the real coins)
        exec_config = OKXExecClientConfig(
            **common, base_url_ws=over.ws_private, use_spot_cash_position_reports=True
        )
    return LiveVenue(
        venue=venue,
        environment=env_name,
        **_traded(instruments),
        data_config=OKXDataClientConfig(**common, base_url_ws=over.ws),
        exec_config=exec_config,
        data_factory=OKXCloseStampedDataClientFactory,
        exec_factory=OKXLiveExecClientFactory,
        account_id=_account_id(venue),
        account_type="UNIFIED",
        endpoints=endpoints,
    )


def _traded(instruments: list[Instrument]) -> dict[str, Any]:
    """A venue's instrument ids, the perps among them and the inverse perps' contract size
    (``LiveVenue`` fields)."""
    return {
        "instruments": tuple(i.id for i in instruments),
        "perps": tuple(i.id for i in instruments if isinstance(i, CryptoPerpetual)),
        "inverse_contract_usd": {i.id: i.multiplier.as_double() for i in instruments if i.is_inverse},
    }


def _account_id(venue: str, settlement: str = "USDT") -> AccountId:
    account_id = live_account_id(venue, settlement)
    assert account_id is not None  # every CEX venue has one
    return account_id


_BUILDERS = {"BINANCE": _binance, "BYBIT": _bybit, "OKX": _okx}


def _in_account_mode(venue: LiveVenue, config: CexVenueConfig, build_exec: bool) -> LiveVenue:
    """Bybit and OKX as the venue YAML's ``account_mode`` says (``UNIFIED`` or ``CLASSIC``).

    The account ids do not change with the mode: the adapters report ``BYBIT-UNIFIED`` and
    ``OKX-master`` whatever it is. OKX's mode is a setting of the account its client trades in,
    but Nautilus 1.231's Bybit execution client reads balances and trades through the Unified
    Trading Account's API only, so it cannot trade a classic Bybit account.
    """
    if config.venue not in UNIFIED_CAPABLE:
        return venue
    if build_exec and config.venue == "BYBIT" and not config.unified:
        raise ConfigError(
            "bybit.yaml: account_mode classic cannot trade live: Nautilus 1.231's Bybit adapter trades "
            "through the Unified Trading Account only (set account_mode: unified)"
        )
    return replace(venue, account_type=config.account_mode.upper())


def plan_live(run: RunConfig, env: LiveEnv, config_dir: Path = VENUE_CONFIG_DIR) -> LivePlan:
    """The live clients of ``run``'s mode in ``env``: a data client for every venue whose prices
    the strategy reads, an execution client for every venue it trades (none in sandbox)."""
    needs = run.spec.strategy(run.strategy).data_needs()
    wallet_venue = load_wallet_venue(config_dir).venue
    traded = [i for i in needs.required if i.venue.value != wallet_venue]
    # the predictor of an ML mode reads the model's spot pair beside the perp it trades
    model_inputs = [InstrumentId.from_str(MODEL_SPOT_INSTRUMENT)] if needs.predictions else []
    optional = [i for i in (*needs.optional, *model_inputs) if i.venue.value != wallet_venue]
    read = list(dict.fromkeys([*traded, *optional]))
    by_venue: dict[str, list[InstrumentId]] = {}
    for instrument_id in read:
        by_venue.setdefault(instrument_id.venue.value, []).append(instrument_id)
    venues = []
    for venue, ids in sorted(by_venue.items()):
        exchange = exchange_of(ids[0])
        config = load_cex_venue(exchange, config_dir)
        known = {i: instrument for i, (_, instrument) in venue_instruments(config).items()}
        unknown = [str(i) for i in ids if i not in known]
        if unknown:
            raise ConfigError(f"{exchange.lower()}.yaml lists no instrument {', '.join(unknown)}")
        over = load_endpoints(exchange, config_dir).get(venue, Endpoints())
        build_exec = env.trades_on_venues and any(i in traded for i in ids)
        built = _BUILDERS[exchange](venue, [known[i] for i in ids], env, over, build_exec)
        venues.append(_in_account_mode(built, config, build_exec))
    wallet = tuple(i for i in (*needs.required, *needs.trades) if i.venue.value == wallet_venue)
    return LivePlan(env, venues, wallet_venue, wallet)
