"""The USDT market-neutral modes on the real history: delta neutrality, capital management, results.

Full runs cover 2024-05-12 → 2025-09-18 (DOMAIN.md's window); the stress tests inject bars into a
short real-data run at half past an hour, so the strategy decides on them before the next real
bar, and check its reaction against amounts computed here from the state before the shock.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from nautilus_trader.model.data import Bar
from nautilus_trader.model.identifiers import InstrumentId, Venue

from adapters.bars import bar_type_for
from adapters.config import ConfigError
from adapters.events import AaveLiquidated
from backtesting.config import load_run_config, mode_file_path
from backtesting.engine import Backtest, build_backtest
from tests.integration.test_defi_backtests import END, LEVERAGED_START, assert_reconciled, nav_of, run_mode

pytestmark = pytest.mark.integration

SIMPLE, LEVERAGED = "usdt_eth_staking_hedged_simple", "usdt_eth_staking_hedged_leveraged"
PERPS = ("ETHUSDT-PERP.BINANCE", "ETHUSDT-LINEAR.BYBIT", "ETH-USDT-SWAP.OKX")
ETH_POOL = "ETHUSDT-UNIV3.ETHEREUM"
WEETH_RATE, WEETH_MARKET = "WEETH-ETHERFI.ETHEREUM", "WEETHETH-CURVE.ETHEREUM"
TOLERANCE = 0.005  # the mode files' delta_tolerance


@pytest.fixture(scope="module", params=[SIMPLE, LEVERAGED])
def full_run(request, catalog_dir, tmp_path_factory):
    return run_mode(catalog_dir, tmp_path_factory.mktemp(request.param), request.param, LEVERAGED_START, END)


def delta_fraction(nav: pd.DataFrame) -> pd.Series:
    return nav["net_delta_usd"].abs() / nav["nav_usdt"]


def test_nav_equals_the_sum_of_attribution_across_both_sleeves(full_run):
    assert_reconciled(full_run, 1e-3)
    nav = nav_of(full_run)
    assert nav["residual"].abs().max() < 1e-4
    summary = full_run.summary
    attribution = summary["attribution"]
    # both sleeves earn: funding on the shorts, staking yield (and rewards) on the LST
    assert (
        attribution["funding"] > 0
        and attribution["staking_yield"] > 0
        and attribution["restaking_rewards"] > 0
    )
    # the legs' price P&L nearly cancel; each is large on its own (ETH ≈2.9k → 1.5k → 4.5k)
    wallet_leg, cex_leg = nav["price_pnl_wallet"].sum(), nav["price_pnl_cex"].sum()
    assert abs(wallet_leg) > 5_000 and abs(cex_leg) > 5_000
    assert abs(wallet_leg + cex_leg) < 0.02 * abs(wallet_leg)
    assert wallet_leg + cex_leg == pytest.approx(attribution["price_pnl"], abs=1e-3)
    assert summary["liquidations"] == 0 and summary["aborted_plans"] == []
    assert summary["hedge"]["margin_top_ups"] >= 1  # ETH ≈1.5k (Apr 2025) → ≈4.7k (Aug 2025)


HEDGING_ACTIONS = {
    "entry_full",
    "entry_partial",
    "rehedge",
    "margin_top_up",
    "margin_release",
    "rebalance",
    "deleverage",
    "relever",
}
"""Plans that end by resizing the shorts to the wallet's net long."""


def test_net_delta_stays_within_tolerance_except_until_the_rebalance(full_run):
    """Decisions are hourly: a drift past the tolerance is re-hedged at the next tick, so an
    end-of-hour sample can only exceed it in the hour a plan is under way (the entry's gas ETH is
    bought an hour before the margin lands and the first short is placed)."""
    nav = nav_of(full_run)
    fraction = delta_fraction(nav)
    actions = pd.read_csv(full_run.out_dir / "actions.csv", parse_dates=["ts"])
    rehedges = actions[actions["action"] == "rehedge"]
    assert len(rehedges) == full_run.summary["actions"].get("rehedge", 0)
    # the shorts follow the long: reward sales (weekly EIGEN) and pure drift both resize them
    fills = pd.read_csv(full_run.out_dir / "fills.csv", parse_dates=["ts_event"])
    resized = fills[fills["instrument_id"].isin(PERPS)]["ts_event"].unique()
    assert len(resized) >= 20
    hedging = actions[actions["action"].isin({*HEDGING_ACTIONS, "sell_dust"})]
    for ts in resized:  # every short resize belongs to a logged plan (transfers take an hour or two)
        started = hedging["ts"][(hedging["ts"] <= ts) & (hedging["ts"] >= ts - pd.Timedelta(hours=3))]
        assert len(started) > 0, ts
    breaches = fraction[fraction > TOLERANCE]
    for ts in breaches.index:  # each breach is in a plan that re-hedges within the next hours
        plan = hedging[
            (hedging["ts"] >= ts - pd.Timedelta(hours=1)) & (hedging["ts"] <= ts + pd.Timedelta(hours=2))
        ]
        assert len(plan) > 0, f"{ts}: |delta| {fraction[ts]:.4%} with no re-hedge under way"
    assert len(breaches) <= 3
    assert full_run.summary["hedge"]["hours_above_tolerance"] == len(breaches)
    assert full_run.summary["hedge"]["max_abs_delta_fraction"] == pytest.approx(fraction.max(), rel=1e-9)
    # right after each rehedge the net delta is a rounding step from zero
    for ts in rehedges["ts"]:
        assert fraction[ts.floor("h")] < TOLERANCE / 2


def test_results_compare_with_susde_and_aave_lending(full_run):
    summary = json.loads((full_run.out_dir / "summary.json").read_text())
    benchmarks = summary["benchmarks"]
    assert benchmarks["strategy"]["apy"] == pytest.approx(summary["apy"])
    assert benchmarks["susde"]["apy_mean"] == pytest.approx(0.105, abs=0.005)  # DOMAIN.md: 10.5%
    assert benchmarks["aave_usdt_lending"]["apy"] == pytest.approx(0.0497, abs=0.001)
    assert summary["apy"] > benchmarks["aave_usdt_lending"]["apy"]
    assert "sUSDe" in (full_run.out_dir / "tearsheet.html").read_text()


# -- the margin ceiling ------------------------------------------------------------------------

VENUES = ("binance", "bybit", "okx")


def margin_ratios(nav: pd.DataFrame) -> pd.DataFrame:
    """Each venue's margin balance / perp notional, hourly."""
    return pd.DataFrame({v: nav[f"margin_balance_{v}"] / nav[f"perp_notional_{v}"] for v in VENUES})


def test_surplus_margin_above_the_ceiling_goes_back_to_the_staking_sleeve(catalog_dir, tmp_path):
    """March → mid-April 2025: ETH ≈2.2k → 1.5k, so the shorts' profit lifts every venue's margin
    past ``margin_ceiling`` × notional (without the ceiling it piled up to ≈3× in April). Each
    release is decided on an hour whose prices put a venue above the ceiling — rebuilt here from
    the hour before at rest, moved by the perps' price change — and none on an hour under it; it
    brings the venues to ``margin_release_target`` of their grown shorts, the USDT withdrawn buys
    ETH that is staked, and the margin stays under the ceiling but for the hour a release waits for."""
    start, end = pd.Timestamp("2025-03-01T00:00Z"), pd.Timestamp("2025-04-15T00:00Z")
    result = run_mode(catalog_dir, tmp_path, SIMPLE, start, end)
    hedge = load_run_config(mode_file_path(SIMPLE)).strategy.hedge
    ceiling, target = hedge.margin_ceiling, hedge.margin_release_target
    nav, ratios = nav_of(result), margin_ratios(nav_of(result))
    actions = pd.read_csv(result.out_dir / "actions.csv", parse_dates=["ts"])
    releases = actions[actions["action"] == "margin_release"]["ts"].dt.floor("h").tolist()
    assert len(releases) >= 1 and result.summary["hedge"]["margin_releases"] == len(releases)
    perps = dict(zip(VENUES, PERPS, strict=True))
    for ts in releases:
        before, after = ts - pd.Timedelta(hours=1), ts + pd.Timedelta(hours=3)
        assert ratios.loc[before].max() <= ceiling  # at rest an hour earlier: under the ceiling
        was, now = _closes(catalog_dir, list(PERPS), before), _closes(catalog_dir, list(PERPS), ts)
        decided = {}
        for venue, perp in perps.items():  # the short's P&L over the hour moves its margin
            qty = nav.loc[before, f"perp_notional_{venue}"] / was[perp]
            margin = nav.loc[before, f"margin_balance_{venue}"] + qty * (was[perp] - now[perp])
            decided[venue] = margin / (qty * now[perp])
        assert max(decided.values()) > ceiling, (ts, decided)
        # released to the target of the grown shorts (within the hours' price moves)
        assert ratios.loc[after].to_numpy() == pytest.approx([target] * 3, abs=0.1), ratios.loc[after]
        assert nav.loc[after, "wallet_usdt"] < 500  # the USDT went into the sleeve, not idle
    # under the ceiling at every hour but those a release (decided on the next) is waiting for
    above = ratios.index[ratios.max(axis=1) > ceiling]
    assert all(ts + pd.Timedelta(hours=1) in releases for ts in above), above
    # what left the venues bought ETH on the wallet's pool in the release's hours, and was staked
    transfers = pd.read_csv(result.out_dir / "transfers.csv", parse_dates=["ts"])
    withdrawn = transfers[(transfers["kind"] == "withdrawal") & (transfers["status"] == "arrived")]
    fills = pd.read_csv(result.out_dir / "fills.csv", parse_dates=["ts_event"])
    fills = fills[fills["ts_event"] > start + pd.Timedelta(days=1)]  # not the entry's
    bought = fills[(fills["instrument_id"] == ETH_POOL) & (fills["order_side"] == "BUY")]
    spent = (bought["last_qty"].astype(float) * bought["last_px"].astype(float)).sum()
    assert spent == pytest.approx(withdrawn["amount"].sum(), rel=0.01)  # the pool fee and buffer stay
    minted = fills[(fills["instrument_id"] == WEETH_RATE) & (fills["order_side"] == "BUY")]
    assert len(minted) >= len(releases)
    assert result.summary["liquidations"] == 0 and result.summary["aborted_plans"] == []
    assert delta_fraction(nav).max() < TOLERANCE
    assert_reconciled(result, 1e-3)


# -- stress: injected bars -------------------------------------------------------------------


def _bar(bt: Backtest, instrument: str, price: float, ts: int) -> Bar:
    instrument_id = InstrumentId.from_str(instrument)
    inst = bt.engine.cache.instrument(instrument_id)
    px = inst.make_price(price)
    return Bar(bar_type_for(instrument_id), px, px, px, px, inst.make_qty(0), ts, ts)


def _closes(catalog_dir, instruments: list[str], at: pd.Timestamp) -> dict[str, float]:
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(str(catalog_dir))
    bars = catalog.bars(
        bar_types=[str(bar_type_for(InstrumentId.from_str(i))) for i in instruments], start=at, end=at
    )
    return {str(b.bar_type.instrument_id): b.close.as_double() for b in bars}


def _shocked_run(
    catalog_dir,
    mode: str,
    at: pd.Timestamp,
    scale: dict[str, float],
    end: str = "2024-06-08",
    config: Path | None = None,
) -> tuple[Backtest, int]:
    """``mode`` from 2024-06-01 (its YAML, or ``config``) with every leg re-priced at ``at`` + 30 min
    (× ``scale``)."""
    run = load_run_config(config or mode_file_path(mode), start="2024-06-01", end=end)
    bt = build_backtest(run, catalog_dir)
    legs = [WEETH_MARKET, *PERPS, ETH_POOL, WEETH_RATE]  # the optional price first, as the engine sorts
    closes = _closes(catalog_dir, legs, at)
    ts = (at + pd.Timedelta(minutes=30)).value
    bt.engine.add_data([_bar(bt, i, closes[i] * scale.get(i, 1.0), ts) for i in legs])
    bt.engine.run(end=run.end + pd.Timedelta(1, "ns"))
    return bt, ts


def _actions_at(bt: Backtest, ts: int) -> list[tuple[str, str]]:
    return [(action, why) for t, action, why in bt.strategy.action_log if t == ts]


def test_a_margin_squeeze_tops_the_venues_up_from_the_staking_sleeve(catalog_dir):
    """ETH +70% in half an hour: each short loses 0.7 × its notional, taking margin/notional from
    ≈1.0 to (1.0 − 0.7) / 1.7 ≈ 0.18 < the 0.25 floor. Every venue is topped up to 0.5 × its new
    notional; the wallet holds no USDT and no venue has a surplus, so the sleeve sells LST → ETH
    → USDT for it, and the deposits equal the needs computed here."""
    at = pd.Timestamp("2024-06-04T12:00Z")
    spike = {i: 1.7 for i in (*PERPS, ETH_POOL)}
    bt, ts = _shocked_run(catalog_dir, SIMPLE, at, spike)
    nav = bt.accounting.nav_frame()
    before = nav.loc[at]
    closes = _closes(catalog_dir, list(PERPS), at)
    needs = {}
    for perp, venue in zip(PERPS, ("binance", "bybit", "okx"), strict=True):
        qty = before[f"perp_notional_{venue}"] / closes[perp]  # short, base units
        spiked = round(closes[perp] * 1.7, 2)  # the injected bar, at the perps' 0.01 tick
        margin = before[f"margin_balance_{venue}"] - qty * (spiked - closes[perp])
        assert margin / (qty * spiked) < 0.25
        needs[venue.upper()] = 0.5 * qty * spiked - margin
    assert [a for a, _ in _actions_at(bt, ts)] == ["margin_top_up"]
    transfers = pd.DataFrame(bt.accounting.transfers)
    deposits = transfers[(transfers["kind"] == "deposit") & (transfers["status"] == "submitted")]
    deposits = deposits[deposits["ts"] == pd.Timestamp(ts, tz="UTC")].set_index("venue")["amount"]
    for venue, need in needs.items():
        assert deposits[venue] == pytest.approx(need, abs=0.011), venue  # floored to the cent
    # the sleeve paid for it: LST sold on its DEX pool, ETH sold for USDT, in the same hour
    fills = bt.engine.trader.generate_fills_report()
    at_shock = fills[pd.to_datetime(fills["ts_event"], utc=True) == pd.Timestamp(ts, tz="UTC")]
    sold = at_shock[at_shock["order_side"] == "SELL"]["instrument_id"].astype(str).tolist()
    assert WEETH_MARKET in sold and ETH_POOL in sold
    # and the transfers landed: margin ≥ target at the next tick's prices would need the spike to
    # persist; what is checked is that nothing was liquidated and the books still reconcile
    assert not bt.accounting.liquidations
    assert nav["residual"].abs().max() < 1e-4
    bt.engine.dispose()


def test_a_crash_releases_the_shorts_profit_to_the_sleeve_realizing_it_first(catalog_dir, tmp_path):
    """ETH −50% in half an hour: margin/notional ≈ (1 + 0.5) / 0.5 = 3 > the 1.5 ceiling. With a
    release target of 0.3, each venue gives S_v = M_v − 0.3 (E_v + w_v S), S = Σ S_v =
    (Σ M − 0.3 Σ E) / 1.3 (computed here from the state before the crash) — more than its cash,
    since half its margin is the short's unrealized profit: part of each short is bought back to
    realize it and sold again at once, then the USDT is withdrawn. The run stops before the
    withdrawals land (the next real bar would undo the crash)."""
    raw = yaml.safe_load(mode_file_path(SIMPLE).read_text())
    raw["strategy"]["hedge"].update({"margin_target": 0.3, "margin_release_target": 0.3})
    config = tmp_path / "low_target.yaml"
    config.write_text(yaml.safe_dump(raw))
    at = pd.Timestamp("2024-06-04T12:00Z")
    crash = {i: 0.5 for i in (*PERPS, ETH_POOL)}
    bt, ts = _shocked_run(catalog_dir, SIMPLE, at, crash, end="2024-06-04T12:59Z", config=config)
    assert [a for a, _ in _actions_at(bt, ts)] == ["margin_release"]
    before = bt.accounting.nav_frame().loc[at]
    closes = _closes(catalog_dir, list(PERPS), at)
    weights = {"BINANCE": 0.4, "BYBIT": 0.3, "OKX": 0.3}
    shorts = {v.upper(): before[f"perp_notional_{v}"] / closes[p] for v, p in zip(VENUES, PERPS, strict=True)}
    held = sum(shorts.values()) + before["net_delta_eth"]  # the wallet's net long the shorts follow
    margins, exposures = {}, {}
    for (venue, qty), perp in zip(shorts.items(), PERPS, strict=True):
        crashed = round(closes[perp] * 0.5, 2)  # the injected bar, at the perps' 0.01 tick
        margins[venue] = before[f"margin_balance_{venue.lower()}"] + qty * (closes[perp] - crashed)
        exposures[venue] = max(qty, held * weights[venue]) * crashed
        assert margins[venue] / exposures[venue] > 1.5
    total = (sum(margins.values()) - 0.3 * sum(exposures.values())) / 1.3
    transfers = pd.DataFrame(bt.accounting.transfers)
    sent = transfers[(transfers["kind"] == "withdrawal") & (transfers["status"] == "submitted")]
    sent = sent[sent["ts"] == pd.Timestamp(ts, tz="UTC")].set_index("venue")
    fills = bt.engine.trader.generate_fills_report()
    at_crash = fills[pd.to_datetime(fills["ts_event"], utc=True) == pd.Timestamp(ts, tz="UTC")]
    for venue, perp in zip(weights, PERPS, strict=True):
        release = margins[venue] - 0.3 * (exposures[venue] + weights[venue] * total)
        paid = sent.loc[venue, "amount"] + sent.loc[venue, "fee"]  # what left the venue
        assert paid == pytest.approx(release, abs=5), venue  # the realizing fills' fees stay
        wallets = bt.strategy.venue_wallets(venue)
        assert wallets.margin_balance == pytest.approx(margins[venue] - paid, abs=5)
        # realized: bought back, then sold again at the crash price
        sides = at_crash[at_crash["instrument_id"].astype(str) == perp]["order_side"].tolist()
        assert "BUY" in sides and "SELL" in sides, (venue, sides)
    assert not bt.accounting.liquidations and bt.strategy.rejections == []
    bt.engine.dispose()


def test_a_price_gap_beyond_the_margin_is_liquidated_then_re_margined(catalog_dir):
    """ETH +120% within the hour: the shorts' losses exceed their margin before any transfer can
    land, so every venue liquidates (bankrupt: the insurance fund covers the deficit, no fee is
    left to take). The strategy then re-margins the empty venues from the sleeve and re-hedges;
    the run shows all of it and still reconciles."""
    at = pd.Timestamp("2024-06-04T12:00Z")
    bt, ts = _shocked_run(catalog_dir, SIMPLE, at, {i: 2.2 for i in (*PERPS, ETH_POOL)})
    events = [e for e in bt.accounting.liquidations if e.ts_event == ts]
    assert {e.venue for e in events} == {"BINANCE", "BYBIT", "OKX"}
    assert all(e.fee == 0 and e.insurance_credit > 0 for e in events)
    nav = bt.accounting.nav_frame()
    after = at + pd.Timedelta(hours=1)
    taker = {"BINANCE": 0.0005, "BYBIT": 0.00055, "OKX": 0.0005}  # the closing fills' fee
    fees = sum(abs(e.signed_base_qty) * e.price * taker[e.venue] for e in events)
    credits = sum(e.insurance_credit for e in events)
    assert nav.loc[after, "liquidation_losses"] == pytest.approx(credits - fees, abs=0.05)
    assert [a for a, _ in _actions_at(bt, ts)] == ["margin_top_up"]
    assert bt.strategy.rejections == []
    assert delta_fraction(nav.loc[after:]).max() < TOLERANCE
    for venue in ("binance", "bybit", "okx"):
        assert nav.loc[after, f"perp_notional_{venue}"] > 0
    assert nav["residual"].abs().max() < 1e-4
    bt.engine.dispose()


def test_an_hf_drop_deleverages_the_loop_to_its_target_and_shrinks_the_hedge(catalog_dir):
    """weETH's oracle −2.5%: HF ≈ 1.045 × 0.975 ≈ 1.019 < 1.02, LTV ≈ 0.932 > λ + 0.01. The loop
    repays debt down to D' = λ(V − kD)/(1 − λk) (k = LST sold per ETH repaid) in one transaction,
    leaving LTV = λ; the short then follows the smaller net ETH."""
    at = pd.Timestamp("2024-06-04T12:00Z")
    bt, ts = _shocked_run(catalog_dir, LEVERAGED, at, {WEETH_RATE: 0.975, WEETH_MARKET: 0.975})
    strategy = bt.strategy
    assert [a for a, _ in _actions_at(bt, ts)] == ["deleverage"]
    account = bt.engine.trader.generate_account_report(Venue("ETHEREUM"))
    stamp = pd.Timestamp(ts, tz="UTC")

    def balance(code: str, *, after: bool) -> float:
        """The balance after the deleverage, or just before it (interest accrued to 12:30 included:
        leverage amplifies the half hour's interest ×11 in the formula)."""
        rows = account[account["currency"] == code]
        now = rows[rows.index == stamp]
        if after:
            return float(now["total"].iloc[-1])
        return float(now["total"].iloc[-2] if len(now) >= 2 else rows[rows.index < stamp]["total"].iloc[-1])

    closes = _closes(catalog_dir, [WEETH_RATE, WEETH_MARKET], at)
    rate, market = closes[WEETH_RATE] * 0.975, closes[WEETH_MARKET] * 0.975
    supplied, debt = balance("AWEETH", after=False), -balance("VDWETH", after=False)
    exit_price = market * (1 - 0.0004) / 1.003  # Curve pool fee, exit_slippage_buffer
    k = rate / exit_price  # Balancer flash loan: no fee
    lam = strategy.target
    target_debt = lam * (supplied * rate - k * debt) / (1 - lam * k)
    assert -balance("VDWETH", after=True) == pytest.approx(target_debt, rel=1e-5)
    ltv_after = -balance("VDWETH", after=True) / (balance("AWEETH", after=True) * rate)
    assert ltv_after == pytest.approx(lam, abs=1e-5)
    # the hedge follows: total short = the wallet's net ETH after the deleverage, within a step
    fills = bt.engine.trader.generate_fills_report()
    at_shock = fills[pd.to_datetime(fills["ts_event"], utc=True) == stamp]
    bought_back = at_shock[at_shock["instrument_id"].astype(str).isin(PERPS)]
    assert (bought_back["order_side"] == "BUY").all() and len(bought_back) >= 2
    assert not bt.accounting.liquidations
    assert not [e for e in bt.accounting.wallet_events if isinstance(e, AaveLiquidated)]
    bt.engine.dispose()


# -- flows and config ------------------------------------------------------------------------


def test_deposit_withdrawal_and_exit_pay_out_in_usdt(catalog_dir, tmp_path):
    flows = [
        {"at": "2024-07-01", "deposit": 50_000},
        {"at": "2024-08-01", "withdraw": 30_000},
        {"at": "2024-09-02", "withdraw": "all"},
    ]
    result = run_mode(
        catalog_dir,
        tmp_path,
        SIMPLE,
        pd.Timestamp("2024-06-01T00:00Z"),
        pd.Timestamp("2024-09-10T00:00Z"),
        capital_flows=flows,
        strategy={"rewards_mode": "base_only"},
    )
    actions = result.summary["actions"]
    assert (actions["entry_partial"], actions["exit_partial"], actions["exit_full"]) == (1, 1, 1)
    paid = pd.read_csv(result.out_dir / "capital_flows.csv")
    withdrawals = paid[paid["kind"] == "withdrawal"]["amount"].tolist()
    assert withdrawals[0] == pytest.approx(30_000, abs=0.01)
    nav = nav_of(result)
    assert nav["nav"].iloc[-1] < 50  # everything paid out but the gas money
    assert withdrawals[1] == pytest.approx(nav.loc[:"2024-09-02T00:00Z", "nav"].iloc[-1], rel=0.01)
    for venue in ("binance", "bybit", "okx"):
        assert nav[f"perp_notional_{venue}"].iloc[-1] == 0
    assert_reconciled(result, 1e-3)


@pytest.mark.parametrize(
    ("hedge", "message"),
    [
        ({"stake_allocation": 1.0}, "stake_allocation must be in (0, 1)"),
        ({"stake_allocation": 0.8}, "margin_target 0.5 is above the margin the entry leaves"),
        ({"margin_floor": 0.6}, "need 0.02 <= margin_floor < margin_target"),
        ({"margin_ceiling": 0.9}, "margin_ceiling 0.9 must be above the margin the entry leaves"),
        ({"margin_release_target": 0.4}, "need margin_target <= margin_release_target < margin_ceiling"),
        ({"hedge_allocation": {"BINANCE": 0.5, "KRAKEN": 0.5}}, "unknown venue 'KRAKEN'"),
        ({"hedge_allocation": {"BINANCE": 0.5}}, "must sum to 1"),
        ({"delta_tolerance": 0}, "delta_tolerance must be in (0, 0.1]"),
        ({"margin_flor": 0.2}, "unknown field"),
        ({"eth_purchase": "otc"}, "eth_purchase must be one of ('dex', 'cex')"),
        ({"eth_purchase_venue": "KRAKEN"}, "eth_purchase_venue: unknown venue 'KRAKEN'"),
    ],
)
def test_invalid_hedge_settings_are_refused_with_the_field(tmp_path, hedge, message):
    raw = yaml.safe_load(mode_file_path(SIMPLE).read_text())
    raw["strategy"]["hedge"].update(hedge)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="strategy") as error:
        load_run_config(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_the_cex_purchase_route_buys_spot_hedges_the_eth_in_flight_and_stakes_it_on_arrival(
    catalog_dir, tmp_path
):
    """``eth_purchase: cex``: the stake share is deposited on Bybit with the margin, bought spot
    there (0.1% taker instead of the pool's 0.3% plus impact), hedged at once, withdrawn (0.0008 ETH
    fee, 30 minutes) and minted into weETH when it lands; the book stays delta-neutral throughout."""
    start, end = pd.Timestamp("2024-06-01T00:00Z"), pd.Timestamp("2024-06-08T00:00Z")
    runs = {
        route: run_mode(
            catalog_dir, tmp_path / route, SIMPLE, start, end, strategy={"hedge": {"eth_purchase": route}}
        )
        for route in ("dex", "cex")
    }
    cex = runs["cex"]
    fills = pd.read_csv(cex.out_dir / "fills.csv", parse_dates=["ts_event"])
    bought = fills[fills["instrument_id"] == "ETHUSDT-SPOT.BYBIT"]
    assert len(bought) == 1 and (bought["order_side"] == "BUY").all()
    transfers = pd.read_csv(cex.out_dir / "transfers.csv", parse_dates=["ts"])
    eth_out = transfers[(transfers["asset"] == "ETH") & (transfers["status"] == "submitted")].iloc[0]
    spot_bought = float(bought["last_qty"].iloc[0])
    assert eth_out["amount"] + eth_out["fee"] == pytest.approx(spot_bought, abs=1e-5)
    assert eth_out["fee"] == 0.0008
    nav = nav_of(cex)
    sent_hour = eth_out["ts"]
    assert nav.loc[sent_hour, "in_flight_eth"] == pytest.approx(eth_out["amount"])
    assert delta_fraction(nav).max() < TOLERANCE  # hedged on the CEX, in flight and staked
    minted = fills[fills["instrument_id"] == WEETH_RATE]
    assert minted["ts_event"].min() > sent_hour  # staked once the ETH has landed
    assert_reconciled(cex, 1e-3)
    assert nav["residual"].abs().max() < 1e-4

    def costs(result) -> float:
        a = result.summary["attribution"]
        return a["trading_fees"] + a["slippage"] + a["transfer_fees"] + a["gas"]

    assert costs(cex) > costs(runs["dex"])  # cheaper: a CEX taker fee beats the pool fee and impact
