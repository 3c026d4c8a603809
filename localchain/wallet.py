"""A wallet on the local chain as an operator sets one up on mainnet: the chain config YAML that
names the deployed contracts (:class:`~adapters.defi.web3.config.ChainLiveConfig`), and a fresh
account funded with a run's capital in the token it is held in."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.executor import LoopExecutor
from localchain.aave import ETH_EMODE_CATEGORY, LocalAave
from localchain.anvil import rpc
from localchain.deployer import Deployer
from localchain.uniswap import TOKEN_OF, LocalUniswap

WEI = 10**18
LIMITS = {"max_gas_price_gwei": 100, "slippage_tolerance": 0.01, "min_health_factor": 1.05}
"""The chain config's safety limits on the local chain (gas cap well above its base fees)."""


def chain_config(
    aave: LocalAave, uniswap: LocalUniswap, venue: WalletVenueConfig, limits: dict[str, float] = LIMITS
) -> dict[str, object]:
    """The chain config YAML's content for the local deployment (LST stand-ins serve all three
    staking roles, and are the tokens whose rate getters the chain data feed reads)."""
    lsts = {s.token: aave.staking[s.asset].address for s in venue.staking}
    return {
        "chain_id": aave.w3.eth.chain_id,
        "aave_pool": aave.pool.address,
        "swap_router": uniswap.router.address,
        "quoter": uniswap.quoter.address,
        "tokens": {code: aave.tokens[symbol].address for code, symbol in TOKEN_OF.items()},
        "staking": {code: {"deposit": a, "rebasing": a, "queue": a} for code, a in lsts.items()},
        "emode_category": ETH_EMODE_CATEGORY,
        "pools": {symbol: pool.contract.address for symbol, pool in uniswap.pools.items()},
        **limits,
    }


def fund(aave: LocalAave, account: LocalAccount, code: str, amount: float, gas_eth: float) -> None:
    """Give ``account`` ``amount`` of the wallet currency ``code`` (USDT minted by its owner; ETH as
    native ether, which the backend wraps as an action needs it) plus ``gas_eth`` of ether to pay
    gas with."""
    native = gas_eth + (amount if code == "ETH" else 0.0)
    rpc(aave.w3, "anvil_setBalance", account.address, hex(round(native * WEI)))
    if code == "ETH":
        return
    token = aave.tokens[TOKEN_OF[code]]
    if code != "USDT":
        raise ValueError(f"funding a local wallet in {code} is not supported (USDT or ETH)")
    raw = round(amount * 10 ** token.functions.decimals().call())
    Deployer(aave.w3).send(token.functions.mint(account.address, raw))


def deploy_executor(aave: LocalAave, uniswap: LocalUniswap, owner: str) -> LoopExecutor:
    """A LoopExecutor over the local Aave Pool, WETH and router, owned by ``owner`` (who must be
    able to send from the node: unlocked or impersonated)."""
    return LoopExecutor.deploy(
        aave.w3,
        owner,
        aave.pool.address,
        aave.tokens["WETH"].address,
        aave.debt_tokens["WETH"].address,
        uniswap.router.address,
    )


def deploy_own_executor(aave: LocalAave, uniswap: LocalUniswap, account: LocalAccount) -> LoopExecutor:
    """``account``'s own executor, deployed through anvil's impersonation (the key stays unused
    outside the wallet's connection); the account pays its gas."""
    rpc(aave.w3, "anvil_impersonateAccount", account.address)
    try:
        return deploy_executor(aave, uniswap, account.address)
    finally:
        rpc(aave.w3, "anvil_stopImpersonatingAccount", account.address)
