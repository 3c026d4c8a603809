"""Nautilus' Binance futures clients with the project's contract terms and a reconciliation that
asks each venue symbol once.

Two gaps of Nautilus 1.231's Binance futures adapter, both seen against the fake Binance
(``tests/live/test_fake_binance.py``):

- **Fills reported twice.** Reconciliation (the mass status sent after every user-stream
  reconnect or listenKey rotation, and at start) gathers the symbols to query from the cache —
  Nautilus symbols, ``BTCUSDT-PERP`` (``execution.py`` ``_get_cache_active_symbols``) — and from
  the venue's open positions — Binance symbols, ``BTCUSDT`` (``_get_binance_active_position_symbols``).
  Both name the same Binance symbol, so its trades (and orders) are queried and reported twice and
  the execution engine books an ``EXTERNAL`` position opposite to the strategy's: the node's net
  position no longer equals the venue's. :class:`BinanceFuturesReconcilingExecClient` turns the
  cache's symbols into Binance symbols first, so the set holds each venue symbol once.
- **The COIN-M contract.** The futures instrument provider builds every perp ``is_inverse=False``
  with multiplier 1 and margin rates of 1 (hard-coded in ``futures/providers.py``), where a COIN-M
  ``BTCUSD-PERP`` is an inverse perp of 100 USD contracts; P&L, notional and the strategies' margin
  reading (``adapters/cex/margin.py``) would all be wrong. :class:`ProjectTermsInstrumentProvider`
  keeps what the venue says of an instrument (limits, precisions) and sets the contract terms the
  venue YAML defines (inverse, multiplier, margin rates, fees); it refuses an instrument whose
  tick or step on the venue differs from the YAML's, as orders sized by the YAML would be refused.
  USDT-M perps get their YAML terms too: the adapter's margin rates of 1 would make the strategies
  read the whole notional as initial and maintenance margin.

Both the data client (whose instruments reach the cache) and the execution client load their
instruments through it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nautilus_trader.adapters.binance import (
    BinanceDataClientConfig,
    BinanceExecClientConfig,
    BinanceLiveDataClientFactory,
    BinanceLiveExecClientFactory,
)
from nautilus_trader.adapters.binance.common.credentials import get_api_key, get_api_secret
from nautilus_trader.adapters.binance.common.symbol import BinanceSymbol
from nautilus_trader.adapters.binance.common.urls import get_ws_base_url
from nautilus_trader.adapters.binance.config import BinanceInstrumentProviderConfig
from nautilus_trader.adapters.binance.factories import _resolve_environment
from nautilus_trader.adapters.binance.futures.data import BinanceFuturesDataClient
from nautilus_trader.adapters.binance.futures.execution import BinanceFuturesExecutionClient
from nautilus_trader.adapters.binance.futures.providers import BinanceFuturesInstrumentProvider
from nautilus_trader.adapters.binance.http.client import BinanceHttpClient
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.config import NautilusConfig
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Quantity

from live.binance_data import BinanceFundingHistoryDataClient, with_funding_history


class ContractTerms(NautilusConfig, frozen=True):
    """What the venue YAML says of a perp's contract, which the adapter does not parse right."""

    instrument_id: str
    is_inverse: bool
    multiplier: str
    margin_init: str
    margin_maint: str
    maker_fee: str
    taker_fee: str
    price_increment: str
    size_increment: str

    @classmethod
    def of(cls, instrument: CryptoPerpetual) -> ContractTerms:
        """The terms of the project's definition of ``instrument`` (``adapters/cex/instruments.py``)."""
        return cls(
            instrument_id=instrument.id.value,
            is_inverse=instrument.is_inverse,
            multiplier=str(instrument.multiplier),
            margin_init=str(instrument.margin_init),
            margin_maint=str(instrument.margin_maint),
            maker_fee=str(instrument.maker_fee),
            taker_fee=str(instrument.taker_fee),
            price_increment=str(instrument.price_increment),
            size_increment=str(instrument.size_increment),
        )


class ContractMismatch(RuntimeError):
    """The venue trades a contract in other increments than the venue YAML says.

    Not a ``ValueError``: the adapter's parser turns those into a warning and leaves the instrument
    out, where a node must not start trading on a contract it misstates."""


class ProjectTermsProviderConfig(BinanceInstrumentProviderConfig, frozen=True):
    """The adapter's provider config with the contract terms of the instruments the project defines."""

    contract_terms: tuple[ContractTerms, ...] = ()


class ProjectTermsInstrumentProvider(BinanceFuturesInstrumentProvider):
    """Binance's futures instrument provider whose perps carry the venue YAML's contract terms."""

    def __init__(self, *args, config: ProjectTermsProviderConfig, **kwargs) -> None:
        super().__init__(*args, config=config, **kwargs)
        self._terms = {InstrumentId.from_str(t.instrument_id): t for t in config.contract_terms}

    def add(self, instrument: Instrument) -> None:
        terms = self._terms.get(instrument.id)
        super().add(instrument if terms is None else with_terms(instrument, terms))


def with_terms(instrument: Instrument, terms: ContractTerms) -> CryptoPerpetual:
    """The adapter's ``instrument`` with ``terms``; refused when the venue's tick or step is not
    the YAML's (the project sizes and prices orders by the YAML)."""
    for field in ("price_increment", "size_increment"):
        venue_value = Decimal(str(getattr(instrument, field)))
        if venue_value != Decimal(getattr(terms, field)):
            raise ContractMismatch(
                f"{instrument.id}: the venue's {field} is {venue_value}, the venue YAML (binance.yaml) "
                f"says {getattr(terms, field)}; correct the YAML to the venue's contract"
            )
    values = CryptoPerpetual.to_dict(instrument)
    values.update(
        is_inverse=terms.is_inverse,
        multiplier=str(Quantity.from_str(terms.multiplier)),
        margin_init=terms.margin_init,
        margin_maint=terms.margin_maint,
        maker_fee=terms.maker_fee,
        taker_fee=terms.taker_fee,
    )
    return CryptoPerpetual.from_dict(values)


def _provider_of(
    client: BinanceHttpClient, clock: LiveClock, config: BinanceDataClientConfig | BinanceExecClientConfig
) -> ProjectTermsInstrumentProvider:
    """The client's provider (one per client, as the adapter's: the data client's HTTP client
    holds no key, the execution client's does)."""
    if not config.account_type.is_futures or not isinstance(
        config.instrument_provider, ProjectTermsProviderConfig
    ):
        raise ValueError(
            f"{config.venue}: the project's Binance futures clients need a futures account type and a "
            f"ProjectTermsProviderConfig (got {config.account_type.value}, "
            f"{type(config.instrument_provider).__name__})"
        )
    return ProjectTermsInstrumentProvider(
        client=client,
        clock=clock,
        account_type=config.account_type,
        config=config.instrument_provider,
        venue=config.venue,
    )


class BinanceFuturesReconcilingExecClient(BinanceFuturesExecutionClient):
    """Binance's futures execution client reconciling each venue symbol once."""

    def _get_cache_active_symbols(self) -> set[str]:
        # 1.231 returns Nautilus symbols (BTCUSDT-PERP) that the HTTP calls send as Binance's
        # (BTCUSDT), beside the Binance symbols of the open positions: normalise them so a set
        # holds each venue symbol once
        return {str(BinanceSymbol(symbol)) for symbol in super()._get_cache_active_symbols()}


class BinanceFuturesDataClientFactory(BinanceLiveDataClientFactory):
    """Builds the Binance futures data client (:mod:`live.binance_data`: with the funding history)
    with a :class:`ProjectTermsInstrumentProvider`."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: BinanceDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> BinanceFundingHistoryDataClient:
        built = BinanceLiveDataClientFactory.create(loop, name, config, msgbus, cache, clock)
        assert isinstance(built, BinanceFuturesDataClient)
        client = with_funding_history(built, loop, name, config, msgbus, cache, clock)
        client._instrument_provider = _provider_of(client._http_client, clock, config)
        return client


class BinanceFuturesExecClientFactory(BinanceLiveExecClientFactory):
    """Builds :class:`BinanceFuturesReconcilingExecClient` with a :class:`ProjectTermsInstrumentProvider`.

    The adapter's factory builds its own client first (never connected) so that the key handling,
    the HTTP client (key, URL, rate limits) and the URLs stay the adapter's choices; the subclass
    is built on that HTTP client."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: BinanceExecClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> BinanceFuturesReconcilingExecClient:
        built = BinanceLiveExecClientFactory.create(loop, name, config, msgbus, cache, clock)
        environment = _resolve_environment(config.environment)
        return BinanceFuturesReconcilingExecClient(
            loop=loop,
            client=built._http_client,
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=_provider_of(built._http_client, clock, config),
            base_url_ws=config.base_url_ws or get_ws_base_url(config.account_type, environment, config.us),
            account_type=config.account_type,
            name=name,
            config=config,
            environment=environment,
            api_key=config.api_key or get_api_key(config.account_type, environment),
            api_secret=config.api_secret or get_api_secret(config.account_type, environment),
        )
