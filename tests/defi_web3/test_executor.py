"""The order-list executor on the real Aave v3 and Uniswap v3 contracts: the leveraged-staking loop
opens, deleverages and unwinds in one transaction each, and refuses what it must.

Expected balances are computed here from the loop's arithmetic, the LST rate the chain reports,
the model's flash-loan fee (``configs/venues/ethereum.yaml``) and the model's pool
(:mod:`adapters.defi.dex`), never copied from a chain run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from web3.exceptions import ContractLogicError

from adapters.defi import dex
from adapters.defi.aave_params import EModeParams, load_emode
from adapters.defi.config import load_wallet_venue
from adapters.defi.web3.executor import (
    WAD,
    ExecutorCall,
    ExecutorResult,
    LoopExecutor,
    LoopExecutorReverted,
    Route,
    to_wad,
)
from data_catalog import raw_files
from localchain.aave import ETH_EMODE_CATEGORY, LocalAave
from localchain.uniswap import LocalUniswap, mark
from localchain.wallet import deploy_executor
from tests.localchain.helpers import account, rate, send, supply

WALLET = load_wallet_venue()
FEE = WALLET.flash_loans.fees["AAVE"]
GAS_UNITS = WALLET.gas_units
"""The model's gas per operation (recorded mainnet figures): a ceiling the local contracts stay under."""
POOLS = {"wstETH": "WSTETHETH-UNIV3", "weETH": "WEETHETH-CURVE"}
OWN_ETH = 10.0
TARGET_LTV = 0.9
FLASH = OWN_ETH * TARGET_LTV / (1 - TARGET_LTV)
"""The strategy's loop: equity E at LTV λ borrows D = E·λ/(1−λ), flash-loaned until the borrow."""
LIQUIDITY = 5_000.0
"""WETH a lender supplies to Aave, for the flash loans and the borrows."""
REVERT_GAS = 2_000_000


@dataclass
class Setup:
    aave: LocalAave
    uniswap: LocalUniswap
    executor: LoopExecutor
    owner: str
    lst: str
    gas_paid: int = 0
    """Wei the owner paid in gas for the grants and the executor calls ``run`` sent."""

    def eth(self) -> int:
        """The owner's ETH in wei (exact, as gas is)."""
        return self.aave.w3.eth.get_balance(self.owner)

    def position(self) -> tuple[float, float]:
        """The owner's (supplied LST, WETH debt) in token units."""
        supplied = self.aave.a_tokens[self.lst].functions.balanceOf(self.owner).call()
        debt = self.aave.debt_tokens["WETH"].functions.balanceOf(self.owner).call()
        return supplied / WAD, debt / WAD

    def run(self, call: ExecutorCall, gas: int | None = None) -> ExecutorResult:
        """Grant what the call needs, then send it; the result of the executor's transaction."""
        for grant in call.grants:
            self.gas_paid += send(self.aave, grant, self.owner)
        result = self.executor.send(call, gas)
        assert result is not None
        self.gas_paid += result.gas_cost
        return result

    def open(self, min_hf: float = 1.0) -> ExecutorResult:
        return self.run(self.executor.open_loop(self.aave.tokens[self.lst].address, FLASH, OWN_ETH, min_hf))


@pytest.fixture(params=["wstETH", "weETH"])
def setup(request: pytest.FixtureRequest, aave: LocalAave, uniswap: LocalUniswap, users: list[str]) -> Setup:
    """An owner in e-mode with its executor (routes for both LSTs) over a market with WETH to lend."""
    owner, lender = users[0], users[1]
    supply(aave, lender, "WETH", LIQUIDITY)
    send(aave, aave.pool.functions.setUserEMode(ETH_EMODE_CATEGORY), owner)
    executor = deploy_executor(aave, uniswap, owner)
    for symbol, pool in POOLS.items():
        route = Route(
            aave.tokens[symbol].address,
            aave.staking[symbol].address,
            aave.staking[symbol].address,  # the stand-ins stake and rebase in one contract
            symbol == "wstETH",
            uniswap.pools[pool].fee,
            aave.a_tokens[symbol].address,
        )
        executor.send(executor.set_route(route))
    return Setup(aave, uniswap, executor, owner, request.param)


@pytest.fixture(scope="module")
def emode(data_dir: Path) -> EModeParams:
    """The ETH-correlated e-mode's real LTV and liquidation threshold (93 % / 95 %)."""
    return load_emode(data_dir / raw_files.AAVE_RISK_FILE)


def health_factor(s: Setup) -> float:
    return account(s.aave, s.owner)["health_factor"] / WAD


def sale(s: Setup, lst_amount: float) -> float:
    """ETH the model's pool pays for ``lst_amount`` at the oracle mark, fee included."""
    spec = s.uniswap.pools[POOLS[s.lst]].spec
    price = mark(s.aave, s.aave.tokens[s.lst], s.aave.tokens["WETH"])
    return dex.sell_base(lst_amount, price, spec.depth, float(spec.fee)).amount_out


def test_the_loop_opens_to_the_target_leverage_in_one_transaction(setup: Setup, emode: EModeParams) -> None:
    s = setup
    eth_before = s.eth()
    result = s.open()
    supplied, debt = s.position()

    lst_rate = rate(s.aave, s.lst)
    assert supplied == pytest.approx((OWN_ETH + FLASH) / lst_rate, rel=1e-12)
    assert debt == pytest.approx(FLASH * (1 + FEE), rel=1e-12)
    assert result.amounts["premium"] == pytest.approx(FLASH * FEE, rel=1e-12)
    assert eth_before - s.eth() == to_wad(OWN_ETH) + s.gas_paid
    ltv = debt / (supplied * lst_rate)
    assert ltv == pytest.approx(TARGET_LTV * (1 + FEE), rel=1e-9)
    assert health_factor(s) == pytest.approx(emode.liquidation_threshold / ltv, rel=1e-6)
    for token in (s.aave.tokens["WETH"], s.aave.tokens[s.lst]):  # nothing stays in the executor
        assert token.functions.balanceOf(s.executor.contract.address).call() == 0
    assert result.gas_used < GAS_UNITS["atomic_leverage"]


def test_the_owner_may_pay_in_weth(setup: Setup) -> None:
    """Half the equity as WETH (pulled with an allowance of exactly that), half as ETH sent along."""
    s = setup
    weth = s.aave.tokens["WETH"]
    send(s.aave, weth.functions.deposit(), s.owner, value=to_wad(OWN_ETH / 2))
    call = s.executor.open_loop(s.aave.tokens[s.lst].address, FLASH, OWN_ETH / 2, 1.0, own_weth=OWN_ETH / 2)
    result = s.run(call)
    assert result.raw["ownEth"] == to_wad(OWN_ETH)
    assert s.position()[0] == pytest.approx((OWN_ETH + FLASH) / rate(s.aave, s.lst), rel=1e-12)
    assert weth.functions.balanceOf(s.owner).call() == 0
    assert weth.functions.allowance(s.owner, s.executor.contract.address).call() == 0


def test_deleverage_repays_debt_with_the_sold_collateral(setup: Setup) -> None:
    s = setup
    s.open()
    supplied_before, debt_before = s.position()
    eth_before, gas_before = s.eth(), s.gas_paid
    repay = 20.0
    withdraw = repay * (1 + FEE) / sale(s, 1.0) * 1.003  # the strategy's exit buffer
    proceeds = sale(s, withdraw)
    call = s.executor.deleverage(s.aave.tokens[s.lst].address, repay, withdraw, proceeds * 0.999, 1.0)
    result = s.run(call)
    supplied, debt = s.position()

    assert debt == pytest.approx(debt_before - repay, rel=1e-7)  # plus seconds of interest
    assert supplied == pytest.approx(supplied_before - withdraw, rel=1e-12)
    assert result.amounts["proceeds"] == pytest.approx(proceeds, rel=1e-9)
    returned = proceeds - repay * (1 + FEE)
    assert result.amounts["returned"] == pytest.approx(returned, rel=1e-9)
    assert s.eth() - eth_before == result.raw["returned"] - (s.gas_paid - gas_before)
    assert debt / (supplied * rate(s.aave, s.lst)) < TARGET_LTV
    assert result.gas_used < GAS_UNITS["atomic_deleverage"]


def test_unwind_repays_everything_and_returns_the_equity(setup: Setup) -> None:
    s = setup
    eth_start = s.eth()
    s.open()
    supplied, debt = s.position()
    result = s.run(s.executor.unwind(s.aave.tokens[s.lst].address, min_eth_out=0.0))

    assert s.position() == (0.0, 0.0)
    repaid = result.amounts["repaid"]  # the debt at the unwind's block
    assert repaid == pytest.approx(debt, rel=1e-7)  # plus seconds of interest
    returned = sale(s, supplied) - repaid * (1 + FEE)  # the LST sold, less the debt and its premium
    assert result.amounts["returned"] == pytest.approx(returned, rel=1e-12)
    assert s.eth() - eth_start == result.raw["returned"] - to_wad(OWN_ETH) - s.gas_paid
    assert returned < OWN_ETH - 2 * FLASH * FEE  # two premiums, the pool's fee and impact


def test_the_slippage_bound_refuses_a_sale_below_it(setup: Setup) -> None:
    s = setup
    s.open()
    withdraw = 10.0
    bound = sale(s, withdraw) * 1.0001  # just above what the pool pays
    call = s.executor.deleverage(s.aave.tokens[s.lst].address, 20.0, withdraw, bound, 1.0)
    for grant in call.grants:
        send(s.aave, grant, s.owner)
    before = s.position()  # at the last block: the refused call mines none
    with pytest.raises(ContractLogicError, match="Too little received"):  # Uniswap's SwapRouter
        s.executor.send(call)
    assert s.position() == before


def test_a_repayment_beyond_the_debt_is_refused(setup: Setup) -> None:
    """As the simulated backend's AAVE_REPAY rejection: Aave would take only the debt."""
    s = setup
    s.open()
    supplied, debt = s.position()
    call = s.executor.deleverage(s.aave.tokens[s.lst].address, debt * 1.01, supplied, 0.0, 1.0)
    for grant in call.grants:
        send(s.aave, grant, s.owner)
    before = s.position()  # at the last block: the refused call mines none
    with pytest.raises(ContractLogicError, match="repay exceeds debt"):
        s.executor.send(call)
    assert s.position() == before


def test_an_oversized_loop_reverts_whole_and_pays_its_gas(setup: Setup, emode: EModeParams) -> None:
    """Borrowing past the e-mode LTV (93 %): Aave refuses the borrow, so nothing of the loop happens."""
    s = setup
    ltv = emode.ltv + 0.03
    oversized = OWN_ETH * ltv / (1 - ltv)
    call = s.executor.open_loop(s.aave.tokens[s.lst].address, oversized, OWN_ETH, 1.0)
    with pytest.raises(ContractLogicError, match="36"):  # Aave's COLLATERAL_CANNOT_COVER_NEW_BORROW
        call.call.call({"from": s.owner, "value": call.value})
    for grant in call.grants:
        send(s.aave, grant, s.owner)
    eth_before = s.eth()
    with pytest.raises(LoopExecutorReverted) as reverted:
        s.executor.send(call, gas=REVERT_GAS)  # sent anyway: mined, reverted
    assert s.position() == (0.0, 0.0)
    assert eth_before - s.eth() == reverted.value.gas_cost  # the ETH sent came back, the gas did not
    assert 0 < reverted.value.gas_used < REVERT_GAS


def test_the_health_factor_floor_refuses_a_loop_that_ends_below_it(setup: Setup, emode: EModeParams) -> None:
    s = setup
    expected_hf = emode.liquidation_threshold / (TARGET_LTV * (1 + FEE))
    call = s.executor.open_loop(s.aave.tokens[s.lst].address, FLASH, OWN_ETH, expected_hf * 1.001)
    for grant in call.grants:
        send(s.aave, grant, s.owner)
    with pytest.raises(ContractLogicError, match="health factor below the floor"):
        s.executor.send(call)
    assert s.position() == (0.0, 0.0)
    s.open(min_hf=expected_hf * 0.999)  # the same loop opens under a floor just below its HF
    assert health_factor(s) == pytest.approx(expected_hf, rel=1e-6)


def test_only_the_owner_can_call_it(setup: Setup, users: list[str]) -> None:
    s = setup
    stranger = users[2]
    call = s.executor.open_loop(s.aave.tokens[s.lst].address, FLASH, OWN_ETH, 1.0)
    with pytest.raises(ContractLogicError, match="only owner"):
        call.call.transact({"from": stranger, "value": call.value})
    with pytest.raises(ContractLogicError, match="only owner"):
        s.executor.contract.functions.unwind(s.aave.tokens[s.lst].address, 0).transact({"from": stranger})
    # nor can anyone but the Pool, for the executor's own flash loan, run its callback
    callback = s.executor.contract.functions.executeOperation(
        s.aave.tokens["WETH"].address, 1, 0, s.executor.contract.address, b""
    )
    with pytest.raises(ContractLogicError, match="not our flash loan"):
        callback.transact({"from": stranger})
