"""Binance keeps spot apart from futures: a CASH account on its own venue (``BINANCE_SPOT``) beside
the futures MARGIN account (``BINANCE``), as the live adapters see them. Deposits land on spot,
internal transfers move USDT between the two accounts, spot holdings are coin balances, and the
wallet reader reports exactly those balances."""

from __future__ import annotations

import pytest
from nautilus_trader.model.currencies import BTC, ETH, USDT
from nautilus_trader.model.enums import AccountType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.cex.instruments import cex_instrument_id, exchange_of, live_account_id
from adapters.events import TransferKind
from tests.sim_harness import do, flat_bars, run_sim, ts

SPOT = "BTCUSDT.BINANCE_SPOT"
ETH_SPOT = "ETHUSDT.BINANCE_SPOT"
PERP = "BTCUSDT-PERP.BINANCE"
PRICE, ETH_PRICE = 50_000.0, 3_000.0
TAKER = 0.001  # configs/venues/binance.yaml, spot


def _bars(instruments):
    return [
        *flat_bars(instruments[SPOT], range(0, 8), PRICE),
        *flat_bars(instruments[PERP], range(0, 8), PRICE),
        *flat_bars(instruments[ETH_SPOT], range(0, 8), ETH_PRICE),
        *flat_bars(instruments["ETHUSDT-UNIV3.ETHEREUM"], range(0, 8), ETH_PRICE),
    ]


def _run(script):
    return run_sim(bars=_bars, script=script, subscribe=(SPOT, PERP, ETH_SPOT, "ETHUSDT-UNIV3.ETHEREUM"))


def test_spot_instruments_live_on_the_spot_venue_and_map_back_to_the_exchange():
    spot, perp = cex_instrument_id("BINANCE", "BTC", "spot"), cex_instrument_id("BINANCE", "BTC", "perp")
    assert (str(spot), str(perp)) == (SPOT, PERP)
    assert exchange_of(spot) == exchange_of(perp) == "BINANCE"
    assert str(cex_instrument_id("BYBIT", "BTC", "spot")) == "BTCUSDT-SPOT.BYBIT"  # one venue on Bybit
    assert exchange_of(InstrumentId.from_str("BTCUSDT-SPOT.BYBIT")) == "BYBIT"


def test_live_account_ids_are_the_adapters():
    assert str(live_account_id("BINANCE")) == "BINANCE-USDT_FUTURES-master"
    assert str(live_account_id("BINANCE", "BTC")) == "BINANCE-COIN_FUTURES-master"
    assert str(live_account_id("BINANCE_SPOT")) == "BINANCE_SPOT-SPOT-master"
    assert str(live_account_id("BYBIT")) == "BYBIT-UNIFIED"
    assert str(live_account_id("OKX")) == "OKX-master"
    assert live_account_id("ETHEREUM") is None


def test_deposits_land_on_spot_and_internal_transfers_move_cash_between_the_accounts():
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 30_000))],
            ts(2): [do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", 12_000))],
            ts(3): [do(lambda s: s.transfer(TransferKind.TO_SPOT, "BINANCE", 2_000))],
        }
    )
    assert sim.balance("BINANCE_SPOT") == pytest.approx(20_000.0)
    assert sim.balance("BINANCE") == pytest.approx(10_000.0)
    wallets = sim.cex["BINANCE"].wallets()
    assert (wallets.spot_cash, wallets.futures_wallet) == pytest.approx((20_000.0, 10_000.0))
    assert wallets.equity == pytest.approx(30_000.0)
    assert sim.engine.cache.account_for_venue(Venue("BINANCE_SPOT")).type == AccountType.CASH


def test_spot_coins_are_cash_balances_and_withdrawals_take_them_off_the_account():
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 30_000))],
            ts(2): [
                do(lambda s: s.market(InstrumentId.from_str(SPOT), OrderSide.BUY, "0.20000")),
                do(lambda s: s.market(InstrumentId.from_str(ETH_SPOT), OrderSide.BUY, "2.0000")),
            ],
            ts(4): [
                do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BINANCE", 1.5, "eth-out", asset="ETH"))
            ],
        }
    )
    assert sim.balance("BINANCE_SPOT") == pytest.approx(30_000 - 0.2 * PRICE - 2 * ETH_PRICE)
    btc = 0.2 * (1 - TAKER)  # the buys' fees are taken in the coins bought
    assert sim.balance("BINANCE_SPOT", BTC) == pytest.approx(btc)
    eth_fee = 0.0008  # configs/venues/binance.yaml withdrawal_fee_eth
    eth = 2.0 * (1 - TAKER) - 1.5 - eth_fee
    assert sim.balance("BINANCE_SPOT", ETH) == pytest.approx(eth)
    assert sim.balance("BINANCE", USDT) == 0.0  # nothing touched the futures account
    wallets = sim.cex["BINANCE"].wallets()
    held = {str(s.instrument_id): s.qty for s in wallets.spots}
    assert held == pytest.approx({SPOT: btc, ETH_SPOT: eth})
    assert wallets.spot_cash == pytest.approx(sim.balance("BINANCE_SPOT"))
    assert wallets.equity == pytest.approx(sim.balance("BINANCE_SPOT") + btc * PRICE + eth * ETH_PRICE)


def test_a_spot_buy_pays_its_fee_in_the_coin_bought_and_a_sell_in_usdt():
    """As Binance spot charges (no BNB discount): a buy of q at p leaves q(1 − fee) coins for q·p
    USDT; a sell of q leaves q·p(1 − fee) USDT."""
    bought, sold = 0.2, 0.15
    held = []
    spot = InstrumentId.from_str(SPOT)
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 30_000))],
            ts(2): [do(lambda s: s.market(spot, OrderSide.BUY, f"{bought:.5f}"))],
            ts(3): [do(lambda s: held.append(_spot_balances(s)))],
            ts(4): [do(lambda s: s.market(spot, OrderSide.SELL, f"{sold:.5f}"))],
        }
    )
    (after_buy,) = held
    assert after_buy == pytest.approx({"USDT": 30_000 - bought * PRICE, "BTC": bought * (1 - TAKER)})
    assert sim.balance("BINANCE_SPOT") == pytest.approx(30_000 - bought * PRICE + sold * PRICE * (1 - TAKER))
    assert sim.balance("BINANCE_SPOT", BTC) == pytest.approx(bought * (1 - TAKER) - sold)
    buy, sell = sim.strategy.fills
    assert (buy.commission.currency, sell.commission.currency) == (BTC, USDT)
    assert buy.commission.as_double() == pytest.approx(bought * TAKER)
    assert sell.commission.as_double() == pytest.approx(sold * PRICE * TAKER)


def _spot_balances(strategy) -> dict[str, float]:
    """The spot account's USDT and BTC totals, as the strategy sees them."""
    account = strategy.cache.account_for_venue(Venue("BINANCE_SPOT"))
    return {c.code: account.balance_total(c).as_double() for c in (USDT, BTC)}


def test_a_move_to_futures_beyond_the_spot_cash_is_refused_and_moves_nothing():
    sim = _run(
        {
            ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BINANCE", 5_000))],
            ts(2): [do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BINANCE", 6_000, "too-much"))],
        }
    )
    failed = [e for e in sim.strategy.transfer_events if e.request_id == "too-much" and e.reason]
    assert failed and "spot wallet holds 5000.00 USDT" in failed[0].reason
    assert (sim.balance("BINANCE_SPOT"), sim.balance("BINANCE")) == pytest.approx((5_000.0, 0.0))
