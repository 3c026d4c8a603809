"""A wallet-capital mode live on a real chain: ``run_live.py --env testnet|mainnet --chain CHAIN.yaml``.

The wallet venue of the live node is the one a paper run has — the project's ``ETHEREUM`` CASH
venue with its wallet module (books, Aave accrual, gas) behind a live execution client — with
three differences that make it live:

- its orders are transactions: a :class:`~adapters.defi.web3.backend.Web3Backend` on the node
  and key of the environment (:mod:`adapters.defi.web3.connection`), within the mode's send
  limits, stopped by the kill switch; the daily gas budget is kept in the state folder
  (:data:`GAS_LEDGER`), so a restart does not start a fresh day;
- its data is the chain's: the :class:`~adapters.defi.web3.chain_data.ChainDataFeed` polls the
  pools, LST rates, Aave reserves and gas price, and each point it publishes steps the venue
  (the venue's clock is the chain's block time; the orders the strategy sent on it are then
  executed), as a replayed point steps a paper venue;
- its books start from what the wallet holds on chain when the node starts (token balances,
  aTokens, debt tokens, native ether + WETH as ETH), not from a configured capital, and the Aave
  risk parameters are the chain's. The Aave liquidations a third party makes of the wallet's
  position are read back from the chain (:class:`~adapters.defi.web3.liquidations.LiquidationWatcher`)
  and booked instead of the model's, as in a paper run on the local chain. A restarted node
  therefore carries on from the chain's position, and the strategy's saved state (Redis) says it
  has already entered: nothing is opened again.

Before anything is built, :func:`open_chain` checks the node's chain id against the chain YAML
and refuses Ethereum mainnet without ``--confirm-mainnet``; :func:`check_holdings` refuses a
wallet that holds nothing the mode can use or too little ETH to pay gas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from nautilus_trader.core.data import Data
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.data import Bar, CustomData
from nautilus_trader.model.identifiers import Venue
from web3.exceptions import Web3Exception

from adapters.cex.margin import last_price
from adapters.config import ConfigError
from adapters.defi.aave_params import EModeParams
from adapters.defi.config import WalletVenueConfig, load_wallet_venue
from adapters.defi.currencies import PRECISION, account_balances, register_wallet_currencies
from adapters.defi.data import AaveEModeParams, AaveReserveParams
from adapters.defi.execution import install_defi_client
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.wallet import WalletModule
from adapters.defi.web3.backend import ETH, Web3Backend
from adapters.defi.web3.chain_data import ChainReader
from adapters.defi.web3.config import ChainLiveConfig, check_chain, load_chain_live
from adapters.defi.web3.connection import WalletConnection, connect, masked
from adapters.defi.web3.liquidations import LiquidationWatcher
from backtesting.config import RunConfig
from backtesting.venues import add_wallet_venue
from live.paper import PaperHost, ReplayDataClient, VenueStepper
from strategies.base import YieldStrategy

GAS_LEDGER = "gas_ledger.json"
"""The daily gas budget's receipts, in the state folder (survives restarts)."""
PRIORITY = 10_001
"""The venue steps on a chain point before any strategy or actor sees it."""
DEFAULT_POLL_SECS = 12.0
ABSOLUTE_TOLERANCE = 1e-6
"""Below this (whole tokens) books and chain agree whatever the relative tolerance: the books' 8
decimals and an accrual booked at the feed's last block, not the newest."""


@dataclass(frozen=True)
class ChainLive:
    """The chain a live node trades on, checked: its YAML, the wallet's connection, the poll period."""

    config_path: Path
    live: ChainLiveConfig
    connection: WalletConnection
    poll_secs: float = DEFAULT_POLL_SECS


def open_chain(
    config_path: Path,
    confirm_mainnet: bool,
    poll_secs: float = DEFAULT_POLL_SECS,
    venue: WalletVenueConfig | None = None,
) -> ChainLive:
    """The chain YAML loaded, the wallet connected (key and RPC URL from the environment) and the
    node's chain id checked against the YAML (chain 1 only with ``confirm_mainnet``): a
    :class:`ConfigError` naming what is wrong, before anything is sent."""
    live = load_chain_live(config_path, venue or load_wallet_venue())
    connection = connect()
    try:
        chain_id = connection.w3.eth.chain_id
    except (OSError, Web3Exception) as e:
        raise ConfigError(
            f"RPC: cannot read the node's chain id ({type(e).__name__}: {masked(str(e))})"
        ) from None
    try:
        check_chain(live, chain_id, confirm_mainnet)
    except ConfigError as e:
        raise ConfigError(f"{config_path}: {e}; nothing sent") from None
    return ChainLive(config_path, live, connection, poll_secs)


def whole_tokens(raw: int, decimals: int, debt: bool) -> float:
    """A raw balance in whole tokens at the books' precision, rounded down for a holding and up for
    a debt (the books never claim more than the chain holds, nor owe less than it owes)."""
    scaled, unit = raw * 10**PRECISION, 10**decimals
    return (-(-scaled // unit) if debt else scaled // unit) / 10**PRECISION  # exact integer rounding


def read_holdings(backend: Web3Backend, venue: WalletVenueConfig) -> dict[str, float]:
    """What the wallet holds on chain (:meth:`Web3Backend.holdings`) as the books hold it: whole
    tokens at the books' precision, debts negative."""
    debt_tokens = {r.debt_token for r in venue.aave.reserves if r.debt_token}
    held = {}
    for code, (raw, places) in backend.holdings().items():
        debt = code in debt_tokens
        amount = whole_tokens(raw, places, debt)
        held[code] = -amount if debt else amount
    return held


def check_holdings(
    held: dict[str, float], share_class: str, gas_reserve_eth: float, gas_min_eth: float
) -> None:
    """Refuse a wallet the mode cannot work with: no ETH to pay gas, or nothing to deploy or
    manage (no share-class currency beyond the gas money, no Aave or LST position)."""
    eth = held.get(ETH, 0.0)
    if eth < gas_min_eth:
        raise ConfigError(
            f"the wallet holds {eth:.6g} ETH: below gas_reserve_min_eth {gas_min_eth:g} (mode YAML), it "
            "cannot pay gas; send it ETH first. Nothing sent"
        )
    free = held.get(share_class, 0.0) - (gas_reserve_eth if share_class == ETH else 0.0)
    positions = {code: v for code, v in held.items() if code not in (ETH, "USDT") and v}
    if free <= 0 and not positions:
        raise ConfigError(
            f"the wallet holds nothing the mode can use: {held.get(share_class, 0.0):.6g} {share_class} "
            + (f"(gas_reserve_eth {gas_reserve_eth:g} of it kept for gas) " if share_class == ETH else "")
            + "and no Aave or LST position; fund it first. Nothing sent"
        )


def holding_differences(books: dict[str, float], chain: dict[str, float], tolerance: float) -> list[str]:
    """Where the books and the chain disagree, for every token the chain reports: by more than
    ``tolerance`` of the larger amount and :data:`ABSOLUTE_TOLERANCE` (a hand-made transfer, a
    liquidation by a third party, tokens sent to the wallet)."""
    differences = []
    for code, held in sorted(chain.items()):
        booked = books.get(code, 0.0)
        if abs(booked - held) > max(ABSOLUTE_TOLERANCE, tolerance * max(abs(booked), abs(held))):
            differences.append(f"{code}: books {booked:.8g}, chain {held:.8g}")
    return differences


def chain_aave_params(reader: ChainReader) -> dict[str, Any]:
    """The Aave reserves' and e-mode's risk parameters as the chain has them now, in the form a
    backtest reads from the catalog's ``aave_params.json``."""
    points, _ = reader.read(reader.latest_block())
    reserves = {p.reserve: asdict(p.params()) for p in points if isinstance(p, AaveReserveParams)}
    (emode,) = (p.params() for p in points if isinstance(p, AaveEModeParams))
    return {"reserves": reserves, "emode": {**asdict(emode), "assets": list(emode.assets)}}


class ChainWallet:
    """The wallet venue of a live node on chain (module docstring): built with the node, before
    it starts; the wallet's e-mode is entered here when the chain YAML's differs from the
    wallet's (the operator's set-up step, as in a paper run on the local chain)."""

    def __init__(
        self, node: TradingNode, run: RunConfig, strategy: YieldStrategy, chain: ChainLive, state_dir: Path
    ) -> None:
        kernel = node.kernel
        venue = load_wallet_venue(run.venue_config_dir)
        register_wallet_currencies(venue)
        state_dir.mkdir(parents=True, exist_ok=True)
        limits = replace(run.strategy.send_limits, gas_ledger=str(state_dir / GAS_LEDGER))

        def marks(symbol: str) -> float | None:
            return last_price(kernel.cache, wallet_instrument_id(venue, symbol))

        self.backend = Web3Backend(venue, chain.live, chain.connection, marks, limits)
        cfg = run.strategy
        check_holdings(
            read_holdings(self.backend, venue), run.share_class, cfg.gas_reserve_eth, cfg.gas_reserve_min_eth
        )
        if self.backend.pool.functions.getUserEMode(self.backend.me).call() != chain.live.emode_category:
            self.backend.set_emode()
        self.holdings = read_holdings(self.backend, venue)
        """What the books start from: the chain's holdings once the wallet is set up."""
        needs = strategy.data_needs()
        aave_params = chain_aave_params(ChainReader(chain.connection.w3, chain.live, venue))
        if needs.aave_reserves:
            strategy.check_protocol_params(EModeParams.from_dict(aave_params["emode"]))
        self.aave_params = aave_params
        self._host = host = PaperHost(node)
        self.wallet: WalletModule = add_wallet_venue(
            host,
            venue,
            {},
            balances=self.holdings,
            flow_currency=run.share_class,
            aave_params=aave_params,
            credit_rewards=False,  # live, reward tokens arrive in the wallet as tokens
            flash_provider=getattr(cfg, "flash_loan_provider", None),
            instrument_ids=needs.wallet_instruments(Venue(venue.venue)),
        )
        w3 = chain.connection.w3
        watcher = LiquidationWatcher(w3, chain.live, venue, self.backend.me, w3.eth.block_number + 1)
        self.wallet.watch_chain_liquidations(watcher.poll)  # the chain's, not the model's
        self.backend.sender.watch_halt(kernel.msgbus)
        install_defi_client(host, self.wallet.exchange, self.backend, self.wallet)
        strategy.use_venue_time(host.clock.timestamp_ns)  # the chain's time, as its data is stamped
        # the feed hands its points to the data engine itself: a client that takes the strategy's
        # subscriptions (the engine refuses them without one) and publishes nothing of its own
        subscriptions = ReplayDataClient(node)
        kernel.data_engine.register_client(subscriptions)
        kernel.data_engine.register_default_client(subscriptions)
        self._stepper = VenueStepper(node, host)
        self._loop = kernel.loop
        self._venue = Venue(venue.venue)
        self._venue_config = venue
        self._strategy = strategy
        self._cache = kernel.cache
        self.checked_ns = 0
        """The chain time of the last hourly check of the books against the chain."""
        kernel.msgbus.subscribe("data.*", self._on_data, priority=PRIORITY)

    @property
    def chain_ns(self) -> int:
        """The venue's time: the block time of the latest chain point (0 before the first)."""
        return self._host.clock.timestamp_ns()

    def _on_data(self, data: Data) -> None:
        """A chain point: the venue's clock to its time (never back), a pool bar to its market;
        once the node has handled it, the orders sent are executed and the wallet module runs."""
        payload = data.data if isinstance(data, CustomData) else data
        clock = self._host.clock
        clock.set_time(max(clock.timestamp_ns(), payload.ts_init))
        exchange = self._host.clients[self._venue].exchange
        if isinstance(payload, Bar) and exchange.get_matching_engine(payload.bar_type.instrument_id):
            exchange.process_bar(payload)  # the feed reads every pool and rate; the venue trades some
        self._loop.create_task(self._settle(check=isinstance(payload, Bar)))

    async def _settle(self, check: bool) -> None:
        await self._stepper.drain()
        await self._stepper.settle(self._host.clock.timestamp_ns())
        if check and self.checked_ns < self._host.clock.timestamp_ns():
            self.check_books()

    def check_books(self) -> None:
        """Once an hour (at its bars), with no plan in flight: the books must hold what the chain
        holds, or the strategy goes HALTED naming the differences, touching nothing (as the restart
        gate does for a CEX book); a restart then starts from the chain's holdings."""
        strategy = self._strategy
        if strategy.halted is not None or not strategy.at_rest:
            return
        self.checked_ns = self._host.clock.timestamp_ns()
        books = account_balances(self._cache, self._venue)
        differences = holding_differences(
            books, read_holdings(self.backend, self._venue_config), strategy.cfg.restart_tolerance
        )
        if differences:
            strategy.halt(
                f"the chain's holdings differ from the books: {'; '.join(differences)}", cancel=False
            )
