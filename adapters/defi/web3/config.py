"""Where the wallet venue's contracts are and the limits every on-chain send respects.

A separate YAML from ``configs/venues/ethereum.yaml`` because it differs per chain (mainnet, the
local test chain) while the venue's instruments do not. The one chain YAML of both the web3
backend (sends) and the chain data feed (reads). Secrets are never in it: the RPC URL and the key
come from the environment (:mod:`adapters.defi.web3.connection`). Example::

    chain_id: 1
    aave_pool: "0x…"            # Aave v3 Pool (the oracle is found through its addresses provider)
    swap_router: "0x…"          # Uniswap v3 SwapRouter
    quoter: "0x…"               # Uniswap v3 QuoterV2
    tokens: {ETH: "0x…", USDT: "0x…", WSTETH: "0x…", WEETH: "0x…"}   # ETH trades as WETH
                                # (the LSTs' rate getters, stEthPerToken / getRate, are read on them)
    pools: {ETHUSDT-UNIV3: "0x…", WSTETHETH-UNIV3: "0x…"}   # wallet pool → Uniswap v3 pool
    staking:                    # per LST: the protocol's deposit contract, its rebasing token,
      WSTETH: {deposit: "0x…", rebasing: "0x…", queue: "0x…"}   # and its withdrawal queue
    emode_category: 1           # Aave's ETH-correlated category id
    max_gas_price_gwei: 50      # refuse to send above this fee per gas
    slippage_tolerance: 0.005   # a swap may fill this much worse than the mark (amountOutMinimum)
    min_health_factor: 1.05     # refuse a borrow / withdraw that would leave the HF below this
    executor: "0x…"             # our LoopExecutor, deployed by the wallet (atomic order lists)

``tokens`` needs every Aave reserve's underlying and every pool's base and quote; ``pools`` and
``staking`` name only pools and LSTs of the wallet venue config (:meth:`ChainLiveConfig.check`).
``pools`` are read through ``slot0``, so only Uniswap v3 pools (on mainnet the weETH pool is
Curve's, which has no reader yet; on the local chain it is a Uniswap v3 pool).

Sending on mainnet takes the operator's explicit go-ahead, as the CEX side does
(:func:`check_chain`: ``run_live.py --confirm-mainnet``).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from web3 import Web3

from adapters.config import ConfigError, load_yaml_as
from adapters.defi.config import WalletVenueConfig

MAINNET_CHAIN_ID = 1


def _check_address(where: str, address: str) -> None:
    if not Web3.is_address(address):
        raise ValueError(f"{where}: {address!r} is not an address")


class StakingContracts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An LST's protocol: ``deposit`` mints the ``rebasing`` token (stETH, eETH) that the wrapped
    LST wraps; ``queue`` takes withdrawal requests of the rebasing token."""

    deposit: str
    rebasing: str
    queue: str


class ChainLiveConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Contract addresses and send limits of one chain (see the module docstring)."""

    chain_id: int
    aave_pool: str
    swap_router: str
    quoter: str
    tokens: dict[str, str]
    """Wallet currency code → its ERC-20 (``ETH`` → WETH, which swaps and Aave take)."""
    staking: dict[str, StakingContracts]
    """LST currency code (``WSTETH``, ``WEETH``) → its protocol's contracts."""
    emode_category: int
    """Aave's on-chain id of the wallet config's e-mode category."""
    max_gas_price_gwei: float
    slippage_tolerance: float
    min_health_factor: float
    executor: str | None = None
    """The wallet's own ``LoopExecutor`` (``contracts/LoopExecutor.sol``), which runs each atomic
    order list as one transaction; None: atomic lists are refused."""
    gas_limit_margin: float = 1.2
    """The gas limit sent is the estimate times this (state can move between estimate and block)."""
    receipt_timeout_seconds: float = 180.0
    """A transaction still pending after this is stuck: it is replaced with higher fees."""
    pools: dict[str, str] = {}
    """Wallet pool symbol → its Uniswap v3 pool, whose price the chain data feed reads."""

    def __post_init__(self) -> None:
        for name in ("aave_pool", "swap_router", "quoter"):
            _check_address(name, getattr(self, name))
        for code, address in self.tokens.items():
            _check_address(f"tokens.{code}", address)
        for symbol, address in self.pools.items():
            _check_address(f"pools.{symbol}", address)
        for code, contracts in self.staking.items():
            for name in ("deposit", "rebasing", "queue"):
                _check_address(f"staking.{code}.{name}", getattr(contracts, name))
            if code not in self.tokens:
                raise ValueError(f"staking.{code}: the LST itself needs an entry in tokens")
        if self.executor is not None:
            _check_address("executor", self.executor)
        if "ETH" not in self.tokens:
            raise ValueError("tokens.ETH (the WETH contract) is required")
        if self.max_gas_price_gwei <= 0:
            raise ValueError("max_gas_price_gwei must be positive")
        if not 0 < self.slippage_tolerance < 0.1:
            raise ValueError("slippage_tolerance must be in (0, 0.1)")
        if self.min_health_factor <= 1.0:
            raise ValueError("min_health_factor must be above 1 (1 is liquidation)")
        if self.gas_limit_margin < 1.0:
            raise ValueError("gas_limit_margin must be at least 1")

    def check(self, wallet: WalletVenueConfig) -> None:
        """Every name must be one the wallet venue knows; every reserve and pool needs its tokens."""
        missing = {r.underlying for r in wallet.aave.reserves} - set(self.tokens)
        if missing:
            raise ValueError(f"tokens: no address for reserve underlying(s) {sorted(missing)}")
        unknown = set(self.staking) - {s.token for s in wallet.staking}
        unknown |= set(self.pools) - {p.symbol for p in wallet.pools}
        if unknown:
            raise ValueError(f"not in the wallet venue config: {sorted(unknown)}")
        for symbol in self.pools:
            pool = wallet.pool(symbol)
            if not {pool.base, pool.quote} <= set(self.tokens):
                raise ValueError(f"pools.{symbol}: tokens needs {pool.base} and {pool.quote}")

    @property
    def max_gas_price_wei(self) -> int:
        return round(self.max_gas_price_gwei * 10**9)


def load_chain_live(path: Path, wallet: WalletVenueConfig) -> ChainLiveConfig:
    """Load a chain's addresses-and-limits YAML, validated and checked against the wallet venue."""
    config = load_yaml_as(path, ChainLiveConfig, "chain live config")
    try:
        config.check(wallet)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from e
    return config


def check_chain(config: ChainLiveConfig, node_chain_id: int, confirm_mainnet: bool) -> None:
    """Refuse to send unless the node is the chain the config is for, and, on Ethereum mainnet
    (real money), unless the operator confirmed it. The node's own chain id decides, so a mainnet
    RPC URL behind a test chain's config is caught too."""
    if node_chain_id != config.chain_id:
        raise ConfigError(f"the node is chain {node_chain_id}; the chain config is for {config.chain_id}")
    if node_chain_id == MAINNET_CHAIN_ID and not confirm_mainnet:
        raise ConfigError(
            "chain 1 is Ethereum mainnet: on-chain sends move real money; add --confirm-mainnet to go ahead"
        )
