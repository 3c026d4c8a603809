"""Steer the local chain's market to recorded history: its clock, Aave's oracle prices, the LSTs'
protocol rates, the Uniswap pools' prices and the next block's base fee.

A replay on the local chain (paper mode on the web3 backend) moves the chain to each recorded hour
before the strategy acts on it, so a transaction meets the prices the simulation would price it at.
The chain's own dynamics stay the contracts': Aave accrues interest from its rate curves over the
time that passed, a swap moves a pool along its real liquidity.

A reserve's utilization is set by a borrower (anvil's last account, WETH as its collateral)
borrowing or repaying until the reserve's variable debt is the recorded share of its supply: the
local pool then pays its suppliers its own curve's rate at the recorded utilization. (The WETH
reserve is not steered: its own collateral would cap the borrower below utilizations above its LTV.)

A pool is moved to a price by arbitrage, as on mainnet: the admin (anvil's rich unlocked account,
holding a stock of every token) swaps through the router with the target as the price limit, so
the pool stops exactly there and the admin pays only what the move takes.
"""

from __future__ import annotations

from web3.contract import Contract

from localchain.aave import ORACLE_DECIMALS, LocalAave
from localchain.anvil import rpc
from localchain.deployer import Deployer
from localchain.uniswap import DEADLINE, LocalPool, LocalUniswap, acquire, sqrt_price_x96

WEI = 10**18
GWEI = 10**9
STEER_GAS = 1_000_000
"""Gas limit of a steering transaction (a swap within the full-range position takes ~150k)."""
STEER_MAX_FEE_GWEI = 10_000
"""Above any base fee a replay sets: the admin's steering transactions always get in."""
VARIABLE_RATE = 2
BORROWER_COLLATERAL_WETH = 5_000
"""WETH the market's borrower supplies as collateral (≈20M USD: borrows of several M USDT)."""
COLLATERAL = "WETH"
STOCK_DEPTHS = 1
"""The arbitrageur's stock of each pool token, in pool depths: a full-range pool moves by a factor
k for depth/2 × (√k − 1) of its quote, so this covers k up to 9 (a replayed hour moves far less;
the first move, from the deployment's last recorded day to the replay's, a few %)."""


class ChainMarket:
    """The recorded market's levers on a deployed local chain (see the module docstring)."""

    def __init__(self, aave: LocalAave, uniswap: LocalUniswap) -> None:
        self.aave = aave
        self.uniswap = uniswap
        self.w3 = aave.w3
        self._d = Deployer(aave.w3)
        self._stocked: set[str] = set()
        """Pools the arbitrageur holds a stock of tokens for."""
        self._router_allowed: set[str] = set()
        self._decimals = {
            t.address: t.functions.decimals().call()
            for p in uniswap.pools.values()
            for t in (p.base, p.quote)
        }
        self._params = {
            "gas": STEER_GAS,
            "chainId": self.w3.eth.chain_id,
            "maxFeePerGas": STEER_MAX_FEE_GWEI * GWEI,
            "maxPriorityFeePerGas": 0,
        }
        """Fixed fields of the steering transactions: web3 would ask the node for each, each time."""
        self._set: dict[tuple[str, str], int] = {}
        self._borrowing = False
        """The last value each setter sent: an unchanged value costs no transaction."""

    def now(self) -> int:
        """The latest block's timestamp (seconds)."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance_to(self, timestamp: int) -> None:
        """Move the chain clock forward to ``timestamp`` (seconds) and mine a block there; a chain
        already past it (anvil's blocks also follow the wall clock) only mines. The block's time is
        set, not an offset added: the wall clock may tick between reading the chain's time and
        mining."""
        if timestamp > self.now():
            rpc(self.w3, "evm_setNextBlockTimestamp", timestamp)
        rpc(self.w3, "evm_mine")

    def set_base_fee(self, gwei: float) -> None:
        """The next block's base fee (the sender prices its transaction from it)."""
        rpc(self.w3, "anvil_setNextBlockBaseFeePerGas", hex(round(gwei * GWEI)))

    def set_price(self, symbol: str, usd: float) -> None:
        """An Aave reserve's oracle price (the LSTs' follow WETH's times their rate)."""
        aggregator = self.aave.aggregators[symbol]
        self._send_changed(aggregator, "setLatestAnswer", round(usd * 10**ORACLE_DECIMALS))

    def set_lst_rate(self, asset: str, eth_per_token: float) -> None:
        """An LST's protocol rate: ETH per wrapped token (wstETH ``stEthPerToken``, weETH ``getRate``)."""
        self._send_changed(self.aave.staking[asset], "setEthPerShare", round(eth_per_token * WEI))

    def _send_changed(self, contract: Contract, setter: str, value: int) -> None:
        if self._set.get((contract.address, setter)) != value:
            self._d.send(getattr(contract.functions, setter)(value), params=self._params)
            self._set[(contract.address, setter)] = value

    def set_utilization(self, symbol: str, utilization: float) -> None:
        """Move the reserve's variable debt to ``utilization`` × its supply (the borrower's debt
        moves; a debt of others above the target stays)."""
        supplied = self.aave.a_tokens[symbol].functions.totalSupply().call()
        debt_token = self.aave.debt_tokens[symbol]
        delta = round(utilization * supplied) - debt_token.functions.totalSupply().call()
        if supplied == 0 or delta == 0:
            return
        asset, borrower = self.aave.tokens[symbol], self._borrower()
        params = {**self._params, "from": borrower}
        if delta > 0:
            call = self.aave.pool.functions.borrow(asset.address, delta, VARIABLE_RATE, 0, borrower)
            self._d.send(call, params=params)
            return
        owed = debt_token.functions.balanceOf(borrower).call()
        repay = min(-delta, owed)
        if repay == 0:
            return
        if (short := repay - asset.functions.balanceOf(borrower).call()) > 0:  # interest: USDT's owner mints
            self._d.send(asset.functions.mint(borrower, short))
        self._d.send(
            self.aave.pool.functions.repay(asset.address, repay, VARIABLE_RATE, borrower), params=params
        )

    def open_lending(self) -> None:
        """The market's borrower supplies its WETH collateral: also the WETH reserve's liquidity,
        which a fresh pool lacks (a loop borrows WETH, a flash loan takes it)."""
        self._borrower()

    def _borrower(self) -> str:
        """The market's borrower, its WETH collateral supplied and the pool approved, once."""
        borrower = self.w3.eth.accounts[-1]
        if self._borrowing:
            return borrower
        params = {**self._params, "from": borrower}
        weth, raw = self.aave.tokens[COLLATERAL], BORROWER_COLLATERAL_WETH * WEI
        self._d.send(weth.functions.deposit(), value=raw, params=params)
        for token in self.aave.tokens.values():
            self._d.send(token.functions.approve(self.aave.pool.address, 2**256 - 1), params=params)
        self._d.send(self.aave.pool.functions.supply(weth.address, raw, borrower, 0), params=params)
        self._borrowing = True
        return borrower

    def pool_price(self, pool: LocalPool) -> float:
        """The pool's price in quote per base (from ``slot0``)."""
        raw = (pool.contract.functions.slot0().call()[0] / 2**96) ** 2
        if not _base_is_token0(pool):
            raw = 1 / raw
        return raw * 10 ** self._decimals[pool.base.address] / 10 ** self._decimals[pool.quote.address]

    def move_pool(self, symbol: str, price: float) -> None:
        """Arbitrage the pool to ``price`` (quote per base): swap towards it, the target as limit."""
        pool = self.uniswap.pools[symbol]
        self._stock(pool)
        base_is_token0 = _base_is_token0(pool)
        decimals = self._decimals[pool.base.address], self._decimals[pool.quote.address]
        target = sqrt_price_x96(price, *decimals, base_is_token0)
        current = pool.contract.functions.slot0().call()[0]
        if target == current:
            return
        token0, token1 = (pool.base, pool.quote) if base_is_token0 else (pool.quote, pool.base)
        token_in, token_out = (token0, token1) if target < current else (token1, token0)
        # at most the stock: the pool stops at the limit and the router takes only what it used
        amount_in = token_in.functions.balanceOf(self.aave.admin).call()
        params = (
            token_in.address,
            token_out.address,
            pool.fee,
            self.aave.admin,
            DEADLINE,
            amount_in,
            0,
            target,
        )
        self._d.send(self.uniswap.router.functions.exactInputSingle(params), params=self._params)
        if pool.contract.functions.slot0().call()[0] != target:
            raise RuntimeError(f"{symbol}: the arbitrageur's stock ran out before the price {price}")

    def _stock(self, pool: LocalPool) -> None:
        """Give the arbitrageur ``STOCK_DEPTHS`` depths of each token of the pool, once per pool
        (a token of several pools gets each one's), the router allowed to take any of it."""
        if pool.contract.address in self._stocked:
            return
        depth = float(pool.spec.depth) * STOCK_DEPTHS
        for token, amount in ((pool.base, depth / self.pool_price(pool)), (pool.quote, depth)):
            acquire(self.aave, token, amount, self.aave.admin)  # (approving itself: harmless)
            if token.address not in self._router_allowed:  # USDT: one approval from 0
                self._d.send(token.functions.approve(self.uniswap.router.address, 2**256 - 1))
                self._router_allowed.add(token.address)
        self._stocked.add(pool.contract.address)


def _base_is_token0(pool: LocalPool) -> bool:
    return int(pool.base.address, 16) < int(pool.quote.address, 16)
