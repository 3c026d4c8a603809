"""Bybit and OKX account modes: ``classic`` (separate wallets) and ``unified`` (one margin account,
spot coins as collateral at their collateral ratio).

Hand computation of the unified account used below (Bybit, BTC collateral ratio 0.95, perp
maintenance 0.4 %, initial 1 %): cash S = 2,500 USDT, 0.15 BTC spot marked at 60,030, a
0.15 BTC short opened at 58,000 marked at 60,000:

- coins' collateral 0.15 × 60,030 × 0.95 = 8,554.275; unrealized −0.15 × 2,000 = −300
- margin balance 2,500 + 8,554.275 − 300 = 10,754.275; initial margin 0.15 × 60,000 × 1 % = 90
- margin available 10,664.275; maintenance 0.15 × 60,000 × 0.4 % = 36
- equity 2,500 + 9,004.5 − 300 = 11,204.5 (coins at full value); hedge margin 2,500 − 300 = 2,200
- liquidation: the coins move with the perp (spot = P × 60,030 / 60,000), so
  2,500 + 0.15 × 0.95 × 1.0005 P − 0.15 (P − 58,000) = 0.15 × 0.004 P
  ⇒ P = (2,500 + 8,700) / (0.15 + 0.0006 − 0.14257125) ≈ 1.395 M
"""

from __future__ import annotations

import re

import pytest
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.config import load_cex_venue
from adapters.cex.margin import PerpState, SpotState, VenueWallets, liquidation_price
from adapters.config import VENUE_CONFIG_DIR, ConfigError
from adapters.events import TransferKind, TransferStatus
from backtesting.config import load_run_config, mode_file_path
from tests.sim_harness import bar, do, flat_bars, run_sim, ts
from tests.venue_modes import set_venue_field, venue_dir_in_mode

SPOT_ID = InstrumentId.from_str("BTCUSDT-SPOT.BYBIT")
PERP_ID = InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT")
SPOT, PERP = str(SPOT_ID), str(PERP_ID)


def _unified(cash: float, spot_px: float, perp_px: float, ratio: float = 0.95) -> VenueWallets:
    spot = SpotState(SPOT_ID, 0.15, 59_000.0, spot_px, ratio, "BTC")
    short = PerpState(PERP_ID, -0.15, 58_000.0, perp_px, 0.004, 0.01, False, "BTC")
    return VenueWallets("BYBIT", cash, cash, 0.0, (spot,), (short,), unified=True)


# -- configuration ---------------------------------------------------------------------------


def test_shipped_venues_bybit_and_okx_unified_binance_classic():
    for venue in ("BYBIT", "OKX"):
        config = load_cex_venue(venue)
        assert config.account_mode == "unified" and config.unified
        assert config.collateral_ratio("BTC") == 0.95 and config.collateral_ratio("ETH") == 0.95
        assert config.spot_fee_currency == "quote"
    binance = load_cex_venue("BINANCE")
    assert binance.account_mode == "classic" and binance.collateral_ratio("BTC") == 0.0
    assert binance.spot_fee_currency == "received"


def test_a_classic_venue_counts_no_coin_as_collateral(tmp_path):
    folder = venue_dir_in_mode(tmp_path, "classic")
    config = load_cex_venue("BYBIT", folder)
    assert not config.unified
    assert config.collateral_ratio("BTC") == 0.0  # the YAML's ratio applies to unified mode only


@pytest.mark.parametrize(
    ("venue", "field", "value", "message"),
    [
        ("BYBIT", "account_mode", "hybrid", "account_mode"),
        ("OKX", "account_mode", 1, "account_mode"),
        ("BINANCE", "account_mode", "unified", "BINANCE is modelled in classic mode only"),
        ("BYBIT", "collateral_ratios", {"BTC": 0.95}, "`collateral_ratios` needs a ratio for ETH"),
        ("OKX", "collateral_ratios", {"BTC": 1.2, "ETH": 0.9}, "`collateral_ratios.BTC` must be in [0, 1]"),
        ("BINANCE", "spot_fee_currency", "base", "spot_fee_currency"),
        ("BYBIT", "spot_fee_currency", "received", "BYBIT's spot is simulated on its margin account"),
    ],
)
def test_a_bad_account_setting_is_a_config_error_naming_file_and_field(
    tmp_path, venue, field, value, message
):
    folder = venue_dir_in_mode(tmp_path, "unified")
    path = set_venue_field(folder, venue, field, value)
    with pytest.raises(ConfigError) as error:
        load_cex_venue(venue, folder)
    assert str(path) in str(error.value) and message in str(error.value)
    # a run is refused before anything is built
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_run_config(mode_file_path("btc_basis"), venue_config_dir=folder)


def test_the_default_account_mode_is_classic(tmp_path):
    folder = venue_dir_in_mode(tmp_path, "unified")
    path = folder / "okx.yaml"
    text = path.read_text()
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("account_mode")))
    assert load_cex_venue("OKX", folder).account_mode == "classic"
    assert load_cex_venue("OKX", VENUE_CONFIG_DIR).account_mode == "unified"


# -- the unified margin arithmetic -----------------------------------------------------------


def test_unified_margin_counts_coins_at_their_collateral_ratio():
    wallets = _unified(2_500.0, 60_030.0, 60_000.0)
    assert wallets.spot_collateral == pytest.approx(0.15 * 60_030 * 0.95)
    assert wallets.collateral == pytest.approx(2_500 + 8_554.275)
    assert wallets.margin_balance == pytest.approx(10_754.275)
    assert wallets.initial_margin == pytest.approx(90.0)
    assert wallets.margin_available == pytest.approx(10_664.275)
    assert wallets.margin_ratio == pytest.approx(36.0 / 10_754.275)
    assert wallets.equity == pytest.approx(11_204.5)
    # what the basis band is judged on: the margin the coins do not provide (cash + unrealized)
    assert wallets.hedge_margin == pytest.approx(2_500 - 300)
    # one wallet: nothing to move between spot and futures, the cash is free while margin allows
    assert wallets.transferable_from_futures == 0.0
    assert wallets.free_cash == pytest.approx(2_500.0)
    assert wallets.releasable_margin == pytest.approx(2_500.0)


def test_the_same_book_in_classic_mode_has_no_coin_collateral():
    spot = SpotState(SPOT_ID, 0.15, 59_000.0, 60_030.0, 0.0, "BTC")
    short = PerpState(PERP_ID, -0.15, 58_000.0, 60_000.0, 0.004, 0.01, False, "BTC")
    wallets = VenueWallets("BYBIT", 0.0, 1_000.0, 1_500.0, (spot,), (short,))
    assert wallets.spot_collateral == 0.0
    assert wallets.margin_balance == pytest.approx(1_500 - 300)
    assert wallets.hedge_margin == wallets.margin_balance

    assert wallets.equity == pytest.approx(1_000 + 9_004.5 + 1_500 - 300)
    assert wallets.free_cash == 1_000.0
    assert wallets.transferable_from_futures == pytest.approx(1_500 - 300 - 90)


def test_unified_free_cash_is_capped_by_the_margin_the_perps_leave():
    short = PerpState(PERP_ID, -1.0, 60_000.0, 60_800.0, 0.004, 0.01, False, "BTC")
    # 5,000 cash − 800 loss − 608 initial margin: 3,592 may leave
    wallets = VenueWallets("BYBIT", 5_000.0, 5_000.0, 0.0, (), (short,), unified=True)
    assert wallets.free_cash == pytest.approx(3_592.0)
    # 1,000 cash cannot even cover loss and initial margin: nothing may leave
    wallets = VenueWallets("BYBIT", 1_000.0, 1_000.0, 0.0, (), (short,), unified=True)
    assert wallets.margin_available == pytest.approx(-408.0)
    assert wallets.free_cash == 0.0


def test_unified_liquidation_price_moves_the_coins_with_the_perp():
    wallets = _unified(2_500.0, 60_030.0, 60_000.0)
    ratio = 60_030.0 / 60_000.0
    expected = (2_500 + 0.15 * 58_000) / (0.15 + 0.15 * 0.004 - 0.15 * 0.95 * ratio)
    price = liquidation_price(wallets, wallets.perps[0])
    assert price == pytest.approx(expected)
    # at that price (coins marked in proportion) the margin balance meets maintenance exactly
    at = _unified(2_500.0, price * ratio, price)
    assert at.margin_balance == pytest.approx(at.maintenance_margin, rel=1e-9)
    # without the coins' collateral (classic, the cash as futures wallet) it comes far sooner
    classic = VenueWallets("BYBIT", 0.0, 0.0, 2_500.0, (), wallets.perps)
    assert liquidation_price(classic, classic.perps[0]) == pytest.approx((2_500 + 8_700) / 0.1506)


def test_coins_of_another_base_are_held_at_their_marks():
    eth = SpotState(InstrumentId.from_str("ETHUSDT-SPOT.BYBIT"), 2.0, 3_000.0, 3_000.0, 0.95, "ETH")
    short = PerpState(PERP_ID, -0.15, 58_000.0, 60_000.0, 0.004, 0.01, False, "BTC")
    wallets = VenueWallets("BYBIT", 2_500.0, 2_500.0, 0.0, (eth,), (short,), unified=True)
    fixed = 2_500 + 2 * 3_000 * 0.95
    assert liquidation_price(wallets, short) == pytest.approx((fixed + 0.15 * 58_000) / 0.1506)


# -- the venue simulation in both modes ------------------------------------------------------


def _venue_config(tmp_path, account_mode: str):
    return {"BYBIT": load_cex_venue("BYBIT", venue_dir_in_mode(tmp_path / account_mode, account_mode))}


def _basis_bars(spike_high: float):
    def bars(instruments):
        spot, perp = instruments[SPOT], instruments[PERP]
        return [
            *flat_bars(spot, range(0, 6), 60_000.0),
            *flat_bars(perp, range(0, 6), 60_000.0),
            bar(spot, 6, 60_000.0, spike_high, 59_900.0, 61_000.0),
            bar(perp, 6, 60_000.0, spike_high, 59_900.0, 61_000.0),
            *flat_bars(spot, range(7, 9), 61_000.0),
            *flat_bars(perp, range(7, 9), 61_000.0),
        ]

    return bars


def _basis_script(classic: bool) -> dict:
    """Deposit 10,000, buy 0.1 BTC spot, (classic: move the rest to futures), short 0.1 BTC."""
    script = {
        ts(0): [do(lambda s: s.transfer(TransferKind.DEPOSIT, "BYBIT", 10_000))],
        ts(2): [do(lambda s: s.market(SPOT_ID, OrderSide.BUY, "0.100000"))],
        ts(4): [do(lambda s: s.market(PERP_ID, OrderSide.SELL, "0.100"))],
    }
    if classic:
        script[ts(3)] = [do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BYBIT", 3_990))]
    return script


def _run_basis(tmp_path, account_mode: str, spike_high: float):
    return run_sim(
        venues=("BYBIT",),
        bars=_basis_bars(spike_high),
        script=_basis_script(account_mode == "classic"),
        subscribe=(SPOT, PERP),
        venue_configs=_venue_config(tmp_path, account_mode),
    )


def test_a_rally_that_liquidates_the_classic_short_leaves_the_unified_book_intact(tmp_path):
    # classic: futures wallet 3,990 − 3.30 fee; the short meets maintenance at
    # (3,986.70 + 6,000) / 0.1004 = 99,469.1; a high of 100,000 liquidates it
    classic = _run_basis(tmp_path, "classic", 100_000.0)
    (event,) = classic.strategy.liquidation_events
    assert event.price == pytest.approx((3_986.7 + 6_000) / 0.1004, abs=0.1)
    # unified: the 0.1 BTC (collateral 0.95) back the short; liquidation near 1.85 M
    unified = _run_basis(tmp_path, "unified", 100_000.0)
    assert unified.strategy.liquidation_events == []
    assert unified.strategy.rejections == []
    wallets = unified.cex["BYBIT"].wallets()
    cash = 10_000 - 6_000 - 6.0 - 3.3  # spot cost and fee (0.1 %), perp fee (0.055 %)
    assert wallets.spot_cash == pytest.approx(cash)
    assert wallets.futures_wallet == 0.0
    assert wallets.margin_balance == pytest.approx(cash + 0.1 * 61_000 * 0.95 - 0.1 * 1_000)
    assert wallets.equity == pytest.approx(cash + 6_100 - 100)
    trigger = unified.cex["BYBIT"]._liquidation_trigger(PERP_ID)
    assert trigger == pytest.approx((cash + 6_000) / (0.1004 - 0.1 * 0.95))


def test_a_unified_account_refuses_internal_transfers_and_keeps_the_margin_it_needs(tmp_path):
    script = _basis_script(classic=False)
    script[ts(5)] = [
        do(lambda s: s.transfer(TransferKind.TO_FUTURES, "BYBIT", 100, "to-futures")),
        do(lambda s: s.transfer(TransferKind.TO_SPOT, "BYBIT", 100, "to-spot")),
        do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BYBIT", 4_000, "too-much")),
        do(lambda s: s.transfer(TransferKind.WITHDRAWAL, "BYBIT", 3_000, "ok")),
    ]
    sim = run_sim(
        venues=("BYBIT",),
        bars=_basis_bars(61_000.0),
        script=script,
        subscribe=(SPOT, PERP),
        venue_configs=_venue_config(tmp_path, "unified"),
    )
    by_id = {e.request_id: e for e in sim.strategy.transfer_events}
    for request in ("to-futures", "to-spot"):
        assert by_id[request].status == TransferStatus.FAILED
        assert "unified account" in by_id[request].reason
    assert by_id["too-much"].status == TransferStatus.FAILED
    assert "can release 3990.70" in by_id["too-much"].reason
    assert by_id["ok"].status != TransferStatus.FAILED
    bybit_withdrawal_fee = 4.0  # configs/venues/bybit.yaml
    assert sim.cex["BYBIT"].wallets().spot_cash == pytest.approx(3_990.7 - 3_000 - bybit_withdrawal_fee)


def test_internal_transfers_still_work_on_a_classic_account(tmp_path):
    sim = _run_basis(tmp_path, "classic", 61_000.0)
    wallets = sim.cex["BYBIT"].wallets()
    assert sim.strategy.liquidation_events == []
    assert (wallets.spot_cash, wallets.futures_wallet) == pytest.approx((4.0, 3_990 - 3.3))
    assert wallets.spot_collateral == 0.0
    assert sim.cex["BYBIT"].ledger.to_futures == pytest.approx(3_990.0)
