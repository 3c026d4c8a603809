"""Money invariants as properties (hypothesis) over the venue and wallet simulations.

Every operation conserves value to the smallest booked unit, less exactly its modelled costs (gas,
venue fees, DEX fee and price impact, liquidation bonus); NAV is the sum of the holdings at every
sample; no balance goes negative where the venue would refuse. Example counts stay small: each
simulated example runs a Nautilus engine.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from nautilus_trader.model.currencies import ETH, USDT
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import Venue

from adapters.defi import dex
from adapters.defi.aave import liquidation
from adapters.events import TransferKind, TransferStatus
from backtesting.config import load_run_config, mode_file_path
from backtesting.runner import run_backtest
from tests.adapters.test_funding import PERP, _bars_with_close_at_print, _funded_short
from tests.defi.test_wallet_venue import AWEETH, BOOKED, VDWETH, final_balances, gas_eth, run_wallet, trade
from tests.sim_harness import do, flat_bars, run_sim, ts

FAST = settings(max_examples=40, deadline=None, database=None)
SIMULATED = settings(
    max_examples=4,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example runs an engine
    suppress_health_check=[HealthCheck.too_slow],
)
CENT = 0.01

prices = st.floats(0.01, 100_000.0, allow_nan=False)
depths = st.floats(1_000.0, 1e9)
fees = st.sampled_from([0.0, 0.0001, 0.0005, 0.003, 0.01])
fractions = st.floats(1e-6, 0.4)
"""Trade size as a fraction of the pool's virtual reserve of the traded token."""


@FAST
@given(price=prices, depth=depths, fee=fees, fraction=fractions)
def test_a_dex_sale_pays_exactly_its_fee_and_price_impact(price, depth, fee, fraction):
    base_reserve, _ = dex.virtual_reserves(price, depth)
    base_in = base_reserve * fraction
    quote = dex.sell_base(base_in, price, depth, fee)
    net = base_in - quote.fee_paid
    costs = quote.fee_paid * price + quote.impact * price * net
    assert quote.amount_out + costs == pytest.approx(base_in * price, rel=1e-10)
    assert 0 <= quote.amount_out <= base_in * price and quote.fee_paid == pytest.approx(base_in * fee)


@FAST
@given(price=prices, depth=depths, fee=fees, fraction=fractions, exact_base=st.booleans())
def test_a_dex_purchase_pays_exactly_its_fee_and_price_impact(price, depth, fee, fraction, exact_base):
    base_reserve, quote_reserve = dex.virtual_reserves(price, depth)
    if exact_base:
        quote = dex.quote_for_base(base_reserve * fraction, price, depth, fee)
    else:
        quote = dex.base_for_quote(quote_reserve * fraction, price, depth, fee)
    received_value = quote.amount_out * price
    costs = quote.fee_paid + quote.impact * price * quote.amount_out
    assert received_value + costs == pytest.approx(quote.amount_in, rel=1e-10)
    assert received_value <= quote.amount_in


@FAST
@given(
    hf=st.floats(0.0, 1.2),
    debt=st.floats(0.0, 1e7),
    collateral=st.floats(0.0, 1e7),
    debt_price=prices,
    collateral_price=prices,
    bonus=st.floats(0.0, 0.15),
)
def test_a_liquidation_seizes_exactly_the_repaid_value_plus_the_bonus(
    hf, debt, collateral, debt_price, collateral_price, bonus
):
    repaid, seized = liquidation(hf, debt, collateral, debt_price, collateral_price, bonus)
    if hf >= 1.0:
        assert (repaid, seized) == (0.0, 0.0)
        return
    assert 0.0 <= repaid <= debt and 0.0 <= seized <= collateral
    assert seized * collateral_price == pytest.approx(repaid * debt_price * (1 + bonus), rel=1e-9, abs=1e-9)


# -- simulated: wallet transfers, funding, Aave -------------------------------------------------

POOL = "ETHUSDT-UNIV3.ETHEREUM"
TRANSFER_GAS_ETH = 100_000 * 10.0 * 1e-9  # ERC-20 transfer units × 10 gwei
BINANCE_WITHDRAWAL_FEE = 4.5  # configs/venues/binance.yaml


def _usdt(strategy, venue: str) -> float:
    return strategy.cache.account_for_venue(Venue(venue)).balance_total(USDT).as_double()


@SIMULATED
@given(
    deposit_cents=st.integers(10_000, 5_000_000),
    share=st.floats(0.0, 1.0),
    excess_cents=st.integers(1, 1_000_000),
)
def test_a_transfer_round_trip_costs_exactly_the_gas_and_the_venue_fee(deposit_cents, share, excess_cents):
    deposit = deposit_cents / 100
    withdraw = round((deposit - BINANCE_WITHDRAWAL_FEE) * share, 2)
    assume(withdraw >= 1.0)
    too_much = deposit + excess_cents / 100  # more than the venue holds: refused, nothing moves
    seen = {}
    sim = run_sim(
        bars=lambda i: flat_bars(i[POOL], range(0, 8), 3_000.0),
        subscribe=(POOL,),
        script={
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", deposit))],
            ts(2): [do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BINANCE", too_much, "too-much"))],
            ts(3): [do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BINANCE", withdraw, "back"))],
            ts(6): [do(lambda s: seen.update(wallet=_usdt(s, "ETHEREUM"), venue=_usdt(s, "BINANCE_SPOT")))],
        },
    )
    by_id = {e.request_id: e.status for e in sim.strategy.transfer_events}
    assert by_id["too-much"] == TransferStatus.FAILED
    assert seen["wallet"] + seen["venue"] == pytest.approx(100_000.0 - BINANCE_WITHDRAWAL_FEE, abs=CENT / 2)
    assert seen["venue"] == pytest.approx(deposit - withdraw - BINANCE_WITHDRAWAL_FEE, abs=CENT / 2)
    assert seen["venue"] >= 0 and seen["wallet"] >= 0
    eth = sim.engine.cache.account_for_venue(Venue("ETHEREUM")).balance_total(ETH).as_double()
    assert eth == pytest.approx(1.0 - TRANSFER_GAS_ETH, abs=1e-12)


@SIMULATED
@given(
    qty_thousandths=st.integers(3, 300),  # 0.003 BTC × 50,000 clears the venue's 100 USDT minimum
    mark=st.integers(50_000, 60_000),  # the print bar opens at 50,000 with its low at 49,990
    rate=st.floats(-0.003, 0.003).filter(lambda r: abs(r) > 1e-7),
)
def test_a_funding_payment_is_exactly_qty_times_mark_times_rate(qty_thousandths, mark, rate):
    qty = qty_thousandths / 1000
    sim = run_sim(
        bars=_bars_with_close_at_print(PERP, 5, float(mark)),
        funding=lambda _: [(PERP, ts(5), rate)],
        script=_funded_short("BINANCE", f"{qty:.3f}"),
        subscribe=(PERP,),
    )
    (event,) = sim.strategy.funding_events
    assert event.payment == pytest.approx(qty * mark * rate, rel=1e-9)
    fee = qty * 50_000.0 * 0.0005  # the short's taker fee at the 50,000 entry (configs/venues/binance.yaml)
    assert sim.balance("BINANCE") == pytest.approx(20_000 - fee + qty * mark * rate, abs=CENT)


@SIMULATED
@given(
    supply=st.integers(1_000, 50_000),
    borrow_share=st.floats(0.0, 0.5),
    repay_share=st.floats(0.0, 1.0),
    withdraw_share=st.floats(0.0, 1.0),
)
def test_aave_supply_borrow_repay_withdraw_conserve_tokens_less_gas(
    supply, borrow_share, repay_share, withdraw_share
):
    """Indices held at 1 (no interest): every token moves 1:1, and the ETH paid is the gas."""
    supplied = supply / 10_000  # weETH, 4 decimals
    borrowed = round(supplied * 1.05 * borrow_share, 4)  # ETH, within the reserve's LTV
    repaid = round(borrowed * repay_share, 4)
    withdrawn = round(supplied * withdraw_share, 4)
    debt_left = borrowed - repaid
    assume(borrowed > 0 and repaid > 0 and withdrawn > 0)
    assume(debt_left <= (supplied - withdrawn) * 1.05 * 0.5)  # the withdrawal keeps HF well above 1
    sim = run_wallet(
        {
            ts(0): [trade(AWEETH, OrderSide.BUY, supplied)],
            ts(1): [trade(VDWETH, OrderSide.SELL, borrowed)],
            ts(2): [trade(VDWETH, OrderSide.BUY, repaid)],
            ts(3): [trade(AWEETH, OrderSide.SELL, withdrawn)],
        },
        balances={"ETH": 20.0, "WEETH": 5.0},
    )
    assert sim.strategy.rejections == []
    gas = sum(gas_eth(op) for op in ("aave_supply", "aave_borrow", "aave_repay", "aave_withdraw"))
    expected = {
        "ETH": 20.0 + borrowed - repaid - gas,
        "WEETH": 5.0 - supplied + withdrawn,
        "AWEETH": supplied - withdrawn,
        "VDWETH": -debt_left,
    }
    got = final_balances(sim)
    assert {k: got.get(k, 0.0) for k in expected} == pytest.approx(expected, abs=BOOKED)
    assert all(v >= 0 for k, v in got.items() if k != "VDWETH")


@SIMULATED
@given(over=st.floats(1.0001, 3.0))
def test_withdrawing_more_than_supplied_is_refused_and_no_balance_goes_negative(over):
    sim = run_wallet(
        {
            ts(0): [trade(AWEETH, OrderSide.BUY, 2.0)],
            ts(1): [trade(VDWETH, OrderSide.SELL, 0.5)],
            ts(2): [trade(AWEETH, OrderSide.SELL, round(2.0 * over, 4))],
        },
        balances={"ETH": 20.0, "WEETH": 5.0},
    )
    got = final_balances(sim)
    assert len(sim.strategy.rejections) == 1
    assert got["AWEETH"] == pytest.approx(2.0, abs=BOOKED) and got["VDWETH"] == pytest.approx(
        -0.5, abs=BOOKED
    )
    assert all(v >= 0 for k, v in got.items() if k != "VDWETH")


def test_repaying_more_than_the_debt_is_refused_and_moves_nothing_but_gas():
    """Aave repays at most the debt; the simulation refuses a larger repayment (a strategy error)
    rather than book a positive debt, and the reverted transaction only costs its gas."""
    sim = run_wallet(
        {
            ts(0): [trade(AWEETH, OrderSide.BUY, 2.0)],
            ts(1): [trade(VDWETH, OrderSide.SELL, 0.5)],
            ts(2): [trade(VDWETH, OrderSide.BUY, 1.2)],
        },
        balances={"ETH": 20.0, "WEETH": 5.0},
    )
    got = final_balances(sim)
    assert len(sim.strategy.rejections) == 1 and "AAVE_REPAY" in sim.strategy.rejections[0]
    assert got["VDWETH"] == pytest.approx(-0.5, abs=BOOKED)
    assert got["AWEETH"] == pytest.approx(2.0, abs=BOOKED)


# -- NAV is the sum of the holdings ------------------------------------------------------------

VENUES = ("binance", "bybit", "okx")


@pytest.mark.integration
@settings(
    max_examples=3,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first_day=st.integers(0, 400),
    days=st.integers(2, 4),
    capital=st.integers(5_000, 2_000_000),
)
def test_nav_is_the_sum_of_holdings_at_every_sample(catalog_dir, tmp_path_factory, first_day, days, capital):
    start = pd.Timestamp("2024-05-12") + pd.Timedelta(days=first_day)
    run = load_run_config(
        mode_file_path("btc_basis"),
        start=str(start.date()),
        end=str((start + pd.Timedelta(days=days)).date()),
        capital=float(capital),
    )
    out = tmp_path_factory.mktemp("nav")
    run_backtest(run, catalog_dir, out)
    nav = pd.read_csv(out / "nav.csv", index_col=0)
    holdings = nav["wallet_value_usdt"] + nav["in_flight_usdt"] + sum(nav[f"equity_{v}"] for v in VENUES)
    assert (nav["nav"] - holdings).abs().max() <= 1e-6 * capital
    assert nav["in_flight_eth"].abs().max() == 0  # basis moves USDT only
    for column in ("wallet_usdt", "wallet_eth", *(f"spot_cash_{v}" for v in VENUES)):
        assert nav[column].min() >= -1e-9, column
