"""The wallet venue: transfers to and from CEX wallets with their gas, fees and delays; investor flows."""

from __future__ import annotations

import pytest
from nautilus_trader.model.currencies import ETH, USDT
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.defi.wallet import ScheduledFlow
from adapters.events import (
    CAPITAL_TOPIC,
    PAYOUT_ENDPOINT,
    CapitalFlowKind,
    PayoutRequest,
    TransferKind,
    TransferStatus,
)
from adapters.hours import MINUTE_NS
from tests.sim_harness import do, flat_bars, run_sim, ts

POOL = "ETHUSDT-UNIV3.ETHEREUM"
GWEI = 10.0
TRANSFER_GAS_ETH = 100_000 * GWEI * 1e-9
BINANCE_WITHDRAWAL_FEE = 4.5  # configs/venues/binance.yaml


def _bars(instruments):
    return flat_bars(instruments[POOL], range(0, 8), 3_000.0)


def _balances(strategy) -> dict[str, float]:
    """USDT in the wallet and on Binance (its spot and futures accounts), and the wallet's ETH."""
    out = {}
    for name, venues in (("ETHEREUM", ("ETHEREUM",)), ("BINANCE", ("BINANCE", "BINANCE_SPOT"))):
        accounts = [strategy.cache.account_for_venue(Venue(venue)) for venue in venues]
        out[name] = sum(account.balance_total(USDT).as_double() for account in accounts)
    out["ETH"] = strategy.cache.account_for_venue(Venue("ETHEREUM")).balance_total(ETH).as_double()
    return out


def _record(label: str):
    return do(lambda s: s.__dict__.setdefault("seen", {}).__setitem__(label, _balances(s)))


def _run(script: dict, **kwargs):
    return run_sim(bars=_bars, script=script, subscribe=(POOL,), gas_gwei=GWEI, **kwargs)


def test_deposit_pays_gas_now_and_is_credited_after_the_confirmation_delay():
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 10_000)), _record("sent")],
            ts(1): [_record("next bar, before the venue processes the arrival")],
            ts(2): [_record("later")],
        },
    )
    seen = sim.strategy.seen
    assert seen["sent"] == pytest.approx(
        {"ETHEREUM": 90_000.0, "BINANCE": 0.0, "ETH": 1.0 - TRANSFER_GAS_ETH}
    )
    assert seen["next bar, before the venue processes the arrival"]["BINANCE"] == 0.0
    assert seen["later"]["BINANCE"] == pytest.approx(10_000.0)
    statuses = [(e.status, e.ts_event) for e in sim.strategy.transfer_events]
    assert statuses == [  # the lifecycle: requested → submitted → arrived
        (TransferStatus.REQUESTED, ts(0)),
        (TransferStatus.SUBMITTED, ts(0)),
        (TransferStatus.ARRIVED, ts(1)),
    ]
    assert sim.strategy.transfer_events[-1].ledger.deposited == pytest.approx(10_000.0)


@pytest.mark.parametrize(
    ("amount", "wallet_eth", "reason"),
    [(200_000.0, 1.0, "wallet holds 100000.00 USDT"), (1_000.0, 0.0, "gas needs")],
)
def test_deposit_the_wallet_cannot_fund_is_rejected_and_moves_nothing(amount, wallet_eth, reason):
    sim = _run(
        {ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", amount)), _record("after")]},
        wallet_eth=wallet_eth,
    )
    requested, event = sim.strategy.transfer_events
    assert requested.status == TransferStatus.REQUESTED
    assert event.status == TransferStatus.FAILED and reason in event.reason
    assert sim.strategy.seen["after"] == pytest.approx(
        {"ETHEREUM": 100_000.0, "BINANCE": 0.0, "ETH": wallet_eth}
    )


def test_withdrawal_charges_the_venue_fee_now_and_arrives_after_the_delay():
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 10_000))],
            ts(2): [do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BINANCE", 5_000)), _record("sent")],
            ts(4): [_record("arrived")],
        },
    )
    seen = sim.strategy.seen
    assert seen["sent"]["BINANCE"] == pytest.approx(10_000 - 5_000 - BINANCE_WITHDRAWAL_FEE)
    assert seen["sent"]["ETHEREUM"] == pytest.approx(90_000.0)
    assert seen["arrived"]["ETHEREUM"] == pytest.approx(95_000.0)
    sent = [e for e in sim.strategy.transfer_events if e.kind == TransferKind.WITHDRAWAL]
    assert [e.status for e in sent] == [
        TransferStatus.REQUESTED,
        TransferStatus.SUBMITTED,
        TransferStatus.ARRIVED,
    ]
    assert sent[1].fee_usdt == BINANCE_WITHDRAWAL_FEE
    assert sent[2].ts_event == ts(3)  # 30 minutes later: the next processed instant


def test_internal_transfers_are_instant_and_limited_to_what_each_wallet_may_release():
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 1_000))],
            ts(2): [
                do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", 1_500, "too-much")),
                do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", 600, "ok")),
                do(lambda s: s.transfer(TransferKind.TO_SPOT, "BINANCE", 700, "too-much-back")),
                do(lambda s: s.transfer(TransferKind.TO_SPOT, "BINANCE", 100, "ok-back")),
            ],
        },
    )
    by_id = {e.request_id: e for e in sim.strategy.transfer_events}
    assert (
        by_id["too-much"].status == TransferStatus.FAILED
        and "spot wallet holds 1000.00" in by_id["too-much"].reason
    )
    assert by_id["ok"].status == TransferStatus.ARRIVED and by_id["ok"].ts_event == ts(2)
    assert (
        by_id["too-much-back"].status == TransferStatus.FAILED
        and "can release 600.00" in by_id["too-much-back"].reason
    )
    assert by_id["ok-back"].ledger.to_futures == pytest.approx(500.0)
    wallets = sim.cex["BINANCE"].wallets()
    assert (wallets.spot_cash, wallets.futures_wallet) == pytest.approx((500.0, 500.0))


def test_investor_flows_credit_the_wallet_and_payouts_debit_it():
    flows = [ScheduledFlow(ts(1), 25_000.0), ScheduledFlow(ts(3), -40_000.0)]

    def collect(strategy) -> None:
        strategy.flows = []
        strategy.msgbus.subscribe(CAPITAL_TOPIC, strategy.flows.append)

    sim = _run(
        {
            ts(0): [collect],
            ts(2): [_record("after deposit")],
            ts(4): [
                do(lambda s: s.msgbus.send(PAYOUT_ENDPOINT, PayoutRequest(40_000.0))),
                _record("after payout"),
            ],
        },
        flows=flows,
    )
    kinds = [(f.kind, f.amount) for f in sim.strategy.flows]
    assert kinds == [
        (CapitalFlowKind.DEPOSIT, 25_000.0),
        (CapitalFlowKind.WITHDRAWAL_REQUESTED, 40_000.0),
        (CapitalFlowKind.WITHDRAWAL, 40_000.0),
    ]
    assert sim.strategy.seen["after deposit"]["ETHEREUM"] == pytest.approx(125_000.0)
    assert sim.strategy.seen["after payout"]["ETHEREUM"] == pytest.approx(85_000.0)


def test_spot_eth_withdrawal_leaves_the_venue_with_its_fee_and_lands_after_the_delay():
    """Bybit: 1 ETH bought spot at 3,000, 0.9 ETH withdrawn. 0.9 + the 0.0008 ETH fee leave the
    spot holding at once without a trade (the spot cash is untouched), the wallet gets 0.9 ETH
    after the 30-minute delay; withdrawing more than is held is refused and moves nothing."""
    spot = InstrumentId.from_str("ETHUSDT-SPOT.BYBIT")
    fee_eth, taker = 0.0008, 0.001  # configs/venues/bybit.yaml

    def bars(instruments):
        return [*_bars(instruments), *flat_bars(instruments[str(spot)], range(0, 8), 3_000.0)]

    def state(s) -> dict[str, float]:
        qty = sum(p.signed_qty for p in s.cache.positions_open(instrument_id=spot))
        cost = sum(p.signed_qty * p.avg_px_open for p in s.cache.positions_open(instrument_id=spot))
        balance = s.cache.account_for_venue(Venue("BYBIT")).balance_total(USDT).as_double()
        eth = s.cache.account_for_venue(Venue("ETHEREUM")).balance_total(ETH).as_double()
        return {"spot_eth": qty, "spot_cash": balance - cost, "wallet_eth": eth}

    def note(label: str):
        return do(lambda s: s.__dict__.setdefault("seen", {}).__setitem__(label, state(s)))

    sim = run_sim(
        venues=("BYBIT",),
        bars=bars,
        subscribe=(POOL, str(spot)),
        gas_gwei=GWEI,
        script={
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BYBIT", 5_000))],
            ts(2): [do(lambda s: s.market(spot, OrderSide.BUY, "1.00000"))],
            ts(3): [
                note("before"),
                do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BYBIT", 5.0, "too-much", asset="ETH")),
                do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BYBIT", 0.9, "eth-out", asset="ETH")),
                note("sent"),
            ],
            ts(5): [note("arrived")],
        },
    )
    seen = sim.strategy.seen
    assert seen["before"]["spot_eth"] == pytest.approx(1.0)
    assert seen["before"]["spot_cash"] == pytest.approx(5_000 - 3_000 * (1 + taker))
    assert seen["sent"]["spot_eth"] == pytest.approx(1.0 - 0.9 - fee_eth)
    assert seen["sent"]["spot_cash"] == pytest.approx(seen["before"]["spot_cash"])
    assert seen["sent"]["wallet_eth"] == pytest.approx(seen["before"]["wallet_eth"])
    assert seen["arrived"]["wallet_eth"] == pytest.approx(seen["before"]["wallet_eth"] + 0.9)
    events = {(e.request_id, e.status): e for e in sim.strategy.transfer_events}
    rejected = events[("too-much", TransferStatus.FAILED)]
    assert "holds 1.000000" in rejected.reason
    sent = events[("eth-out", TransferStatus.SUBMITTED)]
    assert (sent.asset, sent.fee, sent.fee_usdt) == ("ETH", fee_eth, pytest.approx(fee_eth * 3_000))
    arrived = events[("eth-out", TransferStatus.ARRIVED)]
    delay = 30 * MINUTE_NS  # credited when the wallet next processes time after the delay
    assert sent.ts_event + delay <= arrived.ts_event <= sent.ts_event + 2 * delay
