"""Catalog builds of the on-chain wallet venue's inputs: LST rates, Aave reserves, rewards, risk parameters.

Uses the synthetic universe of :mod:`test_build` (real file names and column layouts, values from
closed-form formulas); every expected value is computed here from those formulas or from the raw
file text, never read back from the code under test.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from test_build import (
    AAVE_LEVEL,
    AAVE_PARAMS,
    AAVE_RISK,
    AAVE_TOKENS,
    AAVE_WETH,
    DAYS,
    EIGEN_REWARDS,
    EMODE,
    ETHFI_TOPUPS,
    HOURS,
    LSTS,
    ORACLE_HOLE,
    PEG_BAD,
    SEASONAL_DROPS,
    TOKEN_POOLS,
    WEETH_ORACLE,
    WEETH_PEG,
    WSTETH_PEG,
    Built,
    D,
    H,
    RawFile,
    S,
    aave_values,
    bars,
    close_hour,
    defects_of,
    manifest,
    market_rate,
    ohlcv,
    oracle_rate,
    token_pool_values,
)

from adapters.defi.data import AaveReserveSnapshot, RewardDistribution
from data_catalog.builder import build_catalog
from data_catalog.manifest import CatalogManifest, WindowOutsideDataError
from data_catalog.protocol_data import read_aave_params
from data_catalog.series import BuildError

CAVEAT = "interpolated from daily oracle readings"
RATE_KEYS = [key for pair in LSTS.values() for key in pair]
"""The four rate series: the mint instruments (oracle files) and the peg pools (market rates)."""


def exact(x: float) -> Decimal:
    return Decimal(repr(x))


def day_ns(text: str) -> int:
    """00:00 UTC of a YYYY-MM-DD date, in ns."""
    return pd.Timestamp(text, tz="UTC").value


def snapshots(catalog_dir: Path, instrument_id: str) -> list[AaveReserveSnapshot]:
    """One identifier per query (multi-identifier custom-data queries are not trusted in 1.231)."""
    found = ParquetDataCatalog(str(catalog_dir)).query(AaveReserveSnapshot, identifiers=[instrument_id])
    return [c.data for c in found]


def payouts(catalog_dir: Path) -> list[RewardDistribution]:
    return [c.data for c in ParquetDataCatalog(str(catalog_dir)).query(RewardDistribution)]


def raw_rows(path: Path) -> list[dict[str, str]]:
    """A raw CSV's data rows as text (``#`` comment lines skipped, BOM dropped)."""
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def unrate_column(path: Path, column: str) -> None:
    """Drop ``column`` from a raw rate file, keeping its ``#`` comment header."""
    text = path.read_text()
    comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    frame = pd.read_csv(path, comment="#", dtype=str).drop(columns=[column])
    path.write_text(comments + frame.to_csv(index=False))


# --- rate series: flat bars at the sample time -----------------------------------------------


@pytest.mark.parametrize(
    ("instrument_id", "asset", "rate"),
    [
        ("WEETH-ETHERFI.ETHEREUM", "weETH", oracle_rate),
        ("WSTETH-LIDO.ETHEREUM", "wstETH", oracle_rate),
        ("WEETHETH-CURVE.ETHEREUM", "weETH", market_rate),
        ("WSTETHETH-UNIV3.ETHEREUM", "wstETH", market_rate),
    ],
)
def test_rate_samples_become_flat_bars_at_sample_time(
    clean: Built, instrument_id: str, asset: str, rate: Callable[[str, int], float]
) -> None:
    """Each hourly sample is one bar at the SAMPLE time (no +1 h) with O=H=L=C=rate and no volume."""
    got = bars(clean.catalog_dir, instrument_id)

    assert [b.ts_event for b in got] == [S + i * H for i in range(HOURS)]
    assert all(b.ts_init == b.ts_event for b in got)
    expected = [exact(rate(asset, i)) for i in range(HOURS)]
    assert [ohlcv(b) for b in got] == [(r, r, r, r, Decimal(0)) for r in expected]
    assert {str(b.bar_type) for b in got} == {f"{instrument_id}-1-HOUR-LAST-EXTERNAL"}


def test_peg_pool_is_priced_by_market_rate_not_protocol_rate(clean: Built) -> None:
    """The peg file carries both rates; the DEX pool's bar is the row's ``market_rate`` text."""
    rows = raw_rows(clean.data_dir / WEETH_PEG.relpath)
    row = next(r for r in rows if r["timestamp"] == "2024-03-02 17:00:00+00:00")
    bar = next(b for b in bars(clean.catalog_dir, "WEETHETH-CURVE.ETHEREUM") if b.ts_event == S + 41 * H)

    assert bar.close.as_decimal() == Decimal(row["market_rate"])
    assert Decimal(row["market_rate"]) != Decimal(row["protocol_rate"])


def test_oracle_row_maps_to_exact_flat_bar(clean: Built) -> None:
    """Below the ``#`` header, the oracle row of 2024-03-03 05:00 is, as text, the bar at that instant."""
    path = clean.data_dir / WEETH_ORACLE.relpath
    assert path.read_text().startswith("# Source: aave_oracle_derived\n")
    row = next(r for r in raw_rows(path) if r["timestamp"] == "2024-03-03 05:00:00+00:00")
    bar = next(b for b in bars(clean.catalog_dir, "WEETH-ETHERFI.ETHEREUM") if b.ts_event == S + 53 * H)

    rate = Decimal(row["oracle_price_eth"])
    assert (bar.open.as_decimal(), bar.high.as_decimal(), bar.low.as_decimal()) == (rate, rate, rate)
    assert bar.close.as_decimal() == rate
    assert bar.volume.as_decimal() == 0


def test_rate_series_coverage_starts_at_first_sample(clean: Built) -> None:
    """Rate coverage runs from the first to the last SAMPLE; a bar series' starts at its first close."""
    series = manifest(clean.catalog_dir)["series"]

    for key in RATE_KEYS:
        cov = series[key]
        assert (cov["kind"], cov["first"], cov["last"], cov["rows"]) == (
            "rate",
            "2024-03-01T00:00:00Z",
            "2024-03-04T23:00:00Z",
            HOURS,
        ), key
    assert series["EIGENETH-UNIV3.ETHEREUM"]["first"] == "2024-03-01T01:00:00Z"
    CatalogManifest(clean.catalog_dir).check_window(RATE_KEYS, S, S + HOURS * H)


@pytest.mark.parametrize(("pair", "instrument_id"), sorted(TOKEN_POOLS.items()))
def test_token_pools_stamped_at_close_with_raw_prices(clean: Built, pair: str, instrument_id: str) -> None:
    """EIGEN/WETH and ETHFI/WETH (unix-second stamps at the open) become bars at the close, exact prices."""
    got = bars(clean.catalog_dir, instrument_id)

    assert [b.ts_event for b in got] == [close_hour(i) for i in range(HOURS)]
    assert [ohlcv(b) for b in got] == [tuple(map(exact, token_pool_values(pair, i))) for i in range(HOURS)]


# --- Aave reserve snapshots --------------------------------------------------------------------


@pytest.mark.parametrize("reserve", sorted(AAVE_LEVEL))
def test_aave_rows_become_reserve_snapshots_at_target_date(clean: Built, reserve: str) -> None:
    """Each daily row is one snapshot at its ``targetDate``, keyed by the reserve's aToken instrument."""
    instrument_id = f"{AAVE_TOKENS[reserve]}-AAVE.ETHEREUM"
    got = snapshots(clean.catalog_dir, instrument_id)

    assert [s.ts_event for s in got] == [S + d * D for d in range(DAYS)]
    assert all(s.ts_init == s.ts_event for s in got)
    assert {(str(s.instrument_id), s.reserve) for s in got} == {(instrument_id, reserve)}
    for d, snap in enumerate(got):
        v = aave_values(reserve, d)
        assert (
            snap.liquidity_index,
            snap.variable_borrow_index,
            snap.liquidity_rate,
            snap.variable_borrow_rate,
            snap.total_a_token,
            snap.total_variable_debt,
        ) == (
            v["liquidityIndex"],
            v["variableBorrowIndex"],
            v["currentLiquidityRate"],
            v["currentVariableBorrowRate"],
            v["totalAToken"],
            v["totalVariableDebt"],
        ), d


def test_aave_raw_row_maps_to_exact_snapshot(clean: Built) -> None:
    """The WETH row with targetDate 2024-03-03 is, value by value, the snapshot at that midnight."""
    row = next(
        r for r in raw_rows(clean.data_dir / AAVE_WETH.relpath) if r["targetDate"] == "2024-03-03T00:00:00Z"
    )
    (snap,) = [
        s for s in snapshots(clean.catalog_dir, "AWETH-AAVE.ETHEREUM") if s.ts_event == day_ns("2024-03-03")
    ]

    assert snap.liquidity_index == float(row["liquidityIndex"])
    assert snap.variable_borrow_index == float(row["variableBorrowIndex"])
    assert snap.liquidity_rate == float(row["currentLiquidityRate"])
    assert snap.variable_borrow_rate == float(row["currentVariableBorrowRate"])
    assert snap.total_a_token == float(row["totalAToken"])
    assert snap.total_variable_debt == float(row["totalVariableDebt"])


def test_reserve_without_rates_file_is_empty_and_reported(clean: Built) -> None:
    """wstETH has no rates file here: no snapshots are invented and the window check names it."""
    key = "AWSTETH-AAVE.ETHEREUM/reserve"

    assert snapshots(clean.catalog_dir, "AWSTETH-AAVE.ETHEREUM") == []
    assert defects_of(clean.catalog_dir, key)["no_data"]["decision"].startswith("no own data")
    with pytest.raises(WindowOutsideDataError, match=r"AWSTETH-AAVE\.ETHEREUM/reserve: no data at all"):
        CatalogManifest(clean.catalog_dir).check_window([key], S, S + D)
    CatalogManifest(clean.catalog_dir).check_window(["AWETH-AAVE.ETHEREUM/reserve"], S, S + DAYS * D)


def test_duplicate_snapshot_collapsed_and_counted_on_its_day(broken: Built) -> None:
    """The doubled WETH day gives one snapshot; a window warns about it only if it holds that day."""
    got = snapshots(broken.catalog_dir, "AWETH-AAVE.ETHEREUM")
    m = CatalogManifest(broken.catalog_dir)
    key = "AWETH-AAVE.ETHEREUM/reserve"

    assert [s.ts_event for s in got] == [S + d * D for d in range(DAYS)]
    assert m.window_report([key], S + 2 * D, S + 3 * D).warnings == [
        f"{key}: 1 duplicate rows in the window's raw data: identical rows: kept one"
    ]
    assert m.window_report([key], S, S + D).warnings == []


# --- defects and windows of rate series ---------------------------------------------------------


def test_oracle_hole_stays_missing_and_caveat_always_reported(broken: Built) -> None:
    """A rate has no proxy: missing samples stay missing; the oracle caveat is in every window's report."""
    key = "WEETH-ETHERFI.ETHEREUM"
    m = CatalogManifest(broken.catalog_dir)

    assert [b.ts_event for b in bars(broken.catalog_dir, key)] == [
        S + i * H for i in range(HOURS) if i not in ORACLE_HOLE
    ]
    assert manifest(broken.catalog_dir)["series"][key]["unfilled"] == [
        ["2024-03-02T16:00:00Z", "2024-03-02T18:00:00Z"]
    ]
    before = m.window_report([key], S, S + 30 * H).warnings
    during = m.window_report([key], S + 41 * H, S + 60 * H).warnings
    assert len(before) == 1 and before[0].startswith(f"{key}: ") and CAVEAT in before[0]
    assert during == [f"{key}: 2 rate rows missing in the window (no proxy had them)", before[0]]
    assert all(CAVEAT not in w for w in m.window_report(["WEETHETH-CURVE.ETHEREUM"], S, S + 30 * H).warnings)


def test_bad_market_rates_dropped_and_counted_at_sample_time(broken: Built) -> None:
    """NaN and zero market rates are dropped (not proxied); a rate defect row counts at its own stamp."""
    key = "WEETHETH-CURVE.ETHEREUM"
    got = {b.ts_event: b.close.as_decimal() for b in bars(broken.catalog_dir, key)}

    assert sorted(got) == [S + i * H for i in range(HOURS) if i not in PEG_BAD]
    assert all(got[S + i * H] == exact(market_rate("weETH", i)) for i in range(HOURS) if i not in PEG_BAD)
    bad = defects_of(broken.catalog_dir, key)["bad_value"]
    assert bad["timestamps"] == [S + i * H for i in sorted(PEG_BAD)]
    # the window opens at raw hour 8: only that bad row (not hour 7's) is inside it
    assert CatalogManifest(broken.catalog_dir).window_report([key], S + 8 * H, S + 20 * H).warnings == [
        f"{key}: 1 rate rows missing in the window (no proxy had them)",
        f"{key}: 1 bad_value rows in the window's raw data: dropped rows with NaN or non-positive rate",
    ]


@pytest.mark.parametrize(
    ("raw", "column", "key"),
    [
        pytest.param(WEETH_ORACLE, "oracle_price_eth", "WEETH-ETHERFI.ETHEREUM", id="oracle"),
        pytest.param(WSTETH_PEG, "market_rate", "WSTETHETH-UNIV3.ETHEREUM", id="peg"),
    ],
)
def test_rate_file_without_rate_column_fails_naming_file_and_column(
    clean_copy: Built, raw: RawFile, column: str, key: str
) -> None:
    """A rate file lacking its rate column stops the build; the message names the file and the column."""
    path = clean_copy.data_dir / raw.relpath
    before = (clean_copy.catalog_dir / "manifest.json").read_text()
    unrate_column(path, column)

    with pytest.raises(BuildError) as error:
        build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert str(error.value).startswith(f"{path}: missing required column(s) ['{column}'] for {key}")
    assert (clean_copy.catalog_dir / "manifest.json").read_text() == before
    assert sorted(p.name for p in clean_copy.catalog_dir.parent.iterdir()) == ["catalog", "data"]


# --- reward payouts ------------------------------------------------------------------------------


def expected_payouts(data_dir: Path) -> list[tuple]:
    """(payout, token, period start, period end, per eETH) of every exact program in the raw files."""
    out = []
    for row in raw_rows(data_dir / EIGEN_REWARDS.relpath):
        per_eeth = float(row["eigen_earned"]) / (float(row["eth_restaked"]) + float(row["eth_not_restaked"]))
        end = day_ns(row["staking_period_end"]) + D  # end dates are inclusive; paid when the period ends
        out.append((end, "EIGEN", day_ns(row["staking_period_start"]), end, per_eeth))
    for row in raw_rows(data_dir / ETHFI_TOPUPS.relpath):
        start, end = day_ns(row["staking_period_start"]), day_ns(row["staking_period_end"]) + D
        out.append(
            (day_ns(row["top_up_date"]), "ETHFI", start, end, float(row["ethfi_per_eeth_distributed"]))
        )
    for row in raw_rows(data_dir / SEASONAL_DROPS.relpath):
        start, end = day_ns(row["start_date"]), day_ns(row["end_date"]) + D
        out.append(
            (day_ns(row["payout_date"]), row["reward_token"], start, end, float(row["reward_per_eeth"]))
        )
    return sorted(out)


def test_reward_payouts_land_at_payout_time_with_raw_per_eeth(clean: Built) -> None:
    """Every reward row is one payout at its payout time; EIGEN per eETH is earned / ALL eETH."""
    got = payouts(clean.catalog_dir)

    assert [
        (p.ts_event, p.token, p.period_start_ns, p.period_end_ns, p.per_eeth) for p in got
    ] == expected_payouts(clean.data_dir)
    assert all(p.ts_init == p.ts_event for p in got)
    assert all((p.per_eeth_low, p.per_eeth_high, p.estimated) == (p.per_eeth, p.per_eeth, False) for p in got)
    first = got[0]  # 351234 EIGEN over 1520000 restaked + 480500 not restaked eETH
    assert (first.ts_event, first.per_eeth) == (day_ns("2024-02-25"), 351_234 / 2_000_500)
    assert first.per_eeth != 351_234 / 1_520_000  # not per restaked eETH
    cov = manifest(clean.catalog_dir)["series"]["REWARDS"]
    assert (cov["rows"], cov["first"], cov["last"]) == (4, "2024-02-25T00:00:00Z", "2024-03-04T00:00:00Z")
    assert cov["files"] == ["eigen_distributions_raw.csv", "ethfi_topups_raw.csv", "seasonal_drops.csv"]


def test_reward_interpretations_applied_and_recorded(broken: Built) -> None:
    """A 52-day EIGEN row, a range, a repeated top-up and a month-only payout: each decision is visible."""
    got = payouts(broken.catalog_dir)
    by_start = {(p.token, p.period_start_ns): p for p in got}

    long_row = by_start[("EIGEN", day_ns("2023-12-28"))]
    assert (long_row.period_end_ns, long_row.ts_event) == (day_ns("2024-02-18"), day_ns("2024-02-18"))
    assert long_row.per_eeth == 2_100_000 / (1_400_000 + 520_000)
    season_1 = by_start[("ETHFI", day_ns("2023-11-01"))]
    assert (season_1.per_eeth_low, season_1.per_eeth, season_1.per_eeth_high) == (5.0, 10.0, 15.0)
    assert season_1.estimated and season_1.ts_event == day_ns("2024-03-01")
    # the repeated top-up is paid once, and the season without a payout day not at all
    assert [p.per_eeth for p in got if p.period_start_ns == day_ns("2024-02-18") and p.token == "ETHFI"] == [
        0.021
    ]
    assert ("ETHFI", day_ns("2024-03-01")) not in by_start
    assert len(got) == 6
    kinds = [d["kind"] for d in manifest(broken.catalog_dir)["series"]["REWARDS"]["defects"]]
    assert kinds == ["interpretation", "interpretation", "interpretation", "estimated"]


def test_missing_reward_files_reported_and_build_succeeds(clean_copy: Built) -> None:
    """Without ``staking/rewards`` the build succeeds with no payouts and a ``no_data`` record."""
    shutil.rmtree(clean_copy.data_dir / "staking" / "rewards")

    result = build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert result.rebuilt  # the reward files are part of the fingerprint
    assert payouts(clean_copy.catalog_dir) == []
    cov = manifest(clean_copy.catalog_dir)["series"]["REWARDS"]
    assert [d["kind"] for d in cov["defects"]] == ["no_data"]
    assert (cov["rows"], cov["files"]) == (0, [])
    assert len(bars(clean_copy.catalog_dir, "WEETH-ETHERFI.ETHEREUM")) == HOURS


def test_rewards_folder_without_reward_files_reported_and_build_succeeds(clean_copy: Built) -> None:
    """The reward files absent from an existing folder: still ``no_data``, not a failed build."""
    folder = clean_copy.data_dir / "staking" / "rewards"
    for raw in (EIGEN_REWARDS, ETHFI_TOPUPS, SEASONAL_DROPS):
        (clean_copy.data_dir / raw.relpath).unlink()
    (folder / "bar-chart-supply-apy-2024-03-05-eeth.csv").write_text("date,apy\n2024-03-01,3.1\n")

    build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert payouts(clean_copy.catalog_dir) == []
    assert [d["kind"] for d in manifest(clean_copy.catalog_dir)["series"]["REWARDS"]["defects"]] == [
        "no_data"
    ]


def test_unreadable_reward_file_fails_naming_file_and_line(clean_copy: Built) -> None:
    """A reward value that is not a number stops the build with the file and line; the old catalog stays."""
    path = clean_copy.data_dir / ETHFI_TOPUPS.relpath
    before = (clean_copy.catalog_dir / "manifest.json").read_text()
    path.write_text(path.read_text().replace(",0.021\n", ",a lot\n"))

    with pytest.raises(BuildError, match=r"ethfi_topups_raw\.csv line 2: ethfi_per_eeth_distributed='a lot'"):
        build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert (clean_copy.catalog_dir / "manifest.json").read_text() == before


def test_changed_reward_file_triggers_rebuild(clean_copy: Built) -> None:
    """Reward files are build inputs: a new top-up amount is in the rebuilt catalog."""
    path = clean_copy.data_dir / ETHFI_TOPUPS.relpath
    path.write_text(path.read_text().replace(",0.021\n", ",0.025\n"))

    assert build_catalog(clean_copy.data_dir, clean_copy.catalog_dir).rebuilt
    assert [
        p.per_eeth for p in payouts(clean_copy.catalog_dir) if p.token == "ETHFI" and p.program != "season_0"
    ] == [0.025]


@pytest.mark.parametrize("key", ["REWARDS", "AAVE_PARAMS"])
def test_window_report_lists_reward_and_params_records(broken: Built, key: str) -> None:
    """A run using rewards or Aave parameters is told about their interpretations (they have no stamps)."""
    decisions = [d["decision"] for d in manifest(broken.catalog_dir)["series"][key]["defects"]]

    warnings = CatalogManifest(broken.catalog_dir).window_report([key], S, S + HOURS * H).warnings

    assert decisions
    assert all(any(w.startswith(f"{key}: ") and decision in w for w in warnings) for decision in decisions)


# --- Aave risk parameters -----------------------------------------------------------------------


def percent(text: str) -> float:
    return float(Decimal(text.removesuffix("%")) / 100)


def raw_params(data_dir: Path) -> dict[str, dict[str, str]]:
    """Reserve → {parameter: text} from the transposed CSV (header = reserves, one row per parameter)."""
    with (data_dir / AAVE_PARAMS.relpath).open(newline="", encoding="utf-8-sig") as handle:
        header, *rows = list(csv.reader(handle))
    return {reserve: {row[0]: row[i] for row in rows} for i, reserve in enumerate(header) if i}


def test_aave_params_hold_the_reserve_csv_and_the_emode_block(clean: Built) -> None:
    """``aave_params.json``: the configured reserves' CSV parameters and the JSON's e-mode, nothing else."""
    params = json.loads((clean.catalog_dir / "aave_params.json").read_text())
    raw = raw_params(clean.data_dir)

    assert set(params["reserves"]) == {"USDT", "WETH", "weETH", "wstETH"}  # WBTC is not configured
    for reserve, got in params["reserves"].items():
        assert got["ltv"] == percent(raw[reserve]["LTV"]), reserve
        assert got["liquidation_threshold"] == percent(raw[reserve]["Liquidation Threshold"]), reserve
        assert got["liquidation_bonus"] == percent(raw[reserve]["Liquidation Bonus"]), reserve
        assert got["reserve_factor"] == percent(raw[reserve]["Reserve Factor"]), reserve
    weth, weeth = params["reserves"]["WETH"], params["reserves"]["weETH"]
    assert (weth["ltv"], weth["liquidation_threshold"], weth["liquidation_bonus"]) == (0.81, 0.8425, 0.0475)
    assert (weeth["ltv"], weeth["liquidation_threshold"], weeth["liquidation_bonus"]) == (0.765, 0.79, 0.075)
    assert (weth["supply_cap"], weth["borrow_cap"]) == (4_100_000.0, 3_700_000.0)  # "0.0041B", "0.0037B"
    assert (weeth["borrow_cap"], weeth["borrowing_enabled"], weeth["flashloan_enabled"]) == (
        None,
        False,
        False,
    )
    emode = params["emode"]
    assert (emode["ltv"], emode["liquidation_threshold"], emode["liquidation_bonus"]) == (
        EMODE["ltv_limits"],
        EMODE["liquidation_thresholds"],
        EMODE["liquidation_bonus"],
    )
    assert set(emode["assets"]) >= {"WETH", "weETH", "wstETH"}
    assert read_aave_params(clean.catalog_dir) == params
    cov = manifest(clean.catalog_dir)["series"]["AAVE_PARAMS"]
    assert cov["files"] == [Path(AAVE_PARAMS.relpath).name, Path(AAVE_RISK.relpath).name]


@pytest.mark.parametrize("raw", [AAVE_PARAMS, AAVE_RISK], ids=["reserve-csv", "risk-json"])
def test_missing_params_file_reported_and_build_succeeds(clean_copy: Built, raw: RawFile) -> None:
    """Without either parameters file the build succeeds, without ``aave_params.json``, saying so."""
    (clean_copy.data_dir / raw.relpath).unlink()

    result = build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert result.rebuilt  # the parameter files are part of the fingerprint
    assert not (clean_copy.catalog_dir / "aave_params.json").exists()
    no_data = defects_of(clean_copy.catalog_dir, "AAVE_PARAMS")
    assert list(no_data) == ["no_data"]
    assert (
        "aave_current_v3_prams_etherum_mainnet.csv or aave_v3_risk_parameters.json"
        in no_data["no_data"]["decision"]
    )
    with pytest.raises(FileNotFoundError, match="rebuild the catalog"):
        read_aave_params(clean_copy.catalog_dir)
    assert len(snapshots(clean_copy.catalog_dir, "AWETH-AAVE.ETHEREUM")) == DAYS


def test_changed_params_file_triggers_rebuild(clean_copy: Built) -> None:
    """Editing WETH's LTV in the reserve CSV rebuilds and the new LTV is in ``aave_params.json``."""
    path = clean_copy.data_dir / AAVE_PARAMS.relpath
    path.write_text(
        path.read_text(encoding="utf-8-sig").replace("LTV,81%", "LTV,80.50%"), encoding="utf-8-sig"
    )

    assert build_catalog(clean_copy.data_dir, clean_copy.catalog_dir).rebuilt
    assert read_aave_params(clean_copy.catalog_dir)["reserves"]["WETH"]["ltv"] == 0.805


def test_params_without_a_configured_reserve_fail_naming_file_and_reserve(clean_copy: Built) -> None:
    """A reserves CSV lacking a configured reserve (weETH) stops the build, naming the file and reserve."""
    path = clean_copy.data_dir / AAVE_PARAMS.relpath
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False).drop(columns=["weETH"])
    path.write_text(frame.to_csv(index=False), encoding="utf-8-sig")

    with pytest.raises(BuildError, match=r"unknown reserve 'weETH'") as error:
        build_catalog(clean_copy.data_dir, clean_copy.catalog_dir)

    assert str(path) in str(error.value)


# --- wallet instruments ----------------------------------------------------------------------------


def test_wallet_instruments_trade_the_configured_currencies(clean: Built) -> None:
    """Pools, LST mint/queue and Aave aToken/debt pairs carry the wallet's custom currencies."""
    got = {
        str(i.id): (i.base_currency.code, i.quote_currency.code)
        for i in ParquetDataCatalog(str(clean.catalog_dir)).instruments()
        if i.id.venue.value == "ETHEREUM"
    }

    assert got == {
        "ETHUSDT-UNIV3.ETHEREUM": ("ETH", "USDT"),
        "EIGENETH-UNIV3.ETHEREUM": ("EIGEN", "ETH"),
        "ETHFIETH-UNIV3.ETHEREUM": ("ETHFI", "ETH"),
        "WEETHETH-CURVE.ETHEREUM": ("WEETH", "ETH"),
        "WSTETHETH-UNIV3.ETHEREUM": ("WSTETH", "ETH"),
        "WEETH-ETHERFI.ETHEREUM": ("WEETH", "ETH"),
        "WEETH-ETHERFIQ.ETHEREUM": ("WEETH", "WQETH"),
        "WSTETH-LIDO.ETHEREUM": ("WSTETH", "ETH"),
        "WSTETH-LIDOQ.ETHEREUM": ("WSTETH", "WQETH"),
        "AUSDT-AAVE.ETHEREUM": ("AUSDT", "USDT"),
        "VDUSDT-AAVE.ETHEREUM": ("VDUSDT", "USDT"),
        "AWETH-AAVE.ETHEREUM": ("AWETH", "ETH"),
        "VDWETH-AAVE.ETHEREUM": ("VDWETH", "ETH"),
        "AWEETH-AAVE.ETHEREUM": ("AWEETH", "WEETH"),
        "AWSTETH-AAVE.ETHEREUM": ("AWSTETH", "WSTETH"),
    }
