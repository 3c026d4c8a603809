"""EtherFi reward programs from the raw files, crediting them from holdings, and the DEX swap model."""

from __future__ import annotations

import csv
import math
import os
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from adapters.defi.dex import SwapQuote, base_for_quote, quote_for_base, sell_base, virtual_reserves
from adapters.defi.rewards import HoldingsIntegral, RewardProgram, reward_amount
from adapters.hours import DAY_NS as DAY
from data_catalog.rewards import (
    EIGEN_FILE,
    REWARDS_SUBDIR,
    SEASON_FILE,
    TOPUP_FILE,
    RewardDataError,
    load_etherfi_rewards,
)

PROJECT = Path(__file__).resolve().parents[2]


def day(text: str) -> int:
    """00:00 UTC of a date, in ns."""
    return pd.Timestamp(text, tz="UTC").value


# ---------------------------------------------------------------- rewards from the real files


@pytest.fixture(scope="module")
def rewards_dir() -> Path:
    root = Path(os.environ.get("BASIS_DATA_DIR", PROJECT.parent / "shared" / "data"))
    if not (root / REWARDS_SUBDIR).is_dir():
        pytest.skip(f"reward files not found under {root / REWARDS_SUBDIR}: set BASIS_DATA_DIR")
    return root


@pytest.fixture(scope="module")
def loaded(rewards_dir: Path):
    return load_etherfi_rewards(rewards_dir)


def find(programs: list[RewardProgram], program: str, start: str) -> RewardProgram:
    (match,) = [p for p in programs if p.program == program and p.period_start_ns == day(start)]
    return match


def test_eigen_per_eeth_is_earned_over_all_eeth(loaded) -> None:
    programs, _ = loaded
    first_week = find(programs, "eigen_weekly", "2024-10-06")
    assert first_week.per_eeth == pytest.approx(358681 / (1531605 + 474149), rel=1e-12)
    assert (first_week.token, first_week.estimated, first_week.source) == ("EIGEN", False, EIGEN_FILE)
    assert first_week.per_eeth_low == first_week.per_eeth_high == first_week.per_eeth
    assert first_week.period_end_ns == day("2024-10-13")  # 00:00 after the inclusive end date 10-12
    assert first_week.payout_ns == first_week.period_end_ns
    last = find(programs, "eigen_weekly", "2025-07-27")
    assert last.per_eeth == pytest.approx(543162 / (3047012 + 194130), rel=1e-12)
    assert last.period_end_ns == day("2025-08-03")


def test_published_weekly_figure_is_reproduced_or_noted(rewards_dir: Path, loaded) -> None:
    programs, notes = loaded
    noted = {n.where for n in notes}
    with (rewards_dir / REWARDS_SUBDIR / EIGEN_FILE).open() as handle:
        raw = list(csv.DictReader(handle))
    eigen = {p.period_start_ns: p for p in programs if p.token == "EIGEN"}
    assert len(eigen) == len(raw)
    reproduced = 0
    for line, row in enumerate(raw, start=2):
        ours = eigen[day(row["staking_period_start"])].per_eeth
        if abs(ours - float(row["eigen_per_eeth_weekly"])) <= 0.0015:
            reproduced += 1
        else:
            assert f"{EIGEN_FILE} line {line}" in noted
    assert reproduced >= 15  # Oct 2024 → early Feb 2025 weeks match the published column


def test_first_eigen_row_spanning_52_days_is_noted_not_hidden(loaded) -> None:
    programs, notes = loaded
    first = find(programs, "eigen_weekly", "2024-08-15")
    assert (first.period_end_ns - first.period_start_ns) // DAY == 52  # 08-15 … 10-05 inclusive
    assert first.per_eeth == pytest.approx(2478088 / (1480684 + 532110), rel=1e-12)
    (note,) = [n for n in notes if n.where == f"{EIGEN_FILE} line 2"]
    assert "0.205" in note.what and "52 days" in note.what
    assert "used 1.231168" in note.decision


def test_later_published_figures_are_per_restaked_eeth(loaded) -> None:
    _, notes = loaded
    (note,) = [n for n in notes if n.where == f"{EIGEN_FILE} line 21"]  # week of 2025-02-09
    assert f"eigen_earned/eth_restaked={429587 / 2235677:.4f}" in note.what


def test_ethfi_topups_are_exact(loaded) -> None:
    programs, _ = loaded
    topups = [p for p in programs if p.program == "ethfi_topup"]
    assert len(topups) == 7
    first = find(programs, "ethfi_topup", "2024-08-15")
    assert first.per_eeth == 0.248 and not first.estimated
    assert (first.period_end_ns, first.payout_ns) == (day("2024-10-06"), day("2024-10-18"))
    assert first.source == TOPUP_FILE


def test_season_range_becomes_estimated_midpoint(loaded) -> None:
    programs, _ = loaded
    season = find(programs, "season_4", "2024-09-15")
    assert (season.per_eeth_low, season.per_eeth, season.per_eeth_high) == (1.0, 2.0, 3.0)
    assert season.estimated and season.token == "ETHFI"
    assert (season.period_end_ns, season.payout_ns) == (day("2025-02-01"), day("2025-02-15"))
    assert find(programs, "season_1", "2024-03-01").per_eeth == 10.0  # "~5–15"


def test_seasonal_copies_of_topups_are_skipped_and_noted(loaded) -> None:
    programs, notes = loaded
    assert not [p for p in programs if p.source == SEASON_FILE and "top_up" in p.program]
    skipped = [n for n in notes if n.where.startswith(SEASON_FILE)]
    assert len(skipped) == 5 and all(n.decision.startswith("skipped") for n in skipped)


def test_programs_are_sorted_by_payout(loaded) -> None:
    programs, _ = loaded
    payouts = [p.payout_ns for p in programs]
    assert payouts == sorted(payouts)
    assert {p.token for p in programs} == {"EIGEN", "ETHFI"}


# ---------------------------------------------------------------- rewards from synthetic files

EIGEN_CSV = (
    "staking_period_start,staking_period_end,eigen_earned,eth_restaked,eth_not_restaked,eigen_per_eeth_weekly\n"
    "2024-10-06,2024-10-12,200,800,200,0.2\n"
)
TOPUP_CSV = (
    "top_up_date,staking_period_start,staking_period_end,ethfi_amount,ethfi_per_eeth_distributed\n"
    "2024-10-28,2024-10-06,2024-10-12,41000,0.020\n"
)
SEASON_HEADER = "start_date,end_date,payout_date,event,reward_token,reward_per_eeth\n"


def write_rewards(root: Path, seasons: str, eigen: str = EIGEN_CSV, topups: str = TOPUP_CSV) -> Path:
    folder = root / REWARDS_SUBDIR
    folder.mkdir(parents=True)
    (folder / EIGEN_FILE).write_text(eigen, encoding="utf-8")
    (folder / TOPUP_FILE).write_text(topups, encoding="utf-8")
    (folder / SEASON_FILE).write_text(SEASON_HEADER + seasons, encoding="utf-8")
    return root


def test_amount_forms_hyphen_range_tilde_and_exact(tmp_path: Path) -> None:
    root = write_rewards(
        tmp_path,
        "2025-02-01,2025-05-31,2025-06-15,Season 5 (Base),ETHFI,2-4\n"
        "2025-06-01,2025-06-30,2025-07-15,Summer Mint,ETHFI,~0.25\n"
        "2025-07-01,2025-07-31,2025-08-15,Season 6,EIGEN,0.5\n",
    )
    programs, notes = load_etherfi_rewards(root)
    by_name = {p.program: p for p in programs}
    assert (by_name["season_5"].per_eeth, by_name["season_5"].estimated) == (3.0, True)
    assert (by_name["summer_mint"].per_eeth_low, by_name["summer_mint"].per_eeth_high) == (0.25, 0.25)
    assert by_name["summer_mint"].estimated
    assert (by_name["season_6"].token, by_name["season_6"].estimated) == ("EIGEN", False)
    assert by_name["eigen_weekly"].per_eeth == 0.2 and notes == []


def test_unparseable_payout_date_is_noted_and_skipped(tmp_path: Path) -> None:
    root = write_rewards(tmp_path, "2025-02-01,2025-05-31,Jun 2025,Season 5 (Base),ETHFI,~1–3\n")
    programs, notes = load_etherfi_rewards(root)
    assert [p.program for p in programs] == ["eigen_weekly", "ethfi_topup"]
    (note,) = notes
    assert note.where == f"{SEASON_FILE} line 2" and "'Jun 2025'" in note.what
    assert note.decision.startswith("skipped")


def test_missing_column_names_the_file(tmp_path: Path) -> None:
    root = write_rewards(tmp_path, "", topups="top_up_date,staking_period_start\n2024-10-28,2024-10-06\n")
    with pytest.raises(RewardDataError, match=rf"{TOPUP_FILE}: missing columns \['staking_period_end'"):
        load_etherfi_rewards(root)


def test_unparseable_number_names_file_and_line(tmp_path: Path) -> None:
    root = write_rewards(tmp_path, "", eigen=EIGEN_CSV + "2024-10-13,2024-10-19,lots,800,200,0.2\n")
    with pytest.raises(RewardDataError, match=rf"{EIGEN_FILE} line 3: eigen_earned='lots' is not a number"):
        load_etherfi_rewards(root)


def test_unparseable_range_names_file_and_line(tmp_path: Path) -> None:
    root = write_rewards(tmp_path, "2025-02-01,2025-05-31,2025-06-15,Season 5,ETHFI,a few\n")
    with pytest.raises(RewardDataError, match=rf"{SEASON_FILE} line 2: reward_per_eeth='a few'"):
        load_etherfi_rewards(root)


def test_seasonal_topup_conflicting_with_topups_file_is_an_error(tmp_path: Path) -> None:
    root = write_rewards(tmp_path, "2024-10-06,2024-10-12,2024-10-28,Top-Up #2,ETHFI,0.5\n")
    with pytest.raises(RewardDataError, match="conflicts with"):
        load_etherfi_rewards(root)


def test_payout_before_period_end_is_an_error(tmp_path: Path) -> None:
    root = write_rewards(tmp_path, "2025-02-01,2025-05-31,2025-05-15,Season 5,ETHFI,~1–3\n")
    with pytest.raises(RewardDataError, match=rf"{SEASON_FILE} line 2: .*period end <= payout"):
        load_etherfi_rewards(root)


# ---------------------------------------------------------------- holdings integral and crediting

T0 = day("2025-01-01")


def ten_then_twenty() -> HoldingsIntegral:
    """10 eETH for 2 days, then 20 eETH onward."""
    holdings = HoldingsIntegral()
    holdings.record(T0, 10.0)
    holdings.record(T0 + 2 * DAY, 20.0)
    return holdings


def test_average_is_time_weighted_over_partial_overlaps() -> None:
    holdings = ten_then_twenty()
    assert holdings.average(T0, T0 + 7 * DAY) == pytest.approx((10 * 2 + 20 * 5) / 7)
    assert holdings.average(T0 + DAY, T0 + 3 * DAY) == pytest.approx(15.0)
    assert holdings.average(T0 + 3 * DAY, T0 + 4 * DAY) == pytest.approx(20.0)  # last amount holds on


def test_average_is_zero_before_the_first_sample() -> None:
    holdings = ten_then_twenty()
    assert holdings.average(T0 - 5 * DAY, T0 - DAY) == 0.0
    assert holdings.average(T0 - 2 * DAY, T0 + 2 * DAY) == pytest.approx(5.0)
    assert HoldingsIntegral().average(T0, T0 + DAY) == 0.0


def test_average_matches_daily_mean_over_many_samples() -> None:
    holdings = HoldingsIntegral()
    amounts = [float((7 * i) % 11) for i in range(60)]
    for i, amount in enumerate(amounts):
        holdings.record(T0 + i * DAY, amount)
    assert holdings.average(T0 + 10 * DAY, T0 + 40 * DAY) == pytest.approx(sum(amounts[10:40]) / 30)


def test_sample_at_same_time_replaces_the_previous_one() -> None:
    holdings = ten_then_twenty()
    holdings.record(T0 + 2 * DAY, 30.0)
    assert holdings.average(T0, T0 + 4 * DAY) == pytest.approx((10 * 2 + 30 * 2) / 4)


def test_bad_samples_and_intervals_raise() -> None:
    holdings = ten_then_twenty()
    with pytest.raises(ValueError, match="time order"):
        holdings.record(T0 + DAY, 5.0)
    with pytest.raises(ValueError, match="non-negative"):
        holdings.record(T0 + 3 * DAY, -1.0)
    with pytest.raises(ValueError, match="empty interval"):
        holdings.average(T0, T0)


def test_reward_amount_is_per_eeth_times_average_over_the_period() -> None:
    program = RewardProgram(
        token="EIGEN",
        program="eigen_weekly",
        period_start_ns=T0,
        period_end_ns=T0 + 7 * DAY,
        payout_ns=T0 + 7 * DAY,
        per_eeth=0.18,
        per_eeth_low=0.18,
        per_eeth_high=0.18,
        estimated=False,
        source="test",
    )
    assert reward_amount(program, ten_then_twenty()) == pytest.approx(0.18 * 120 / 7)


# ---------------------------------------------------------------- DEX swaps

PRICE, DEPTH, FEE = 2000.0, 1_000_000.0, 0.003  # reserves: 250 base, 500,000 quote


def reserves_after(quote: SwapQuote, buys_base: bool) -> tuple[float, float]:
    """Pool reserves after a swap; the fee stays outside the curve."""
    base, quote_reserve = virtual_reserves(PRICE, DEPTH)
    net_in = quote.amount_in - quote.fee_paid
    if buys_base:
        return base - quote.amount_out, quote_reserve + net_in
    return base + net_in, quote_reserve - quote.amount_out


def test_virtual_reserves() -> None:
    assert virtual_reserves(PRICE, DEPTH) == (250.0, 500_000.0)


@pytest.mark.parametrize(
    ("swap", "buys_base"),
    [
        (lambda: quote_for_base(10.0, PRICE, DEPTH, FEE), True),
        (lambda: base_for_quote(20_000.0, PRICE, DEPTH, FEE), True),
        (lambda: sell_base(10.0, PRICE, DEPTH, FEE), False),
    ],
    ids=["quote_for_base", "base_for_quote", "sell_base"],
)
def test_constant_product_is_preserved_before_fee(swap, buys_base: bool) -> None:
    base, quote = reserves_after(swap(), buys_base)
    assert base * quote == pytest.approx(250.0 * 500_000.0, rel=1e-12)


def test_buy_by_hand() -> None:
    quote = quote_for_base(10.0, PRICE, DEPTH, fee=0.0)
    assert quote.amount_in == pytest.approx(500_000 * 10 / 240)  # y·b/(x − b)
    assert quote.avg_price == pytest.approx(500_000 / 240)
    assert quote.impact == pytest.approx(10 / 240)
    assert quote.fee_paid == 0.0
    with_fee = quote_for_base(10.0, PRICE, DEPTH, FEE)
    assert with_fee.amount_in == pytest.approx(quote.amount_in / (1 - FEE))
    assert with_fee.fee_paid == pytest.approx(with_fee.amount_in * FEE)


def test_buy_exact_out_and_exact_in_agree() -> None:
    bought = quote_for_base(10.0, PRICE, DEPTH, FEE)
    spent = base_for_quote(bought.amount_in, PRICE, DEPTH, FEE)
    assert spent.amount_out == pytest.approx(10.0, rel=1e-12)
    assert spent.impact == pytest.approx(bought.impact, rel=1e-12)


def test_round_trip_loses_exactly_two_fees_plus_impact() -> None:
    base_qty = 10.0
    buy = quote_for_base(base_qty, PRICE, DEPTH, FEE)
    sell = sell_base(base_qty, PRICE, DEPTH, FEE)
    fees = buy.fee_paid + sell.fee_paid * PRICE  # sell fee is in base, valued at the mark
    impact_buy = PRICE * base_qty**2 / (250 - base_qty)  # closed form: P·b²/(x − b)
    net_sold = base_qty * (1 - FEE)
    impact_sell = PRICE * net_sold**2 / (250 + net_sold)  # closed form: P·b'²/(x + b')
    assert buy.amount_in - sell.amount_out == pytest.approx(fees + impact_buy + impact_sell, rel=1e-12)
    assert impact_buy == pytest.approx(buy.impact * PRICE * base_qty, rel=1e-12)
    assert impact_sell == pytest.approx(sell.impact * PRICE * net_sold, rel=1e-12)


def test_tiny_trades_converge_to_mark_plus_minus_fee() -> None:
    buy = quote_for_base(1e-9, PRICE, DEPTH, FEE)
    sell = sell_base(1e-9, PRICE, DEPTH, FEE)
    assert buy.avg_price == pytest.approx(PRICE / (1 - FEE), rel=1e-9)
    assert buy.avg_price == pytest.approx(PRICE * (1 + FEE), rel=FEE**2 * 1.01)
    assert sell.avg_price == pytest.approx(PRICE * (1 - FEE), rel=1e-9)
    assert buy.impact < 1e-11 and sell.impact < 1e-11


def test_impact_grows_with_size() -> None:
    sizes = [0.1, 1.0, 10.0, 100.0]
    buys = [quote_for_base(s, PRICE, DEPTH, FEE) for s in sizes]
    sells = [sell_base(s, PRICE, DEPTH, FEE) for s in sizes]
    for smaller, larger in pairwise(buys):
        assert smaller.impact < larger.impact and smaller.avg_price < larger.avg_price
    for smaller, larger in pairwise(sells):
        assert smaller.impact < larger.impact and smaller.avg_price > larger.avg_price


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quote_for_base(1.0, 0.0, DEPTH, FEE), "price must be a positive"),
        (lambda: quote_for_base(1.0, -5.0, DEPTH, FEE), "price must be a positive"),
        (lambda: sell_base(1.0, math.nan, DEPTH, FEE), "price must be a positive"),
        (lambda: sell_base(1.0, PRICE, 0.0, FEE), "depth must be a positive"),
        (lambda: base_for_quote(1.0, PRICE, math.inf, FEE), "depth must be a positive"),
        (lambda: quote_for_base(0.0, PRICE, DEPTH, FEE), "base_out must be a positive"),
        (lambda: quote_for_base(250.0, PRICE, DEPTH, FEE), "not below the pool's virtual base reserve 250"),
        (lambda: sell_base(300.0, PRICE, DEPTH, FEE), "not below the pool's virtual base reserve"),
        (lambda: base_for_quote(500_000.0, PRICE, DEPTH, FEE), "virtual quote reserve"),
        (lambda: sell_base(1.0, PRICE, DEPTH, 1.0), r"fee must be a fraction in \[0, 1\)"),
        (lambda: base_for_quote(1.0, PRICE, DEPTH, -0.01), "fee must be a fraction"),
    ],
)
def test_invalid_inputs_raise_clear_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
