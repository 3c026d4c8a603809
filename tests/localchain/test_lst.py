"""The LST stand-ins (Lido and EtherFi interfaces) and the e-mode position they collateralise."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3.exceptions import ContractLogicError

from adapters.defi.aave_params import load_emode
from data_catalog import raw_files
from localchain.aave import ETH_EMODE_CATEGORY, LocalAave
from tests.localchain.helpers import ETHER, account, price, rate, send, stake_and_wrap, units


@pytest.mark.parametrize("symbol", ["wstETH", "weETH"])
def test_staking_mints_at_the_rate_the_test_steers(aave: LocalAave, users: list[str], symbol: str) -> None:
    user = users[0]
    start = rate(aave, symbol)
    assert start > 1.0  # the recorded exchange rate: years of staking rewards
    wrapped = stake_and_wrap(aave, user, symbol, 10)
    assert wrapped / ETHER == pytest.approx(10 / start, rel=1e-12)
    assert price(aave, symbol) == pytest.approx(price(aave, "WETH") * start, rel=1e-9)

    send(aave, aave.staking[symbol].functions.setEthPerShare(round(start * 1.01 * ETHER)), aave.admin)
    assert rate(aave, symbol) == pytest.approx(start * 1.01, rel=1e-12)
    assert price(aave, symbol) == pytest.approx(price(aave, "WETH") * start * 1.01, rel=1e-9)
    send(aave, aave.tokens[symbol].functions.unwrap(wrapped), user)
    assert aave.staking[symbol].functions.balanceOf(user).call() / ETHER == pytest.approx(10 * 1.01, rel=1e-9)


def test_an_emode_loop_on_weeth_and_its_health_factor_under_a_rate_drop(
    aave: LocalAave, users: list[str], data_dir: Path
) -> None:
    """Supply weETH, borrow WETH in e-mode at 90 % LTV; HF = collateral × LT / debt, and a 2 % fall
    of weETH's exchange rate lowers it in proportion (ETH/USD itself cancels out)."""
    emode = load_emode(data_dir / raw_files.AAVE_RISK_FILE)
    lender, user = users[:2]
    send(aave, aave.tokens["WETH"].functions.deposit(), lender, value=100 * ETHER)
    send(aave, aave.tokens["WETH"].functions.approve(aave.pool.address, 100 * ETHER), lender)
    send(aave, aave.pool.functions.supply(aave.tokens["WETH"].address, 100 * ETHER, lender, 0), lender)

    wrapped = stake_and_wrap(aave, user, "weETH", 10)
    weeth = aave.tokens["weETH"]
    send(aave, weeth.functions.approve(aave.pool.address, wrapped), user)
    send(aave, aave.pool.functions.supply(weeth.address, wrapped, user, 0), user)
    send(aave, aave.pool.functions.setUserEMode(ETH_EMODE_CATEGORY), user)
    collateral_eth = wrapped / ETHER * rate(aave, "weETH")
    debt = 0.9 * collateral_eth
    send(
        aave,
        aave.pool.functions.borrow(aave.tokens["WETH"].address, units(aave, "WETH", debt), 2, 0, user),
        user,
    )

    state = account(aave, user)
    assert state["ltv"] == round(emode.ltv * 10_000)
    assert state["health_factor"] / ETHER == pytest.approx(emode.liquidation_threshold / 0.9, rel=1e-6)
    new_rate = rate(aave, "weETH") * 0.98
    send(aave, aave.staking["weETH"].functions.setEthPerShare(round(new_rate * ETHER)), aave.admin)
    expected = wrapped / ETHER * new_rate * emode.liquidation_threshold / debt
    assert account(aave, user)["health_factor"] / ETHER == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("symbol", ["wstETH", "weETH"])
def test_the_withdrawal_queue_pays_once_finalized_discounted_if_the_rate_fell(
    aave: LocalAave, users: list[str], symbol: str
) -> None:
    """Lido's ``requestWithdrawals`` / ``claimWithdrawals`` on the rebasing token (stETH, eETH)."""
    user, staking = users[0], aave.staking[symbol]
    send(
        aave,
        staking.functions.submit(user) if symbol == "wstETH" else staking.functions.deposit(),
        user,
        value=20 * ETHER,
    )
    first, second = 8 * ETHER, 10 * ETHER
    send(aave, staking.functions.requestWithdrawals([first], user), user)
    send(aave, staking.functions.requestWithdrawals([second], user), user)
    with pytest.raises(ContractLogicError, match="request not finalized"):
        staking.functions.claimWithdrawals([1], [0]).transact({"from": user})

    send(aave, staking.functions.finalize(1), aave.admin)
    before = aave.w3.eth.get_balance(user)
    gas = send(aave, staking.functions.claimWithdrawals([1], [0]), user)
    assert aave.w3.eth.get_balance(user) - before + gas == pytest.approx(first, abs=2)

    start = staking.functions.ethPerShare().call()
    send(aave, staking.functions.setEthPerShare(start * 99 // 100), aave.admin)
    send(aave, staking.functions.finalize(2), aave.admin)
    before = aave.w3.eth.get_balance(user)
    gas = send(aave, staking.functions.claimWithdrawals([2], [0]), user)
    assert aave.w3.eth.get_balance(user) - before + gas == pytest.approx(second * 0.99, rel=1e-12)
    with pytest.raises(ContractLogicError, match="already claimed"):
        staking.functions.claimWithdrawals([2], [0]).transact({"from": user})
