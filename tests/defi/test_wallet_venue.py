"""The ETHEREUM wallet venue end to end: orders through the DeFi execution client, the simulated
chain's checks and costs, and what the upkeep does between actions.

Every run is a small synthetic backtest (``tests/sim_harness.py``) with hand-written bars, Aave
snapshots and reward payouts, and every expectation is worked out by hand from the inputs below
(nothing calls the project's Aave, DEX or reward arithmetic to get an expected value).

Conventions of these runs:

- bars from hour -1 (where a ``listen`` action subscribes to the wallet's event topics) to
  ``hours``; ETH at 3,000 USDT, the weETH protocol rate (``WEETH-ETHERFI`` close) 1.05 and the
  weETH market (Curve pool) 1.04 unless a test says otherwise;
- Aave snapshots are stamped half an hour before the first bar (``SNAPSHOT_NS``), off the bar
  grid, so their place among same-time bars never matters; rates are 0 (no accrual) except in the
  accrual tests;
- wallet balances are Nautilus ``Money`` with 8 decimals: interest is booked rounded to 1e-8 with
  the remainder carried forward, so accrued balances are compared within 1e-8.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from itertools import pairwise
from pathlib import Path

import pytest
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.defi.aave_params import EModeParams, ReserveParams, load_emode, load_reserve_params
from adapters.defi.currencies import account_balances
from adapters.defi.data import AaveReserveSnapshot, RewardDistribution
from adapters.events import (
    GAS_TOPIC,
    WALLET_TOPIC,
    AaveLiquidated,
    FlashLoanFee,
    InterestAccrued,
    RewardCredited,
    WithdrawalFinalised,
)
from data_catalog import raw_files
from tests.sim_harness import HOUR, Action, ScriptedStrategy, Sim, flat_bars, run_sim, ts

BUY, SELL = OrderSide.BUY, OrderSide.SELL

ETH_USD = "ETHUSDT-UNIV3.ETHEREUM"
WEETH_RATE = "WEETH-ETHERFI.ETHEREUM"
"""Mint weETH with ETH; its bar close is the weETH/ETH protocol rate."""
CURVE = "WEETHETH-CURVE.ETHEREUM"
QUEUE = "WEETH-ETHERFIQ.ETHEREUM"
AWEETH = "AWEETH-AAVE.ETHEREUM"
AWETH = "AWETH-AAVE.ETHEREUM"
AUSDT = "AUSDT-AAVE.ETHEREUM"
VDWETH = "VDWETH-AAVE.ETHEREUM"

FIRST_HOUR = -1
SNAPSHOT_NS = ts(0) - HOUR // 2
ETH_PRICE = 3_000.0
RATE = 1.05
MARKET = 1.04
GAS_GWEI = 10.0
SECONDS_PER_YEAR = 365 * 86_400
BOOKED = 1e-8
"""The last digit of an 8-decimal wallet balance."""

# configs/venues/ethereum.yaml
GAS_UNITS = {
    "token_swap": 180_000,
    "stake": 150_000,
    "unstake_request": 200_000,
    "aave_supply": 250_000,
    "aave_withdraw": 220_000,
    "aave_borrow": 300_000,
    "aave_repay": 280_000,
    "atomic_leverage": 1_250_000,
    "atomic_deleverage": 1_100_000,
}
CURVE_FEE = 0.0004
CURVE_DEPTH = 1_000_000.0
QUEUE_DELAY_HOURS = 168
FLASH_FEES = {"BALANCER": 0.0, "AAVE": 0.0005}

# The real Aave v3 Ethereum parameters (data/aave/params; checked in the first test below):
# (LTV, liquidation threshold, bonus, reserve factor, supply cap, borrow cap)
RESERVES = {
    "USDT": (0.75, 0.78, 0.045, 0.10, 9.5e9, 8.8e9),
    "WETH": (0.805, 0.83, 0.05, 0.15, 3.2e6, 2.9e6),
    "weETH": (0.775, 0.80, 0.07, 0.45, 2.2e6, None),
    "wstETH": (0.785, 0.81, 0.06, 0.35, 1.8e6, 5e5),
}
EMODE_LTV, EMODE_LT, EMODE_BONUS = 0.93, 0.95, 0.01
A_TOKEN_OF = {"weETH": AWEETH, "WETH": AWETH, "USDT": AUSDT}


# -------------------------------------------------------------------------------------------------
# Building a run
# -------------------------------------------------------------------------------------------------


def reserve_params() -> dict[str, ReserveParams]:
    return {
        symbol: ReserveParams(symbol, ltv, lt, bonus, rf, supply, borrow, True, True, True)
        for symbol, (ltv, lt, bonus, rf, supply, borrow) in RESERVES.items()
    }


def emode_params() -> EModeParams:
    return EModeParams(EMODE_LTV, EMODE_LT, EMODE_BONUS, ("WETH", "weETH", "wstETH"))


def aave_params(**overrides: dict) -> dict:
    """The catalog's ``aave_params.json`` payload; ``weETH={"supply_cap": 10.0}`` changes a field."""
    reserves = {s: replace(p, **overrides.get(s, {})) for s, p in reserve_params().items()}
    return {"reserves": {s: asdict(p) for s, p in reserves.items()}, "emode": asdict(emode_params())}


def snapshot(
    reserve: str,
    at: int = SNAPSHOT_NS,
    *,
    liquidity_index: float = 1.0,
    borrow_index: float = 1.0,
    liquidity_rate: float = 0.0,
    borrow_rate: float = 0.0,
    total_a_token: float = 0.0,
) -> AaveReserveSnapshot:
    return AaveReserveSnapshot(
        instrument_id=InstrumentId.from_str(A_TOKEN_OF[reserve]),
        reserve=reserve,
        liquidity_index=liquidity_index,
        variable_borrow_index=borrow_index,
        liquidity_rate=liquidity_rate,
        variable_borrow_rate=borrow_rate,
        total_a_token=total_a_token,
        total_variable_debt=0.0,
        ts_event=at,
        ts_init=at,
    )


def still_reserves() -> list[AaveReserveSnapshot]:
    """Every reserve indexed at 1 with zero rates: Aave is usable and nothing accrues."""
    return [snapshot(reserve) for reserve in A_TOKEN_OF]


PricePath = list[tuple[int, float]]
"""A price path: ``(first hour, price)`` steps, each holding until the next one."""


def price_bars(prices: dict[str, float | PricePath], hours: int):
    """Hourly bars from FIRST_HOUR to ``hours``; at equal times in the order of ``prices``."""

    def build(instruments):
        bars = []
        for iid, path in prices.items():
            steps = [(FIRST_HOUR, path)] if isinstance(path, float) else path
            for (start, price), (end, _) in pairwise([*steps, (hours + 1, 0.0)]):
                bars += flat_bars(instruments[iid], range(start, end), price)
        return bars

    return build


def listen(strategy: ScriptedStrategy) -> None:
    """Collect the wallet's protocol and gas events and prepare the balance records."""
    strategy.wallet_events, strategy.gas_events, strategy.seen = [], [], {}
    strategy.msgbus.subscribe(WALLET_TOPIC, strategy.wallet_events.append)
    strategy.msgbus.subscribe(GAS_TOPIC, strategy.gas_events.append)


def run_wallet(
    script: dict[int, list[Action]],
    *,
    balances: dict[str, float],
    hours: int = 6,
    prices: dict[str, float | PricePath] | None = None,
    chain_data: list | None = None,
    params: dict | None = None,
    gas_gwei: float = GAS_GWEI,
    **kwargs,
) -> Sim:
    prices = prices or {ETH_USD: ETH_PRICE, WEETH_RATE: RATE, CURVE: MARKET}
    return run_sim(
        bars=price_bars(prices, hours),
        script={ts(FIRST_HOUR): [listen], **script},
        balances=balances,
        gas_gwei=gas_gwei,
        aave_params=params or aave_params(),
        chain_data=still_reserves() if chain_data is None else chain_data,
        subscribe=tuple(prices),
        **kwargs,
    )


# -- actions and reading a run -----------------------------------------------------------------


def _qty(strategy: ScriptedStrategy, iid: str, qty: float) -> str:
    """``qty`` on the instrument's size precision, as an order needs it."""
    return str(strategy.cache.instrument(InstrumentId.from_str(iid)).make_qty(qty))


def trade(iid: str, side: OrderSide, qty: float) -> Action:
    return lambda s: s.market(InstrumentId.from_str(iid), side, _qty(s, iid, qty))


def atomic(*steps: tuple[str, OrderSide, float]) -> Action:
    """One transaction (an order list) of ``(instrument, side, qty)`` steps."""
    return lambda s: s.transaction([(iid, side, _qty(s, iid, qty)) for iid, side, qty in steps])


def wallet_balances(strategy: ScriptedStrategy) -> dict[str, float]:
    """Every non-zero wallet balance, by currency code (debt tokens negative)."""
    return {c: q for c, q in account_balances(strategy.cache, Venue("ETHEREUM")).items() if q}


def record(label: str) -> Action:
    return lambda s: s.seen.__setitem__(label, wallet_balances(s))


def final_balances(sim: Sim) -> dict[str, float]:
    return wallet_balances(sim.strategy)


def events(sim: Sim, kind: type) -> list:
    return [e for e in sim.strategy.wallet_events if isinstance(e, kind)]


def gas_eth(operation: str, gwei: float = GAS_GWEI) -> float:
    return GAS_UNITS[operation] * gwei * 1e-9


def curve_sale_price(qty: float, mark: float = MARKET) -> float:
    """Constant-product sale of ``qty`` weETH into the Curve pool (fee aside), on its 1e-10 tick.

    Virtual reserves x = D/(2P) weETH and y = D/2 ETH; ``qty`` in returns y·qty/(x + qty) ETH, i.e.
    an average price P·D/(D + 2·P·qty).
    """
    return round(mark * CURVE_DEPTH / (CURVE_DEPTH + 2 * mark * qty), 10)


def test_hand_written_aave_parameters_are_the_real_ones(data_dir: Path) -> None:
    reserves = load_reserve_params(data_dir / raw_files.AAVE_PARAMS_FILE, list(RESERVES))
    assert reserves == reserve_params()
    assert load_emode(data_dir / raw_files.AAVE_RISK_FILE, "ETH_WETH") == emode_params()


# -------------------------------------------------------------------------------------------------
# 1. Aave interest: supplied aTokens follow the liquidity index, debt the borrow index
# -------------------------------------------------------------------------------------------------

SUPPLIED, BORROWED = 10.0, 5.0
L0, R0 = 1.0123456, 0.031  # weETH liquidity index and APR at SNAPSHOT_NS
NEW_SNAPSHOT_NS = ts(12) + HOUR // 2
L1, R1 = 1.0124, 0.045  # the next weETH snapshot: a small correction and a new rate
B0, RB = 1.05, 0.052  # WETH variable-borrow index and APR at SNAPSHOT_NS
ACCRUAL_HOURS = 24


def seconds(from_ns: int, to_ns: int) -> float:
    return (to_ns - from_ns) / 1e9


@pytest.fixture(scope="module")
def accrual() -> Sim:
    """Supply 10 weETH and borrow 5 WETH at hour 0, then let 24 hours of interest accrue."""
    return run_wallet(
        {
            ts(0): [trade(AWEETH, BUY, SUPPLIED), trade(VDWETH, SELL, BORROWED), record("opened")],
            ts(ACCRUAL_HOURS): [record("a day later")],
        },
        balances={"ETH": 1.0, "WEETH": SUPPLIED},
        hours=ACCRUAL_HOURS,
        chain_data=[
            snapshot("weETH", liquidity_index=L0, liquidity_rate=R0),
            snapshot("weETH", NEW_SNAPSHOT_NS, liquidity_index=L1, liquidity_rate=R1),
            snapshot("WETH", borrow_index=B0, borrow_rate=RB),
            snapshot("USDT"),
        ],
    )


def test_supplied_atokens_grow_with_the_liquidity_index(accrual: Sim) -> None:
    # linear accrual from each snapshot; the supply was booked at hour 0, the last value is the
    # new snapshot's index extrapolated to hour 24 (the correction at 12:30 is part of the growth)
    index_at_supply = L0 * (1 + R0 * seconds(SNAPSHOT_NS, ts(0)) / SECONDS_PER_YEAR)
    index_a_day_later = L1 * (1 + R1 * seconds(NEW_SNAPSHOT_NS, ts(ACCRUAL_HOURS)) / SECONDS_PER_YEAR)
    expected = SUPPLIED * index_a_day_later / index_at_supply  # 10.0011105
    assert accrual.strategy.seen["opened"]["AWEETH"] == SUPPLIED
    interest = [e for e in events(accrual, InterestAccrued) if e.token == "AWEETH"]
    assert all(ts(0) < e.ts_event <= ts(ACCRUAL_HOURS) and not e.borrowed for e in interest)
    assert sum(e.amount for e in interest) == pytest.approx(expected - SUPPLIED, abs=BOOKED)
    assert accrual.strategy.seen["a day later"]["AWEETH"] == pytest.approx(expected, abs=BOOKED)


def test_borrowed_debt_compounds_with_the_borrow_index(accrual: Sim) -> None:
    # per-second compounding: B(t) = B0 · (1 + r/year)^seconds, 86,400 seconds after the borrow
    expected = -BORROWED * (1 + RB / SECONDS_PER_YEAR) ** (ACCRUAL_HOURS * 3_600)  # -5.0007124
    opened = accrual.strategy.seen["opened"]
    assert opened["VDWETH"] == -BORROWED
    assert opened["ETH"] == pytest.approx(
        1.0 + BORROWED - gas_eth("aave_supply") - gas_eth("aave_borrow"), abs=1e-12
    )
    interest = [e for e in events(accrual, InterestAccrued) if e.token == "VDWETH"]
    assert all(ts(0) < e.ts_event <= ts(ACCRUAL_HOURS) and e.borrowed and e.amount < 0 for e in interest)
    assert sum(e.amount for e in interest) == pytest.approx(expected + BORROWED, abs=BOOKED)
    later = accrual.strategy.seen["a day later"]
    assert later["VDWETH"] == pytest.approx(expected, abs=BOOKED)
    assert "AWETH" not in later  # nothing supplied to the WETH reserve, nothing accrued to it


# -------------------------------------------------------------------------------------------------
# 2. Gas: units × gwei × 1e-9 ETH per action; an action the wallet cannot pay for is refused
# -------------------------------------------------------------------------------------------------

TABLE_GWEI = 12.5
LEVER_UP = ((WEETH_RATE, BUY, 1.0), (AWEETH, BUY, 1.0), (VDWETH, SELL, 0.5))
LEVER_DOWN = ((VDWETH, BUY, 0.5), (AWEETH, SELL, 1.0))
ACTIONS_AND_GAS = [
    (trade(WEETH_RATE, BUY, 10.0), "stake"),  # mint 10 weETH: -10.5 ETH
    (trade(AWEETH, BUY, 10.0), "aave_supply"),
    (trade(VDWETH, SELL, 5.0), "aave_borrow"),  # +5 ETH
    (trade(VDWETH, BUY, 2.0), "aave_repay"),  # -2 ETH
    (trade(AWEETH, SELL, 1.0), "aave_withdraw"),
    (trade(CURVE, SELL, 1.0), "token_swap"),  # + 1 × curve price × (1 - fee) ETH
    (trade(QUEUE, SELL, 1.0), "unstake_request"),  # 1.05 WQETH
    (atomic(*LEVER_UP), "atomic_leverage"),  # -1.05 + 0.5 ETH, no flash loan needed
    (atomic(*LEVER_DOWN), "atomic_deleverage"),  # -0.5 ETH
]


def test_every_action_pays_its_gas_units_at_the_gas_price() -> None:
    sim = run_wallet(
        {ts(hour): [action] for hour, (action, _) in enumerate(ACTIONS_AND_GAS)},
        balances={"ETH": 20.0, "WEETH": 5.0},
        hours=len(ACTIONS_AND_GAS),
        gas_gwei=TABLE_GWEI,
    )
    assert sim.strategy.rejections == []
    charged = [(g.operation, g.units, g.gwei, g.eth_price, g.ts_event) for g in sim.strategy.gas_events]
    assert charged == [
        (op, GAS_UNITS[op], TABLE_GWEI, ETH_PRICE, ts(hour)) for hour, (_, op) in enumerate(ACTIONS_AND_GAS)
    ]
    costs = [gas_eth(op, TABLE_GWEI) for _, op in ACTIONS_AND_GAS]
    assert [g.eth for g in sim.strategy.gas_events] == pytest.approx(costs, rel=1e-12)
    assert sum(costs) == pytest.approx(0.049125, rel=1e-12)  # 3,930,000 units × 12.5 gwei
    assert sim.wallet.gas_eth_total == pytest.approx(sum(costs), rel=1e-12)
    eth = 20.0 - 10.5 + 5.0 - 2.0 + curve_sale_price(1.0) * (1 - CURVE_FEE) - 1.05 + 0.5 - 0.5 - sum(costs)
    assert final_balances(sim) == pytest.approx(
        {"ETH": eth, "WEETH": 5.0, "AWEETH": 9.0, "VDWETH": -3.0, "WQETH": 1.05}, abs=1e-8
    )
    assert events(sim, FlashLoanFee) == []  # the wallet's own ETH covered the leverage


@pytest.mark.parametrize(
    ("balances", "action"),
    [
        pytest.param({"ETH": 0.001, "WEETH": 1.0}, trade(AWEETH, BUY, 1.0), id="supply-needs-0.0025"),
        # 0.951 × 1.05 = 0.99855 ETH minted away leaves 0.00145 < 0.0015 of stake gas
        pytest.param({"ETH": 1.0}, trade(WEETH_RATE, BUY, 0.951), id="mint-leaves-too-little"),
        # the swap's own proceeds (≈0.00104 ETH) count, but are below 0.0018 of swap gas
        pytest.param({"WEETH": 0.001}, trade(CURVE, SELL, 0.001), id="swap-proceeds-too-small"),
    ],
)
def test_an_action_whose_gas_the_wallet_cannot_pay_is_refused_and_moves_nothing(balances, action) -> None:
    sim = run_wallet({ts(0): [action]}, balances=balances)
    (reason,) = sim.strategy.rejections
    assert "INSUFFICIENT_GAS" in reason
    assert sim.strategy.fills == [] and sim.strategy.gas_events == []
    assert final_balances(sim) == balances
    assert sim.wallet.gas_eth_total == 0.0


def test_gas_exactly_covered_is_enough() -> None:
    sim = run_wallet({ts(0): [trade(AWEETH, BUY, 1.0)]}, balances={"ETH": 0.0025, "WEETH": 1.0})
    assert sim.strategy.rejections == []
    assert final_balances(sim) == {"AWEETH": 1.0}  # ETH 0.0025 - 250,000 × 10 gwei = 0


def test_an_atomic_transaction_whose_gas_cannot_be_prepaid_charges_nothing() -> None:
    balances = {"ETH": 0.001, "WEETH": 1.0}  # atomic_deleverage gas is 0.011 ETH
    sim = run_wallet({ts(0): [atomic((AWEETH, BUY, 1.0), (AWEETH, SELL, 0.5))]}, balances=balances)
    assert len(sim.strategy.rejections) == 2
    assert all("INSUFFICIENT_GAS" in r for r in sim.strategy.rejections)
    assert final_balances(sim) == balances


# -------------------------------------------------------------------------------------------------
# 3. Atomic leverage: mint → supply → borrow in one transaction, flash-loaned, all or nothing
# -------------------------------------------------------------------------------------------------

EQUITY_ETH = 2.0
LEVERED_WEETH = 20.0  # costs 20 × 1.05 = 21 ETH: a flash loan of 21 - 2 = 19 ETH
FLASHED = LEVERED_WEETH * RATE - EQUITY_ETH
DEBT_OK = 19.5  # LTV 19.5/21 = 0.9286 < 0.93, HF 0.95 × 21/19.5 = 1.0231


def lever(debt: float) -> Action:
    return atomic((WEETH_RATE, BUY, LEVERED_WEETH), (AWEETH, BUY, LEVERED_WEETH), (VDWETH, SELL, debt))


def run_lever(debt: float, *, flash_provider: str | None = None, **kwargs) -> Sim:
    return run_wallet(
        {ts(0): [lever(debt)]}, balances={"ETH": EQUITY_ETH}, flash_provider=flash_provider, **kwargs
    )


@pytest.mark.parametrize(
    ("provider", "fee_rate"),
    [pytest.param(None, FLASH_FEES["BALANCER"], id="default-balancer"), ("AAVE", FLASH_FEES["AAVE"])],
)
def test_atomic_leverage_borrows_the_eth_shortfall_in_a_flash_loan(provider, fee_rate) -> None:
    sim = run_lever(DEBT_OK, flash_provider=provider)
    fee = FLASHED * fee_rate  # 19 × 5 bps = 0.0095 ETH on Aave
    assert sim.strategy.rejections == []
    assert [(f.instrument_id.value, f.last_px.as_double()) for f in sim.strategy.fills] == [
        (WEETH_RATE, RATE),
        (AWEETH, 1.0),
        (VDWETH, 1.0),
    ]
    eth = EQUITY_ETH - LEVERED_WEETH * RATE + DEBT_OK - fee - gas_eth("atomic_leverage")
    assert final_balances(sim) == pytest.approx(
        {"ETH": eth, "AWEETH": LEVERED_WEETH, "VDWETH": -DEBT_OK}, abs=1e-12
    )
    (flash,) = events(sim, FlashLoanFee)
    assert flash == FlashLoanFee(
        provider or "BALANCER", pytest.approx(FLASHED, abs=1e-12), pytest.approx(fee, abs=1e-12), ts(0)
    )
    assert [g.operation for g in sim.strategy.gas_events] == ["atomic_leverage"]
    risk = sim.wallet.risk_figures()
    assert risk["aave_health_factor"] == pytest.approx(EMODE_LT * LEVERED_WEETH * RATE / DEBT_OK, rel=1e-12)
    assert risk["aave_ltv"] == pytest.approx(DEBT_OK / (LEVERED_WEETH * RATE), rel=1e-12)


@pytest.mark.parametrize(
    ("debt", "reason"),
    [
        # LTV 19.7/21 = 0.9381 > 0.93 while HF 0.95 × 21/19.7 = 1.0127 is still above 1
        pytest.param(19.7, "AAVE_LTV", id="ltv-above-emode-max"),
        # HF 0.95 × 21/20 = 0.9975 < 1
        pytest.param(20.0, "AAVE_HEALTH", id="health-factor-below-1"),
    ],
)
def test_atomic_leverage_that_fails_a_check_reverts_every_step_but_burns_its_gas(debt, reason) -> None:
    sim = run_lever(debt, flash_provider="AAVE")
    assert len(sim.strategy.rejections) == 3
    assert all(reason in r for r in sim.strategy.rejections)
    assert sim.strategy.fills == []
    assert final_balances(sim) == pytest.approx({"ETH": EQUITY_ETH - gas_eth("atomic_leverage")}, abs=1e-12)
    assert [g.operation for g in sim.strategy.gas_events] == ["atomic_leverage"]
    assert sim.strategy.wallet_events == []  # no flash-loan fee, no interest, no liquidation


def test_supply_above_the_cap_is_refused() -> None:
    # the reserve holds 1,000 weETH (snapshot) under a cap of 1,000.5: 0.6 more would exceed it
    sim = run_wallet(
        {ts(0): [trade(AWEETH, BUY, 0.6)]},
        balances={"ETH": 1.0, "WEETH": 1.0},
        params=aave_params(weETH={"supply_cap": 1_000.5}),
        chain_data=[snapshot("weETH", total_a_token=1_000.0), snapshot("WETH"), snapshot("USDT")],
    )
    (reason,) = sim.strategy.rejections
    assert "AAVE_CAP" in reason
    assert final_balances(sim) == {"ETH": 1.0, "WEETH": 1.0}


def test_supplies_that_together_exceed_the_cap_are_refused() -> None:
    # 1,000 supplied (snapshot) + 0.4 + 0.4 = 1,000.8 > cap 1,000.5: the second supply must fail
    sim = run_wallet(
        {ts(0): [trade(AWEETH, BUY, 0.4)], ts(1): [trade(AWEETH, BUY, 0.4)]},
        balances={"ETH": 1.0, "WEETH": 1.0},
        params=aave_params(weETH={"supply_cap": 1_000.5}),
        chain_data=[snapshot("weETH", total_a_token=1_000.0), snapshot("WETH"), snapshot("USDT")],
    )
    assert len(sim.strategy.rejections) == 1 and "AAVE_CAP" in sim.strategy.rejections[0]


# -------------------------------------------------------------------------------------------------
# 4. Two prices of weETH: mint at the protocol rate, exit on Curve (market) or via the queue (rate)
# -------------------------------------------------------------------------------------------------

SOLD_ON_CURVE, QUEUED, MINTED = 1_000.0, 500.0, 10.0
RATE_LATER = 1.06  # from hour 10 on: a queued request keeps the rate it was made at
REQUEST_HOUR = 1


@pytest.fixture(scope="module")
def exits() -> Sim:
    return run_wallet(
        {
            ts(0): [trade(CURVE, SELL, SOLD_ON_CURVE), record("sold on curve")],
            ts(REQUEST_HOUR): [trade(QUEUE, SELL, QUEUED), record("queued")],
            ts(2): [trade(WEETH_RATE, BUY, MINTED), record("minted")],
            ts(REQUEST_HOUR + QUEUE_DELAY_HOURS - 1): [record("an hour before")],
            ts(REQUEST_HOUR + QUEUE_DELAY_HOURS): [record("a week later")],
        },
        balances={"ETH": 10.0, "WEETH": 2_000.0},
        hours=REQUEST_HOUR + QUEUE_DELAY_HOURS + 1,
        prices={ETH_USD: ETH_PRICE, WEETH_RATE: [(FIRST_HOUR, RATE), (10, RATE_LATER)], CURVE: MARKET},
    )


def test_selling_weeth_on_curve_pays_the_market_price_with_impact_and_fee(exits: Sim) -> None:
    price = curve_sale_price(SOLD_ON_CURVE)  # 1.04 × 1e6 / (1e6 + 2,080) = 1.0378412901
    assert price == pytest.approx(1.0378412901, abs=1e-10)
    (fill, *_) = exits.strategy.fills
    assert fill.last_px.as_double() == price
    eth = 10.0 + SOLD_ON_CURVE * price * (1 - CURVE_FEE) - gas_eth("token_swap")  # +1,037.4261536
    assert exits.strategy.seen["sold on curve"] == pytest.approx({"ETH": eth, "WEETH": 1_000.0}, abs=1e-8)


def test_the_withdrawal_queue_pays_the_protocol_rate_exactly_168_hours_later(exits: Sim) -> None:
    seen = exits.strategy.seen
    claim = QUEUED * RATE  # 525 ETH at 1.05, not the 1.04 market nor the later 1.06 rate
    eth_queued = seen["sold on curve"]["ETH"] - gas_eth("unstake_request")
    assert seen["queued"] == pytest.approx({"ETH": eth_queued, "WEETH": 500.0, "WQETH": claim}, abs=1e-12)
    assert seen["an hour before"]["WQETH"] == claim
    later = seen["a week later"]
    assert "WQETH" not in later
    assert later["ETH"] == pytest.approx(seen["an hour before"]["ETH"] + claim, abs=1e-12)
    assert events(exits, WithdrawalFinalised) == [
        WithdrawalFinalised("WEETH", claim, ts(REQUEST_HOUR + QUEUE_DELAY_HOURS))
    ]


def test_minting_weeth_costs_the_protocol_rate(exits: Sim) -> None:
    before, after = exits.strategy.seen["queued"], exits.strategy.seen["minted"]
    assert after["WEETH"] == before["WEETH"] + MINTED
    assert after["ETH"] == pytest.approx(before["ETH"] - MINTED * RATE - gas_eth("stake"), abs=1e-12)


# -------------------------------------------------------------------------------------------------
# 5. EtherFi rewards: per-eETH amount × time-weighted eETH held (weETH and aWeETH, at the rate)
# -------------------------------------------------------------------------------------------------

HELD_WEETH = 100.0
PER_EETH = 0.002
PERIOD = (ts(0), ts(10))
PAYOUT_NS = ts(10) + HOUR // 2


def eigen_reward() -> RewardDistribution:
    return RewardDistribution(
        token="EIGEN",
        program="eigen_weekly",
        period_start_ns=PERIOD[0],
        period_end_ns=PERIOD[1],
        per_eeth=PER_EETH,
        per_eeth_low=PER_EETH,
        per_eeth_high=PER_EETH,
        estimated=False,
        ts_event=PAYOUT_NS,
        ts_init=PAYOUT_NS,
    )


RATE_FROM_HOUR_5 = 1.08


def run_rewards(
    script: dict[int, list[Action]], *, credit_rewards: bool = True, rate_bar_first: bool = True
) -> Sim:
    """100 weETH held, the rate 1.05 then 1.08 from hour 5, and one EIGEN payout for hours 0-10.

    The upkeep samples holdings on the first bar of a timestamp, so by default the rate bar comes
    first (see the last rewards test for the other order).
    """
    prices = {WEETH_RATE: [(FIRST_HOUR, RATE), (5, RATE_FROM_HOUR_5)], ETH_USD: ETH_PRICE}
    if not rate_bar_first:
        prices = dict(reversed(prices.items()))
    return run_wallet(
        script,
        balances={"ETH": 100.0, "WEETH": HELD_WEETH},
        hours=12,
        prices=prices,
        chain_data=[*still_reserves(), eigen_reward()],
        credit_rewards=credit_rewards,
    )


SUPPLY_SOME = {ts(2): [trade(AWEETH, BUY, 40.0)]}  # weETH supplied to Aave still earns
REWARDED_EETH = HELD_WEETH * (RATE * 5 + RATE_FROM_HOUR_5 * 5) / 10  # 106.5 eETH over hours 0-10


def test_reward_is_per_eeth_times_the_time_weighted_eeth_held() -> None:
    sim = run_rewards(SUPPLY_SOME)
    # 100 weETH (60 of them as aWeETH from hour 2) at 1.05 for 5 h, then at 1.08 for 5 h
    reward = PER_EETH * REWARDED_EETH  # 0.213 EIGEN
    assert events(sim, RewardCredited) == [
        RewardCredited("EIGEN", pytest.approx(reward, rel=1e-12), "eigen_weekly", False, PAYOUT_NS)
    ]
    assert final_balances(sim)["EIGEN"] == pytest.approx(reward, abs=BOOKED)


def test_rewards_are_not_credited_when_crediting_is_off() -> None:
    sim = run_rewards(SUPPLY_SOME, credit_rewards=False)
    assert events(sim, RewardCredited) == []
    assert "EIGEN" not in final_balances(sim)


def test_holdings_changed_during_the_period_count_from_the_change() -> None:
    sim = run_rewards({ts(4): [trade(WEETH_RATE, BUY, 50.0)]})
    # 100 weETH for 4 h at 1.05, 150 weETH for 1 h at 1.05 and for 5 h at 1.08
    average_eeth = (HELD_WEETH * RATE * 4 + 150 * RATE * 1 + 150 * RATE_FROM_HOUR_5 * 5) / 10  # 138.75 eETH
    (credited,) = events(sim, RewardCredited)
    assert credited.amount == pytest.approx(PER_EETH * average_eeth, rel=1e-9)


def test_the_rate_of_a_timestamp_values_its_holdings_whatever_the_bar_order() -> None:
    (credited,) = events(run_rewards({}, rate_bar_first=False), RewardCredited)
    assert credited.amount == pytest.approx(PER_EETH * REWARDED_EETH, rel=1e-9)


# -------------------------------------------------------------------------------------------------
# 6. Aave liquidation by the upkeep when the weETH rate falls
# -------------------------------------------------------------------------------------------------

DROP_HOUR = 3


def liquidation_case(rate: float) -> tuple[float, float, float]:
    """(HF, repaid, seized) by hand for the levered position (20 aWeETH, 19.5 WETH debt) at ``rate``.

    Close factor 50 % for 0.95 ≤ HF < 1, 100 % below; seized = repaid × (1 + 1 %) / rate, all the
    collateral at most (then repaid = collateral × rate / 1.01).
    """
    hf = EMODE_LT * LEVERED_WEETH * rate / DEBT_OK
    repaid = DEBT_OK * (0.5 if hf >= 0.95 else 1.0)
    seized = repaid * (1 + EMODE_BONUS) / rate
    if seized > LEVERED_WEETH:
        seized, repaid = LEVERED_WEETH, LEVERED_WEETH * rate / (1 + EMODE_BONUS)
    return hf, repaid, seized


@pytest.mark.parametrize(
    ("rate", "hf", "repaid", "seized"),
    [
        # HF 0.95 × 20 × 1.02 / 19.5 = 0.99385: half the debt, 9.75 × 1.01 / 1.02 = 9.65441 seized
        pytest.param(1.02, 0.9938461538, 9.75, 9.6544117647, id="half-close-factor"),
        # HF 0.94513 < 0.95: all the debt would need 20.304 weETH, so all 20 go for 19.20792 of it
        pytest.param(0.97, 0.9451282051, 19.2079207921, 20.0, id="full-close-capped-by-collateral"),
    ],
)
def test_an_unhealthy_position_is_liquidated_once(rate, hf, repaid, seized) -> None:
    assert liquidation_case(rate) == pytest.approx((hf, repaid, seized), abs=1e-10)
    sim = run_lever(
        DEBT_OK,
        hours=DROP_HOUR + 3,
        prices={ETH_USD: ETH_PRICE, WEETH_RATE: [(FIRST_HOUR, RATE), (DROP_HOUR, rate)]},
    )
    assert sim.wallet.upkeep.liquidations == [
        AaveLiquidated(
            "VDWETH",
            pytest.approx(repaid, rel=1e-9),
            "AWEETH",
            pytest.approx(seized, rel=1e-9),
            pytest.approx(hf, rel=1e-9),
            ts(DROP_HOUR),
        )
    ]
    assert events(sim, AaveLiquidated) == sim.wallet.upkeep.liquidations
    eth = EQUITY_ETH - LEVERED_WEETH * RATE + DEBT_OK - gas_eth("atomic_leverage")
    left = {"ETH": eth, "AWEETH": LEVERED_WEETH - seized, "VDWETH": repaid - DEBT_OK}
    assert final_balances(sim) == pytest.approx({k: v for k, v in left.items() if abs(v) > 1e-9}, abs=1e-8)


def test_a_position_still_above_hf_1_is_left_alone() -> None:
    # rate 1.03: HF 0.95 × 20 × 1.03 / 19.5 = 1.0036
    sim = run_lever(
        DEBT_OK,
        hours=DROP_HOUR + 3,
        prices={ETH_USD: ETH_PRICE, WEETH_RATE: [(FIRST_HOUR, RATE), (DROP_HOUR, 1.03)]},
    )
    assert sim.wallet.upkeep.liquidations == [] and events(sim, AaveLiquidated) == []
    assert final_balances(sim)["AWEETH"] == LEVERED_WEETH


def test_mixed_collateral_is_seized_with_the_bonus_of_the_seized_asset() -> None:
    # standard mode (USDT is outside the ETH e-mode): HF = (3,000/3,000 × 0.78 + 20 × r × 0.80) / 16.5;
    # at r = 0.97, HF = 0.98788 → half the debt (8.25 WETH) repaid with 8.25 × 1.07 / 0.97 weETH
    debt, rate = 16.5, 0.97
    sim = run_wallet(
        {
            ts(0): [
                trade(AUSDT, BUY, 3_000.0),
                trade(AWEETH, BUY, LEVERED_WEETH),
                trade(VDWETH, SELL, debt),
            ]
        },
        balances={"ETH": 1.0, "USDT": 3_000.0, "WEETH": LEVERED_WEETH},
        hours=DROP_HOUR + 2,
        prices={ETH_USD: ETH_PRICE, WEETH_RATE: [(FIRST_HOUR, RATE), (DROP_HOUR, rate)]},
    )
    assert sim.strategy.rejections == []
    (liquidated,) = sim.wallet.upkeep.liquidations
    assert liquidated.health_factor == pytest.approx((0.78 + LEVERED_WEETH * rate * 0.80) / debt, rel=1e-12)
    assert (liquidated.collateral_token, liquidated.repaid) == ("AWEETH", pytest.approx(debt / 2, rel=1e-12))
    assert liquidated.seized == pytest.approx(debt / 2 * 1.07 / rate, rel=1e-12)  # 9.10052
