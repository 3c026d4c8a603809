"""Paper mode on the web3 backend: the wallet venue's orders become transactions on a local chain
(anvil with the real Aave v3 and Uniswap v3, :mod:`localchain`) that the replay keeps at the
recorded market.

:class:`LocalChain` sets up the wallet as an operator would on mainnet: a fresh account funded
with the run's capital, the chain config YAML naming the deployed contracts, the key and RPC URL
in the environment (where :func:`~adapters.defi.web3.connection.connect` reads them; never
printed). :meth:`LocalChain.attach` swaps the wallet venue's simulated backend for a
:class:`~adapters.defi.web3.backend.Web3Backend` and has the replay step the chain before every
data point (:class:`ChainStepper`): the clock to the point's hour (``evm_setNextBlockTimestamp``), then
the recorded ETH price (Aave's oracle and the ETH/USDT pool), the LSTs' protocol rates, the LST
pools' prices, the gas price and the Aave reserves' utilization (daily snapshots).

The node's books stay the simulation's: fills are the chain's (amounts actually received, gas
actually paid), Aave liquidations are the chain's (a third account's ``liquidationCall`` read back
by :class:`~adapters.defi.web3.liquidations.LiquidationWatcher` and booked by the wallet module in
place of its model's), and between orders the wallet module accrues Aave interest and EtherFi rewards
from the replayed catalog (``AaveReserveSnapshot``'s indices). The chain's Aave accrues from its
own rate curves (through the last recorded day's rate, with an assumed base) at the recorded
utilization the stepper sets, which is not the recorded rate on other days, so reading the
chain's indices (the ChainDataFeed) would book the local curve's interest; the replayed indices
book the recorded one, and the chain's aToken balances measure the difference
(:meth:`LocalChain.balances`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from eth_account import Account
from nautilus_trader.core.data import Data
from nautilus_trader.model.data import Bar, CustomData

from adapters.cex.margin import last_price
from adapters.defi.config import WalletVenueConfig
from adapters.defi.data import AaveReserveSnapshot, GasPrice
from adapters.defi.execution import install_defi_client
from adapters.defi.instruments import wallet_instrument_id
from adapters.defi.wallet import WalletModule
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.config import load_chain_live
from adapters.defi.web3.connection import KEY, RPC_URL, connect
from adapters.defi.web3.limits import SendLimits
from adapters.defi.web3.liquidations import LiquidationWatcher
from adapters.execution import VenueHost
from live.paper import Replay
from localchain.aave import LocalAave, deploy_aave
from localchain.anvil import Anvil
from localchain.market import COLLATERAL, ChainMarket
from localchain.uniswap import LocalUniswap, deploy_uniswap
from localchain.wallet import LIMITS as LOCAL_LIMITS
from localchain.wallet import chain_config, deploy_own_executor, fund

GAS_FLOAT_ETH = 1.0
"""Ether the local wallet holds besides the run's capital, to pay gas before the strategy has
bought its own gas reserve (the node books the gas the receipts charged, from its ETH)."""
ETH_PRICE_RESERVE = "WETH"
LIMITS = LOCAL_LIMITS | {"min_health_factor": 1.01}
"""The chain YAML's limits: the health-factor floor under the modes' own deleverage threshold
(eth_leveraged: 1.02; its target is HF ≈ 1.045), so the floor stops only what no mode intends."""


class ChainStepper:
    """Moves the local chain to each replayed data point before the node sees it (module docstring)."""

    def __init__(self, market: ChainMarket, venue: WalletVenueConfig) -> None:
        self.market = market
        self._venue = venue.venue
        self._eth_usd = venue.eth_usd_pool
        self._rates = {s.mint_symbol: s.asset for s in venue.staking}
        self._steered_reserves = {r.asset for r in venue.aave.reserves if r.debt_token} - {COLLATERAL}
        """Borrowable reserves whose utilization the chain follows (see ``localchain.market``)."""
        self._origin: tuple[int, int] | None = None
        """(first data point's ns, the chain's time then in seconds): chain time runs with data time."""
        self._last_ns = 0
        self._gas_gwei: float | None = None

    def before(self, data: Data) -> None:
        ts = data.ts_init
        if self._origin is None:
            self._origin = (ts, self.market.now())
        if ts > self._last_ns:
            self._last_ns = ts
            first_ns, first_s = self._origin
            self.market.advance_to(first_s + (ts - first_ns) // 10**9)
        payload = data.data if isinstance(data, CustomData) else data
        if isinstance(payload, GasPrice):
            self._gas_gwei = payload.gwei
        elif isinstance(payload, AaveReserveSnapshot) and payload.reserve in self._steered_reserves:
            self.market.set_utilization(payload.reserve, payload.total_variable_debt / payload.total_a_token)
        elif isinstance(payload, Bar) and payload.bar_type.instrument_id.venue.value == self._venue:
            self._on_price(payload.bar_type.instrument_id.symbol.value, payload.close.as_double())
        if self._gas_gwei is not None:  # the next block is the strategy's, if it acts on this point
            self.market.set_base_fee(self._gas_gwei)

    def _on_price(self, symbol: str, price: float) -> None:
        if symbol == self._eth_usd:
            self.market.set_price(ETH_PRICE_RESERVE, price)
        if symbol in self._rates:
            self.market.set_lst_rate(self._rates[symbol], price)
        if symbol in self.market.uniswap.pools:
            self.market.move_pool(symbol, price)


class LocalChain:
    """A funded wallet on a deployed local chain, and what a paper node needs to trade on it."""

    def __init__(
        self, aave: LocalAave, uniswap: LocalUniswap, venue: WalletVenueConfig, config_path: Path
    ) -> None:
        self.aave = aave
        self.uniswap = uniswap
        self.venue = venue
        self.config_path = config_path
        self.account = Account.create()
        self.backend: Web3Backend | None = None
        self.market = ChainMarket(aave, uniswap)
        self.third_parties: list[Callable[[int], None]] = []
        """Other accounts acting on the chain, called with the data time after each replayed point
        (the chain then moves on to the next): a test's liquidator."""

    def fund(self, code: str, amount: float) -> None:
        """The run's capital (``code``: the share class) plus :data:`GAS_FLOAT_ETH`; the wallet's
        own executor (atomic order lists) and the chain YAML naming it; the Aave market's lenders."""
        fund(self.aave, self.account, code, amount, GAS_FLOAT_ETH)
        executor = deploy_own_executor(self.aave, self.uniswap, self.account)
        config = chain_config(self.aave, self.uniswap, self.venue, LIMITS)
        config["executor"] = executor.contract.address
        self.config_path.write_text(yaml.safe_dump(config))
        self.market.open_lending()

    @contextmanager
    def environment(self) -> Iterator[None]:
        """The wallet's RPC URL and key in the environment, as the backend reads them; restored after."""
        values = {RPC_URL: self.aave.w3.provider.endpoint_uri, KEY: self.account.key.hex()}
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def attach(
        self, host: VenueHost, wallet: WalletModule, replay: Replay, limits: SendLimits
    ) -> Web3Backend:
        """The wallet venue's orders go to a :class:`Web3Backend` on this chain, marked at the
        cache's prices, within the mode's send ``limits`` and stopped by the kill switch; the
        wallet books the chain's Aave liquidations of the account from now on; the replay steps
        the chain before each point and lets :attr:`third_parties` act after it."""
        cache = wallet.exchange.cache

        def marks(symbol: str) -> float | None:
            return last_price(cache, wallet_instrument_id(self.venue, symbol))

        live = load_chain_live(self.config_path, self.venue)
        self.backend = Web3Backend(self.venue, live, connect(), marks, limits)
        w3 = self.aave.w3
        watcher = LiquidationWatcher(w3, live, self.venue, self.account.address, w3.eth.block_number + 1)
        wallet.watch_chain_liquidations(watcher.poll)
        self.backend.sender.watch_halt(host.msgbus)
        # the model prices an Aave position in the configured e-mode: the operator enters it once,
        # as it deploys the executor, paid from the gas float (neither is a strategy's order)
        self.backend.set_emode()
        install_defi_client(host, wallet.exchange, self.backend, wallet)
        replay.preparers.append(ChainStepper(self.market, self.venue).before)
        replay.observers.append(self._third_parties_act)
        return self.backend

    def _third_parties_act(self, ts: int) -> None:
        for act in self.third_parties:
            act(ts)

    def balances(self) -> dict[str, float]:
        """The wallet's token balances on chain, in the wallet venue's currencies (ETH: WETH plus
        native ether, which includes the gas float)."""
        assert self.backend is not None, "attach first"
        return {code: raw / 10**places for code, (raw, places) in self.backend.holdings().items()}


@contextmanager
def local_chain(venue: WalletVenueConfig, data_dir: Path | None = None) -> Iterator[LocalChain]:
    """anvil started, Aave v3 and Uniswap v3 deployed from the recorded parameters (``data_dir``:
    the raw history, as the catalog finds it), a fresh wallet; anvil stopped after."""
    with Anvil() as w3, tempfile.TemporaryDirectory(prefix="basis-chain-") as folder:
        aave = deploy_aave(w3, data_dir)
        yield LocalChain(aave, deploy_uniswap(aave), venue, Path(folder) / "chain.yaml")
