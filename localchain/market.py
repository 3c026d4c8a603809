"""Steer the local chain's market to recorded history: its clock, Aave's oracle prices, the LSTs'
protocol rates, the Uniswap pools' prices and the next block's base fee.

A replay on the local chain (paper mode on the web3 backend) moves the chain to each recorded hour
before the strategy acts on it, so a transaction meets the prices the simulation would price it at.
The chain's own dynamics stay the contracts': Aave accrues interest from its rate curves over the
time that passed, a swap moves a pool along its real liquidity.

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
STOCK_DEPTHS = 1
"""The arbitrageur's stock of each pool token, in pool depths: enough to move a full-range pool's
price by a factor of several (the recorded prices of a replayed hour move by far less)."""


class ChainMarket:
    """The recorded market's levers on a deployed local chain (see the module docstring)."""

    def __init__(self, aave: LocalAave, uniswap: LocalUniswap) -> None:
        self.aave = aave
        self.uniswap = uniswap
        self.w3 = aave.w3
        self._d = Deployer(aave.w3)
        self._stocked: set[str] = set()

    def now(self) -> int:
        """The latest block's timestamp (seconds)."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance_to(self, timestamp: int) -> None:
        """Move the chain clock forward to ``timestamp`` (seconds) and mine a block there; a chain
        already past it (anvil's blocks also follow the wall clock) only mines."""
        if (ahead := timestamp - self.now()) > 0:
            rpc(self.w3, "evm_increaseTime", ahead)
        rpc(self.w3, "evm_mine")

    def set_base_fee(self, gwei: float) -> None:
        """The next block's base fee (the sender prices its transaction from it)."""
        rpc(self.w3, "anvil_setNextBlockBaseFeePerGas", hex(round(gwei * GWEI)))

    def set_price(self, symbol: str, usd: float) -> None:
        """An Aave reserve's oracle price (the LSTs' follow WETH's times their rate)."""
        self._d.send(
            self.aave.aggregators[symbol].functions.setLatestAnswer(round(usd * 10**ORACLE_DECIMALS))
        )

    def set_lst_rate(self, asset: str, eth_per_token: float) -> None:
        """An LST's protocol rate: ETH per wrapped token (wstETH ``stEthPerToken``, weETH ``getRate``)."""
        self._d.send(self.aave.staking[asset].functions.setEthPerShare(round(eth_per_token * WEI)))

    def pool_price(self, pool: LocalPool) -> float:
        """The pool's price in quote per base (from ``slot0``)."""
        sqrt_price = pool.contract.functions.slot0().call()[0]
        raw = (sqrt_price / 2**96) ** 2
        if not self._base_is_token0(pool):
            raw = 1 / raw
        return raw * 10 ** self._decimals(pool.base) / 10 ** self._decimals(pool.quote)

    def move_pool(self, symbol: str, price: float) -> None:
        """Arbitrage the pool to ``price`` (quote per base): swap towards it, the target as limit."""
        pool = self.uniswap.pools[symbol]
        self._stock(pool)
        base_is_token0 = self._base_is_token0(pool)
        target = sqrt_price_x96(price, self._decimals(pool.base), self._decimals(pool.quote), base_is_token0)
        current = pool.contract.functions.slot0().call()[0]
        if target == current:
            return
        token0, token1 = (pool.base, pool.quote) if base_is_token0 else (pool.quote, pool.base)
        token_in, token_out = (token0, token1) if target < current else (token1, token0)
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
        self._d.send(self.uniswap.router.functions.exactInputSingle(params))

    def _stock(self, pool: LocalPool) -> None:
        """Give the arbitrageur ``STOCK_DEPTHS`` depths of each token of the pool, once per token."""
        price = self.pool_price(pool)
        depth = float(pool.spec.depth) * STOCK_DEPTHS
        for token, amount in ((pool.base, depth / price), (pool.quote, depth)):
            if token.address not in self._stocked:
                acquire(self.aave, token, amount, self.uniswap.router.address)
                self._stocked.add(token.address)

    @staticmethod
    def _base_is_token0(pool: LocalPool) -> bool:
        return int(pool.base.address, 16) < int(pool.quote.address, 16)

    @staticmethod
    def _decimals(token: Contract) -> int:
        return token.functions.decimals().call()
