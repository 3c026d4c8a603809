"""Uniswap v3 on the local chain (``@uniswap/v3-core`` 1.0.1 and ``-periphery`` 1.4.4 artifacts).

Deploys the factory, SwapRouter, QuoterV2 and NonfungiblePositionManager, then one pool per pool of
the wallet venue (``configs/venues/ethereum.yaml``) whose two tokens exist locally, at the pool's
real fee tier. The data set has prices but no liquidity, so the model prices a swap on a
constant-product pool of configured ``depth`` (:mod:`adapters.defi.dex`); a Uniswap v3 position
over the full tick range *is* such a pool, so each local pool holds one, worth ``depth`` at the
oracle mark, and a swap on chain costs what the model says it costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import isqrt

from web3.contract import Contract

from adapters.defi.config import PoolSpec, load_wallet_venue
from localchain.aave import ZERO, LocalAave
from localchain.anvil import rpc
from localchain.deployer import Deployer
from localchain.tools import UNISWAP_CORE, UNISWAP_PERIPHERY

TOKEN_OF = {"ETH": "WETH", "USDT": "USDT", "WSTETH": "wstETH", "WEETH": "weETH"}
"""Wallet-venue currency → the local token standing for it (ETH trades as WETH)."""
FEE_UNITS = 1_000_000
"""Uniswap fees are in millionths."""
EXTRA_TICK_SPACING = 8
"""For a fee that is no factory tier (Curve's 0.04 % weETH pool), enabled by the factory owner."""
MAX_TICK = 887272
DEADLINE = 2**63
RICH = 10**7 * 10**18
"""The liquidity provider's ETH (anvil_setBalance): the LST pools' modelled depth is 10⁶ ETH."""


@dataclass(frozen=True)
class LocalPool:
    spec: PoolSpec
    contract: Contract
    base: Contract
    quote: Contract
    fee: int
    """In millionths, as the pool and the router take it."""


@dataclass(frozen=True)
class LocalUniswap:
    factory: Contract
    router: Contract
    quoter: Contract
    positions: Contract
    pools: dict[str, LocalPool]
    """By the wallet venue's pool symbol."""


def mark(aave: LocalAave, base: Contract, quote: Contract) -> float:
    """Quote per base at the Aave oracle's prices (for an LST pool: its exchange rate)."""
    price = aave.oracle.functions.getAssetPrice
    return price(base.address).call() / price(quote.address).call()


def sqrt_price_x96(price: float, base_decimals: int, quote_decimals: int, base_is_token0: bool) -> int:
    """Uniswap's √(token1 per token0, in raw units) · 2⁹⁶ for a price in quote per base."""
    raw = Fraction(price) * 10**quote_decimals / 10**base_decimals
    if not base_is_token0:
        raw = 1 / raw
    return isqrt(int(raw * 2**192))


def deploy_uniswap(aave: LocalAave) -> LocalUniswap:
    """Deploy Uniswap v3 and the configured pools over ``aave``'s tokens, funded by its admin."""
    w3, d, admin = aave.w3, Deployer(aave.w3), aave.admin
    factory = d.deploy_artifact(UNISWAP_CORE, "UniswapV3Factory")
    weth = aave.tokens["WETH"].address
    router = d.deploy_artifact(UNISWAP_PERIPHERY, "SwapRouter", factory.address, weth)
    quoter = d.deploy_artifact(UNISWAP_PERIPHERY, "QuoterV2", factory.address, weth)
    positions = d.deploy_artifact(
        UNISWAP_PERIPHERY,
        "NonfungiblePositionManager",
        factory.address,
        weth,
        ZERO,  # no NFT art
    )
    rpc(w3, "anvil_setBalance", admin, hex(RICH))

    pools: dict[str, LocalPool] = {}
    for spec in load_wallet_venue().pools:
        if spec.base not in TOKEN_OF or spec.quote not in TOKEN_OF:
            continue  # reward tokens (EIGEN, ETHFI) are not deployed locally
        base, quote = aave.tokens[TOKEN_OF[spec.base]], aave.tokens[TOKEN_OF[spec.quote]]
        fee = round(float(spec.fee) * FEE_UNITS)
        spacing = factory.functions.feeAmountTickSpacing(fee).call()
        if spacing == 0:
            spacing = EXTRA_TICK_SPACING
            d.send(factory.functions.enableFeeAmount(fee, spacing))
        price = mark(aave, base, quote)
        decimals = (base.functions.decimals().call(), quote.functions.decimals().call())
        base_is_token0 = int(base.address, 16) < int(quote.address, 16)
        token0, token1 = (base, quote) if base_is_token0 else (quote, base)
        d.send(
            positions.functions.createAndInitializePoolIfNecessary(
                token0.address, token1.address, fee, sqrt_price_x96(price, *decimals, base_is_token0)
            )
        )
        # Virtual reserves of the model's pool: depth/2 of quote and its worth of base.
        amounts = {
            base.address: acquire(aave, base, spec.depth / 2 / price, positions.address),
            quote.address: acquire(aave, quote, spec.depth / 2, positions.address),
        }
        edge = MAX_TICK // spacing * spacing
        d.send(
            positions.functions.mint(
                (
                    token0.address,
                    token1.address,
                    fee,
                    -edge,
                    edge,
                    amounts[token0.address],
                    amounts[token1.address],
                    0,
                    0,
                    admin,
                    DEADLINE,
                )
            )
        )
        address = factory.functions.getPool(token0.address, token1.address, fee).call()
        contract = d.at(UNISWAP_CORE, "UniswapV3Pool", address)
        pools[spec.symbol] = LocalPool(spec, contract, base, quote, fee)
    return LocalUniswap(factory, router, quoter, positions, pools)


def acquire(aave: LocalAave, token: Contract, amount: float, spender: str) -> int:
    """Give the admin ``amount`` of ``token`` as a holder gets it (mint, wrap, stake); approve ``spender``."""
    d, admin = Deployer(aave.w3), aave.admin
    raw = round(amount * 10 ** token.functions.decimals().call())
    symbol = token.functions.symbol().call()
    if symbol == "USDT":
        d.send(token.functions.mint(admin, raw))
    elif symbol == "WETH":
        d.send(token.functions.deposit(), value=raw)
    else:  # an LST: stake ETH, then wrap what was minted
        staking = aave.staking[symbol]
        eth = raw * staking.functions.ethPerShare().call() // 10**18 + 1
        stake = staking.functions.submit(admin) if symbol == "wstETH" else staking.functions.deposit()
        d.send(stake, value=eth)
        minted = staking.functions.balanceOf(admin).call()  # the admin holds no other
        d.send(staking.functions.approve(token.address, minted))
        d.send(token.functions.wrap(minted))
        raw = token.functions.balanceOf(admin).call()
    d.send(token.functions.approve(spender, raw))
    return raw
