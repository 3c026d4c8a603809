"""The real Aave v3 contracts on anvil, configured from the real mainnet parameters.

Expected numbers are computed here from the params files (through the project's loaders) and the
oracle prices the test set, never copied from a chain run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from web3.exceptions import ContractLogicError

from adapters.defi.aave_params import load_emode, load_optimal_utilization, load_reserve_params
from adapters.defi.config import load_wallet_venue
from data_catalog import raw_files
from localchain.aave import ETH_EMODE_CATEGORY, RAY, RESERVES, LocalAave
from localchain.anvil import advance_time
from localchain.deployer import Deployer
from localchain.tools import AAVE, artifact
from tests.localchain.helpers import ETHER, MAX, account, price, send, supply, units

YEAR = 365 * 24 * 3600  # Aave's SECONDS_PER_YEAR
COLLATERAL_CANNOT_COVER_NEW_BORROW = "36"  # Aave v3 Errors.sol


@pytest.fixture(scope="module")
def params(data_dir: Path) -> dict[str, Any]:
    csv_path = data_dir / raw_files.AAVE_PARAMS_FILE
    return {
        "reserves": load_reserve_params(csv_path, RESERVES),
        "kinks": load_optimal_utilization(csv_path, RESERVES),
        "emode": load_emode(data_dir / raw_files.AAVE_RISK_FILE),
    }


def bits(word: int, start: int, length: int) -> int:
    return (word >> start) & ((1 << length) - 1)


def test_reserves_carry_the_real_mainnet_parameters(aave: LocalAave, params: dict[str, Any]) -> None:
    """Decode each reserve's on-chain configuration word (Aave's ReserveConfiguration bit layout)."""
    for symbol, p in params["reserves"].items():
        word = aave.pool.functions.getConfiguration(aave.tokens[symbol].address).call()[0]
        assert bits(word, 0, 16) == round(p.ltv * 10_000)
        assert bits(word, 16, 16) == round(p.liquidation_threshold * 10_000)
        assert bits(word, 32, 16) == 10_000 + round(p.liquidation_bonus * 10_000)
        assert bits(word, 58, 1) == p.borrowing_enabled
        assert bits(word, 63, 1) == p.flashloan_enabled
        assert bits(word, 64, 16) == round(p.reserve_factor * 10_000)
        assert bits(word, 80, 36) == round(p.borrow_cap or 0)
        assert bits(word, 116, 36) == round(p.supply_cap or 0)
        assert bits(word, 168, 8) == (ETH_EMODE_CATEGORY if symbol in params["emode"].assets else 0)
    category = aave.pool.functions.getEModeCategoryData(ETH_EMODE_CATEGORY).call()
    emode = params["emode"]
    assert category[:3] == (
        round(emode.ltv * 10_000),
        round(emode.liquidation_threshold * 10_000),
        10_000 + round(emode.liquidation_bonus * 10_000),
    )
    model_fee = load_wallet_venue().flash_loans.fees["AAVE"]
    assert aave.pool.functions.FLASHLOAN_PREMIUM_TOTAL().call() == round(model_fee * 10_000)


def test_supply_borrow_repay_withdraw(aave: LocalAave, users: list[str]) -> None:
    lender, borrower = users[:2]
    supply(aave, lender, "WETH", 50)
    supply(aave, borrower, "USDT", 100_000)
    weth, usdt = aave.tokens["WETH"], aave.tokens["USDT"]
    borrowed = units(aave, "WETH", 5)
    send(aave, aave.pool.functions.borrow(weth.address, borrowed, 2, 0, borrower), borrower)
    assert weth.functions.balanceOf(borrower).call() == borrowed
    assert aave.debt_tokens["WETH"].functions.balanceOf(borrower).call() == borrowed
    state = account(aave, borrower)
    assert state["debt"] == pytest.approx(5 * price(aave, "WETH") * 1e8, rel=1e-9)

    send(aave, weth.functions.deposit(), borrower, value=units(aave, "WETH", 1))  # covers interest
    send(aave, weth.functions.approve(aave.pool.address, MAX), borrower)
    send(aave, aave.pool.functions.repay(weth.address, MAX, 2, borrower), borrower)
    assert aave.debt_tokens["WETH"].functions.balanceOf(borrower).call() == 0

    send(aave, aave.pool.functions.withdraw(usdt.address, MAX, borrower), borrower)
    assert aave.a_tokens["USDT"].functions.balanceOf(borrower).call() == 0
    assert usdt.functions.balanceOf(borrower).call() == units(aave, "USDT", 100_000)
    assert account(aave, borrower)["collateral"] == 0


def test_outside_emode_the_ltv_is_the_value_weighted_reserve_ltv(
    aave: LocalAave, users: list[str], params: dict[str, Any]
) -> None:
    user = users[0]
    supply(aave, user, "WETH", 3)
    supply(aave, user, "USDT", 20_000)
    values = {"WETH": 3 * price(aave, "WETH"), "USDT": 20_000 * price(aave, "USDT")}
    expected = sum(v * params["reserves"][s].ltv for s, v in values.items()) / sum(values.values())
    state = account(aave, user)
    assert state["collateral"] == pytest.approx(sum(values.values()) * 1e8, rel=1e-9)
    assert state["ltv"] == pytest.approx(expected * 10_000, abs=1)


def test_emode_ltv_is_the_real_eth_correlated_category(
    aave: LocalAave, users: list[str], params: dict[str, Any]
) -> None:
    user = users[0]
    supply(aave, user, "WETH", 10)
    assert account(aave, user)["ltv"] == round(params["reserves"]["WETH"].ltv * 10_000)
    send(aave, aave.pool.functions.setUserEMode(ETH_EMODE_CATEGORY), user)
    state = account(aave, user)
    assert state["ltv"] == round(params["emode"].ltv * 10_000)
    assert state["threshold"] == round(params["emode"].liquidation_threshold * 10_000)
    weth = aave.tokens["WETH"].address
    send(
        aave,
        aave.pool.functions.borrow(weth, units(aave, "WETH", 10 * params["emode"].ltv * 0.999), 2, 0, user),
        user,
    )


def test_a_borrow_beyond_the_ltv_reverts(aave: LocalAave, users: list[str], params: dict[str, Any]) -> None:
    lender, user = users[:2]
    supply(aave, lender, "USDT", 1_000_000)
    supply(aave, user, "WETH", 10)
    limit = 10 * price(aave, "WETH") * params["reserves"]["WETH"].ltv / price(aave, "USDT")
    usdt = aave.tokens["USDT"].address
    with pytest.raises(ContractLogicError, match=COLLATERAL_CANNOT_COVER_NEW_BORROW):
        aave.pool.functions.borrow(usdt, units(aave, "USDT", limit * 1.001), 2, 0, user).transact(
            {"from": user}
        )
    send(aave, aave.pool.functions.borrow(usdt, units(aave, "USDT", limit * 0.999), 2, 0, user), user)
    assert account(aave, user)["available"] < 0.002 * limit * 1e8


def test_usdt_returns_no_value_yet_moves_through_the_pool(aave: LocalAave, users: list[str]) -> None:
    """Like mainnet USDT: ``approve``/``transfer`` return empty data, and a non-zero allowance can
    only be reset through 0; Aave's SafeERC20 still pulls it into the aToken."""
    user, other = users[:2]
    usdt = aave.tokens["USDT"]
    send(aave, usdt.functions.mint(user, 10**6), aave.admin)
    for call in (usdt.functions.approve(other, 1), usdt.functions.transfer(other, 1)):
        assert (
            aave.w3.eth.call({"from": user, "to": usdt.address, "data": call._encode_transaction_data()})
            == b""
        )
    send(aave, usdt.functions.approve(other, 1), user)
    with pytest.raises(ContractLogicError, match="reset allowance to 0 first"):
        usdt.functions.approve(other, 2).transact({"from": user})

    raw = supply(aave, users[2], "USDT", 1_234.5)
    assert aave.a_tokens["USDT"].functions.balanceOf(users[2]).call() == raw
    assert usdt.functions.balanceOf(aave.a_tokens["USDT"].address).call() == raw


def test_rate_curves_have_the_real_kink_and_meet_the_last_recorded_day(
    aave: LocalAave, params: dict[str, Any], data_dir: Path
) -> None:
    """Each reserve's on-chain strategy: the CSV's optimal utilization, and at the utilization of
    the last day in ``aave/rates`` it quotes that day's variable borrow rate."""
    for symbol in RESERVES:
        strategy_address = aave.pool.functions.getReserveData(aave.tokens[symbol].address).call()[11]
        strategy = aave.w3.eth.contract(
            address=strategy_address, abi=artifact(AAVE, "DefaultReserveInterestRateStrategy")["abi"]
        )
        optimal = strategy.functions.OPTIMAL_USAGE_RATIO().call() / RAY
        assert optimal == pytest.approx(params["kinks"][symbol], abs=1e-18)
        [path] = data_dir.glob(raw_files.aave_rates_glob(symbol))
        with path.open() as handle:
            *_, last = csv.DictReader(handle)
        used = (float(last["totalVariableDebt"]) + float(last["totalStableDebt"])) / float(
            last["totalAToken"]
        )
        base = strategy.functions.getBaseVariableBorrowRate().call() / RAY
        slope1 = strategy.functions.getVariableRateSlope1().call() / RAY
        assert base + slope1 * used / optimal == pytest.approx(
            float(last["currentVariableBorrowRate"]), rel=1e-9
        )


@pytest.mark.parametrize("utilization", [0.5, 0.95])
def test_time_accrues_interest_at_the_real_curve(
    aave: LocalAave, users: list[str], params: dict[str, Any], utilization: float
) -> None:
    """USDT lent at 50 % (below the real 92 % kink) and 95 % (above it): the borrow rate follows the
    configured curve, suppliers earn it times utilization less the real reserve factor, and a year
    grows the liquidity index by that."""
    lender, borrower = users[:2]
    supply(aave, lender, "USDT", 1_000_000)
    supply(aave, borrower, "WETH", 400)
    usdt = aave.tokens["USDT"].address
    send(
        aave,
        aave.pool.functions.borrow(usdt, units(aave, "USDT", 1_000_000 * utilization), 2, 0, borrower),
        borrower,
    )

    curve, kink = aave.curves["USDT"], params["kinks"]["USDT"]
    borrow_rate = curve.base + curve.slope1 * min(utilization, kink) / kink
    if utilization > kink:
        borrow_rate += curve.slope2 * (utilization - kink) / (1 - kink)
    supply_rate = borrow_rate * utilization * (1 - params["reserves"]["USDT"].reserve_factor)
    data = aave.pool.functions.getReserveData(usdt).call()
    assert data[4] / RAY == pytest.approx(borrow_rate, rel=1e-9)
    assert data[2] / RAY == pytest.approx(supply_rate, rel=1e-9)

    advance_time(aave.w3, YEAR)
    elapsed = aave.w3.eth.get_block("latest")["timestamp"] - data[6]
    income = aave.pool.functions.getReserveNormalizedIncome(usdt).call() / RAY
    assert income == pytest.approx(data[1] / RAY * (1 + supply_rate * elapsed / YEAR), rel=1e-9)
    assert aave.a_tokens["USDT"].functions.balanceOf(lender).call() == pytest.approx(
        units(aave, "USDT", 1_000_000) * income, abs=1
    )


def test_a_flash_loan_pays_the_models_premium(aave: LocalAave, users: list[str]) -> None:
    """A flash loan of WETH costs amount × the model's Aave fee, and that premium goes to suppliers."""
    lender = users[0]
    supply(aave, lender, "WETH", 100)
    weth = aave.tokens["WETH"]
    probe = Deployer(aave.w3).deploy_ours("FlashLoanProbe", aave.pool.address)
    fee = load_wallet_venue().flash_loans.fees["AAVE"]
    amount = 50 * ETHER
    send(aave, weth.functions.deposit(), lender, value=ETHER)
    send(aave, weth.functions.transfer(probe.address, ETHER), lender)  # pays the premium

    send(aave, probe.functions.borrow(weth.address, amount), lender)
    premium = probe.functions.lastPremium().call()
    assert premium == round(amount * fee)
    assert weth.functions.balanceOf(probe.address).call() == ETHER - premium
    assert aave.a_tokens["WETH"].functions.balanceOf(lender).call() == pytest.approx(
        100 * ETHER + premium, abs=2
    )
