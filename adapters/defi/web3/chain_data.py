"""The live chain data client: the wallet venue's data read over RPC, as the backtest reads it.

A backtest replays, from the catalog (``data_catalog.builder``, ``backtesting.engine.read_data``):

- ``GasPrice`` (gwei) on ``data.GasPrice``;
- ``AaveReserveSnapshot`` per reserve (indices normalised ≈1.0, rates as APR fractions, totals in
  tokens) on ``data.AaveReserveSnapshot*``, and ``AaveEModeParams`` on ``data.AaveEModeParams``;
- the reserves' risk parameters and caps (``aave_params.json`` in a backtest; live, as
  ``AaveReserveParams`` on ``data.AaveReserveParams``, which the wallet venue's Aave model takes);
- hourly bars (``adapters.bars.bar_type_for``, stamped at the hour's close) of the DEX pools
  (``ETHUSDT-UNIV3.ETHEREUM``…, quote per base) and of the LST protocol rates
  (``WSTETH-LIDO.ETHEREUM``…, ETH per LST).

Live, :class:`ChainPoller` reads the same quantities at one block (every call pinned to it, so
nothing is later than the block), stamps them at the block's time and builds the hourly bars from
the samples; :class:`ChainDataFeed` polls on a timer and hands every point to the data engine as a
data client does, so strategies and the wallet venue receive them on the same topics. It also
publishes the chain's own view of the account (``AaveAccountHealth``), which a backtest models.

Contract addresses come from the chain YAML the web3 backend also reads
(:class:`~adapters.defi.web3.config.ChainLiveConfig`), the RPC URL from the environment through
:mod:`adapters.defi.web3.connection`, which masks it (an RPC error's text names it) in what the
feed logs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.core.data import Data
from nautilus_trader.model.data import Bar, CustomData, DataType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from adapters.bars import bar_type_for
from adapters.defi.config import AaveReserveSpec, WalletVenueConfig, load_wallet_venue
from adapters.defi.data import (
    AaveAccountHealth,
    AaveEModeParams,
    AaveReserveParams,
    AaveReserveSnapshot,
    GasPrice,
)
from adapters.defi.instruments import wallet_instrument_id, wallet_instruments
from adapters.defi.web3.config import ChainLiveConfig, load_chain_live
from adapters.defi.web3.connection import masked, read_only_web3
from adapters.hours import closing_hour
from live.funding import DATA_ENGINE_PROCESS
from localchain.solidity import compile_contracts
from localchain.tools import AAVE, UNISWAP_CORE, artifact

RAY = 10**27
WAD = 10**18
GWEI = 10**9
BPS = 10_000
BASE_CURRENCY_UNIT = 10**8
"""Aave v3 Ethereum's oracle base currency: USD with 8 decimals."""
NO_DEBT_HEALTH = 2**256 - 1
"""``getUserAccountData``'s health factor without debt (type(uint256).max)."""
LST_RATE_CALLS = {"LIDO": ("WstETH", "stEthPerToken"), "ETHERFI": ("WeETH", "getRate")}
"""Staking protocol → (our stand-in with the real interface, whose ABI is used; the rate getter
on the LST token itself, as on mainnet)."""
NANOS = 10**9
LTV = (0, 16)
LIQUIDATION_THRESHOLD = (16, 16)
LIQUIDATION_BONUS = (32, 16)
RESERVE_DECIMALS = (48, 8)
BORROWING_ENABLED = (58, 1)
FLASHLOAN_ENABLED = (63, 1)
RESERVE_FACTOR = (64, 16)
BORROW_CAP = (80, 36)
SUPPLY_CAP = (116, 36)
EMODE_CATEGORY = (168, 8)
"""(first bit, width) of fields of Aave v3's reserve configuration word (``ReserveConfiguration``)."""
CHANGES_ONLY = (AaveEModeParams, AaveReserveParams)
"""Parameters published when they change (a backtest has them once, at the start)."""


def _bits(word: int, start: int, width: int) -> int:
    return (word >> start) & ((1 << width) - 1)


@dataclass(frozen=True)
class _Reserve:
    """A reserve's facts that never change: its underlying, aToken and debt token, decimals."""

    spec: AaveReserveSpec
    address: str
    a_token: Contract
    debt_token: Contract
    unit: int
    """10^decimals: raw token amounts → whole tokens."""


@dataclass(frozen=True)
class _Pool:
    contract: Contract
    instrument_id: InstrumentId
    base_is_token0: bool
    scale: Fraction
    """10^(base decimals − quote decimals): raw token1/token0 → quote per base in whole tokens."""


class ChainReader:
    """Reads the wallet venue's chain data at one block and converts it to the backtest's types.

    A block's contract calls go in one JSON-RPC batch (one round trip, ≈30 calls); the facts that
    never change (token addresses, decimals, token order) are read once, at the first read.
    """

    def __init__(
        self, w3: Web3, config: ChainLiveConfig, wallet: WalletVenueConfig, account: str | None = None
    ) -> None:
        """``account``: the wallet whose ``AaveAccountHealth`` is published (live, the wallet
        connection's address); none without it."""
        self.w3, self.config, self.wallet, self.account = w3, config, wallet, account
        self.pool = self._contract(config.aave_pool, artifact(AAVE, "Pool"))
        self._token_abi = artifact(AAVE, "IERC20Detailed")
        outputs = self.pool.get_function_by_name("getReserveData").abi["outputs"]
        self._reserve_fields = [c["name"] for c in outputs[0]["components"]]
        self._reserves: list[_Reserve] = []
        self._pools: list[_Pool] = []
        self._lst_rates = self._rate_getters()

    def _rate_getters(self) -> dict[InstrumentId, Any]:
        """Each LST token's rate getter, by the instrument its rate is the price of."""
        compiled = compile_contracts()
        getters = {}
        for lst in self.wallet.staking:
            if lst.token in self.config.tokens:
                name, getter = LST_RATE_CALLS[lst.protocol]
                contract = self._contract(self.config.tokens[lst.token], {"abi": compiled[name].abi})
                getters[wallet_instrument_id(self.wallet, lst.mint_symbol)] = contract.functions[getter]
        return getters

    def _contract(self, address: str, compiled: dict[str, Any]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=compiled["abi"])

    def _token(self, code: str) -> Contract:
        return self._contract(self.config.tokens[code], self._token_abi)

    def latest_block(self) -> Any:
        return self.w3.eth.get_block("latest")

    def read(self, block: Any) -> tuple[list[Data], dict[InstrumentId, float]]:
        """The data points at ``block`` (stamped at its time) and the marks for the hourly bars."""
        self._read_static()
        at, ts = block["number"], block["timestamp"] * NANOS
        pool = self.pool.functions
        calls: dict[Any, Any] = {}
        for r in self._reserves:
            calls[r.spec.asset, "data"] = pool.getReserveData(r.address)
            calls[r.spec.asset, "income"] = pool.getReserveNormalizedIncome(r.address)
            calls[r.spec.asset, "debt_index"] = pool.getReserveNormalizedVariableDebt(r.address)
            calls[r.spec.asset, "supplied"] = r.a_token.functions.totalSupply()
            calls[r.spec.asset, "borrowed"] = r.debt_token.functions.totalSupply()
        calls["emode"] = pool.getEModeCategoryData(self.config.emode_category)
        if self.account:
            calls["account"] = pool.getUserAccountData(Web3.to_checksum_address(self.account))
        calls |= {iid: getter() for iid, getter in self._lst_rates.items()}
        calls |= {p.instrument_id: p.contract.functions.slot0() for p in self._pools}
        values = self._batch(calls, at)

        points: list[Data] = [self._gas(block, ts)]
        points += [self._snapshot(r, values, ts) for r in self._reserves]
        points += [self._reserve_params(r, values, ts) for r in self._reserves]
        points.append(self._emode(values, ts))
        if self.account:
            points.append(self._account(values["account"], ts))
        marks = {iid: values[iid] / WAD for iid in self._lst_rates}
        marks |= {p.instrument_id: _price(p, values[p.instrument_id][0]) for p in self._pools}
        return points, marks

    def _batch(self, calls: dict[Any, Any], at: int) -> dict[Any, Any]:
        """Every call's result at block ``at``, in one JSON-RPC batch."""
        with self.w3.batch_requests() as batch:
            for call in calls.values():
                batch.add(call.call(block_identifier=at))
            return dict(zip(calls, batch.execute(), strict=True))

    def _reserve_data(self, values: tuple) -> dict[str, Any]:
        """``getReserveData``'s struct by the field names of its ABI."""
        return dict(zip(self._reserve_fields, values, strict=True))

    def _read_static(self) -> None:
        """Once, all or nothing (an RPC failure half-way leaves nothing to skip next time)."""
        if self._reserves:
            return
        pools = [self._pool_facts(symbol, address) for symbol, address in self.config.pools.items()]
        self._reserves = [self._reserve_facts(spec) for spec in self.wallet.aave.reserves]
        self._pools = pools

    def _reserve_facts(self, spec: AaveReserveSpec) -> _Reserve:
        address = self._token(spec.underlying).address
        data = self._reserve_data(self.pool.functions.getReserveData(address).call())
        return _Reserve(
            spec,
            address,
            self._contract(data["aTokenAddress"], self._token_abi),
            self._contract(data["variableDebtTokenAddress"], self._token_abi),
            10 ** _bits(data["configuration"][0], *RESERVE_DECIMALS),
        )

    def _pool_facts(self, symbol: str, address: str) -> _Pool:
        spec = self.wallet.pool(symbol)
        contract = self._contract(address, artifact(UNISWAP_CORE, "UniswapV3Pool"))
        base, quote = self._token(spec.base), self._token(spec.quote)
        scale = Fraction(10) ** (base.functions.decimals().call() - quote.functions.decimals().call())
        base_is_token0 = contract.functions.token0().call() == base.address
        return _Pool(contract, wallet_instrument_id(self.wallet, symbol), base_is_token0, scale)

    def _gas(self, block: Any, ts: int) -> GasPrice:
        """The node's gas-price suggestion, the block's base fee and the suggested priority fee."""
        return GasPrice(
            ts_event=ts,
            ts_init=ts,
            gwei=self.w3.eth.gas_price / GWEI,
            base_fee_gwei=block.get("baseFeePerGas", 0) / GWEI,
            priority_fee_gwei=self.w3.eth.max_priority_fee / GWEI,
        )

    def _snapshot(self, reserve: _Reserve, values: dict[Any, Any], ts: int) -> AaveReserveSnapshot:
        """The reserve's indices *at the block*: ``getReserveData`` holds them as of the reserve's
        last update; the Pool's ``getReserveNormalized*`` accrue them to now, as Aave does."""
        asset = reserve.spec.asset
        data = self._reserve_data(values[asset, "data"])
        return AaveReserveSnapshot(
            ts_event=ts,
            ts_init=ts,
            instrument_id=wallet_instrument_id(self.wallet, f"{reserve.spec.a_token}-AAVE"),
            reserve=asset,
            liquidity_index=values[asset, "income"] / RAY,
            variable_borrow_index=values[asset, "debt_index"] / RAY,
            liquidity_rate=data["currentLiquidityRate"] / RAY,
            variable_borrow_rate=data["currentVariableBorrowRate"] / RAY,
            total_a_token=values[asset, "supplied"] / reserve.unit,
            total_variable_debt=values[asset, "borrowed"] / reserve.unit,
        )

    def _reserve_params(self, reserve: _Reserve, values: dict[Any, Any], ts: int) -> AaveReserveParams:
        """The risk parameters of the reserve's configuration word (caps in whole tokens)."""
        word = self._reserve_data(values[reserve.spec.asset, "data"])["configuration"][0]
        ltv = _bits(word, *LTV) / BPS
        return AaveReserveParams(
            ts_event=ts,
            ts_init=ts,
            reserve=reserve.spec.asset,
            ltv=ltv,
            liquidation_threshold=_bits(word, *LIQUIDATION_THRESHOLD) / BPS,
            liquidation_bonus=_bonus(_bits(word, *LIQUIDATION_BONUS)),
            reserve_factor=_bits(word, *RESERVE_FACTOR) / BPS,
            supply_cap=float(_bits(word, *SUPPLY_CAP)),
            borrow_cap=float(_bits(word, *BORROW_CAP)),
            borrowing_enabled=bool(_bits(word, *BORROWING_ENABLED)),
            collateral_enabled=ltv > 0,  # as the reference data's flag: LTV 0 allows no new borrowing
            flashloan_enabled=bool(_bits(word, *FLASHLOAN_ENABLED)),
        )

    def _emode(self, values: dict[Any, Any], ts: int) -> AaveEModeParams:
        """The category's parameters; its assets are the reserves whose configuration names it."""
        category = self.config.emode_category
        ltv, threshold, bonus, _, _ = values["emode"]
        assets = [
            r.spec.asset
            for r in self._reserves
            if _bits(self._reserve_data(values[r.spec.asset, "data"])["configuration"][0], *EMODE_CATEGORY)
            == category
        ]
        return AaveEModeParams(
            ts_event=ts,
            ts_init=ts,
            category=self.wallet.aave.emode_category,
            ltv=ltv / BPS,
            liquidation_threshold=threshold / BPS,
            liquidation_bonus=_bonus(bonus),
            assets=",".join(sorted(assets)),
        )

    @staticmethod
    def _account(values: tuple[int, ...], ts: int) -> AaveAccountHealth:
        collateral, debt, _, threshold, max_ltv, health = values
        return AaveAccountHealth(
            ts_event=ts,
            ts_init=ts,
            collateral_usd=collateral / BASE_CURRENCY_UNIT,
            debt_usd=debt / BASE_CURRENCY_UNIT,
            ltv=debt / collateral if collateral else 0.0,
            max_ltv=max_ltv / BPS,
            liquidation_threshold=threshold / BPS,
            health_factor=float("inf") if health == NO_DEBT_HEALTH else health / WAD,
        )


def _bonus(raw: int) -> float:
    """Aave stores a liquidation bonus as 100 % + bonus (0 when the asset is no collateral)."""
    return max(raw - BPS, 0) / BPS


def _price(pool: _Pool, sqrt_price_x96: int) -> float:
    """Quote per base from ``slot0``'s √(token1/token0 in raw units)·2⁹⁶."""
    raw = Fraction(sqrt_price_x96 * sqrt_price_x96, 2**192)
    return float((raw if pool.base_is_token0 else 1 / raw) * pool.scale)


class HourlyBars:
    """The catalog's hourly bars from block samples: an hour's bar (open, high, low, close of its
    samples, no volume) is complete, and returned stamped at the hour's close, once a block of a
    later hour is seen. An hour without samples (the RPC was down) gets no bar, as a hole in the
    catalog has none."""

    def __init__(self, instruments: dict[InstrumentId, Instrument]) -> None:
        self._instruments = instruments
        self._hour = 0
        self._samples: dict[InstrumentId, list[float]] = {}

    def add(self, ts: int, marks: dict[InstrumentId, float]) -> list[Bar]:
        hour = closing_hour(ts)
        done = []
        if hour != self._hour:
            done = [self._bar(iid, samples) for iid, samples in self._samples.items()]
            self._hour, self._samples = hour, {}
        for iid, value in marks.items():
            self._samples.setdefault(iid, []).append(value)
        return done

    def _bar(self, instrument_id: InstrumentId, samples: list[float]) -> Bar:
        instrument = self._instruments[instrument_id]
        price = instrument.make_price
        volume = Quantity(0, instrument.size_precision)
        o, h, lo, c = price(samples[0]), price(max(samples)), price(min(samples)), price(samples[-1])
        return Bar(bar_type_for(instrument_id), o, h, lo, c, volume, self._hour, self._hour)


class ChainPoller:
    """One poll: the points of the newest block, if it is newer than the last one polled.

    A block not after the last polled one (no new block, or a node behind the one before a
    reconnect) yields nothing, so no point is published twice or out of order; the e-mode and
    reserve parameters are published when they change (the strategies lever on each e-mode one
    they receive).
    """

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.last_ts = 0
        self._bars = HourlyBars({i.id: i for i in wallet_instruments(reader.wallet)})
        self._published: dict[tuple[str, str], dict[str, Any]] = {}

    def poll(self) -> list[Data]:
        block = self.reader.latest_block()
        ts = block["timestamp"] * NANOS
        if ts <= self.last_ts:
            return []
        points, marks = self.reader.read(block)
        self.last_ts = ts
        return [*self._bars.add(ts, marks), *filter(self._is_news, points)]

    def _is_news(self, point: Data) -> bool:
        if not isinstance(point, CHANGES_ONLY):
            return True
        key = (type(point).__name__, getattr(point, "reserve", ""))
        values = {k: v for k, v in point.to_dict().items() if k not in ("ts_event", "ts_init")}
        news, self._published[key] = values != self._published.get(key), values
        return news


TIMER = "chain-data"


class ChainDataFeedConfig(ActorConfig, frozen=True):
    chain_config_path: str = ""
    """The chain YAML (:class:`~adapters.defi.web3.config.ChainLiveConfig`)."""
    account: str | None = None
    """The wallet whose ``AaveAccountHealth`` is published (live, the wallet connection's address)."""
    interval_secs: float = 12.0
    """Poll period (s); Ethereum's block time by default, so every block is seen."""
    max_backoff_secs: float = 300.0
    """Longest wait between attempts while the RPC is unreachable (the wait doubles from the period)."""
    rpc_timeout_secs: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.interval_secs <= self.max_backoff_secs:
            raise ValueError("need 0 < interval_secs <= max_backoff_secs")
        if self.rpc_timeout_secs <= 0:
            raise ValueError("rpc_timeout_secs must be positive")
        if self.account is not None and not Web3.is_address(self.account):
            raise ValueError(f"account: {self.account!r} is not an address")


class ChainDataFeed(Actor):
    """Polls the chain every ``interval_secs`` and sends each point to the data engine (as a data
    client would: custom data as ``CustomData``, bars as they are), which caches and publishes
    them on the topics the backtest's data arrives on (see the module docstring).

    A poll is three round trips (the block; the gas price and priority fee; one batch of every
    contract call), made in the timer callback, each bounded by ``rpc_timeout_secs``.

    An unreachable RPC is logged (the error's text masked: it names the URL) and retried after a
    doubling wait up to ``max_backoff_secs``; the first poll that succeeds again resumes from the
    newest block (:class:`ChainPoller` skips nothing newer and repeats nothing).
    """

    def __init__(self, config: ChainDataFeedConfig, poller: ChainPoller | None = None) -> None:
        super().__init__(config)
        self._cfg = config
        self._poller = poller
        self._failures = 0
        self._retry_ns = 0
        self._polling = threading.Lock()

    def on_start(self) -> None:
        if self._poller is None:
            wallet = load_wallet_venue()
            config = load_chain_live(Path(self._cfg.chain_config_path), wallet)
            w3 = read_only_web3(self._cfg.rpc_timeout_secs)
            self._poller = ChainPoller(ChainReader(w3, config, wallet, self._cfg.account))
        self.clock.set_timer(TIMER, timedelta(seconds=self._cfg.interval_secs), callback=self._on_timer)
        self._poll()

    def on_stop(self) -> None:
        if TIMER in self.clock.timer_names:
            self.clock.cancel_timer(TIMER)

    def _on_timer(self, _event) -> None:
        if self.clock.timestamp_ns() >= self._retry_ns:
            self._poll()

    def _poll(self) -> None:
        """One poll at a time: a live clock's timer fires on its own thread, so a poll slower than
        the interval (the first one, which also reads every static fact, or an RPC timing out)
        would otherwise run beside the next one, both past the same last block, and publish the
        block's points twice (an Aave index twice at one time is refused downstream). A timer
        event arriving during a poll is skipped: the next one reads the newest block anyway."""
        if not self._polling.acquire(blocking=False):
            return
        try:
            self._poll_once()
        finally:
            self._polling.release()

    def _poll_once(self) -> None:
        try:
            points = self._poller.poll()
        except (OSError, Web3Exception) as e:  # requests' connection errors are OSErrors
            self._failures += 1
            wait = min(self._cfg.interval_secs * 2**self._failures, self._cfg.max_backoff_secs)
            self._retry_ns = self.clock.timestamp_ns() + int(wait * NANOS)
            self.log.warning(
                f"chain RPC unreachable ({type(e).__name__}: {masked(str(e))}), "
                f"attempt {self._failures}; retry in {wait:.0f}s"
            )
            return
        if self._failures:
            self.log.info(f"chain RPC back after {self._failures} failed attempt(s)")
            self._failures = 0
        for point in points:
            message = point if isinstance(point, Bar) else CustomData(DataType(type(point)), point)
            self.msgbus.send(endpoint=DATA_ENGINE_PROCESS, msg=message)
