"""One test per plausibility check (configs/data_checks.yaml): a broken copy of the real files is
built and the check's decision is read back from the catalog, its manifest and a run's warnings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.defi.data import AaveReserveSnapshot, GasPrice
from data_catalog.checks import CheckConfig, load_checks
from data_catalog.manifest import CatalogManifest
from tests.data_catalog.real_copy import H, build, closes, copy_real, defects, ns, report

BINANCE_PERP = "cex/perp/binance_BTCUSDT_perp_1h_*.csv"
BYBIT_PERP = "cex/perp/bybit_BTCUSDT_perp_1h_*.csv"
BINANCE_SPOT = "cex/spot/binance_BTCUSDT_1h_*.csv"
BYBIT_SPOT = "cex/spot/bybit_BTCUSDT_spot_1h_*.csv"
BINANCE_FUNDING = "cex/funding/binance_BTCUSDT_funding_rates_*.csv"
BYBIT_FUNDING = "cex/funding/bybit_BTCUSDT_funding_rates_*.csv"
USDT_RESERVE = "aave/rates/aave_v3_aave-v3-ethereum_USDT_rates_*.csv"
WEETH_ORACLE = "aave/oracle/weETH_ETH_oracle_*.csv"
GAS = "gas/ethereum_gas_prices_*.csv"


@pytest.fixture(scope="module")
def checks() -> CheckConfig:
    return load_checks()


def _warnings(catalog: Path, key: str, ts_event: int) -> list[str]:
    """The data warnings a run over the day around ``ts_event`` prints for ``key``."""
    return CatalogManifest(catalog).window_report([key], ts_event - 12 * H, ts_event + 12 * H).warnings


def _raw_close(path: Path, raw_open: str) -> Decimal:
    line = next(x for x in path.read_text().splitlines() if x.startswith(raw_open))
    return Decimal(line.split(",")[4])


def _edit(path: Path, row: int, **values: float | str) -> pd.Series:
    """Set ``values`` in data row ``row`` of a plain CSV; return the row as it was."""
    frame = pd.read_csv(path)
    before = frame.loc[row].copy()
    for column, value in values.items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return before


def test_a_close_that_jumps_and_reverts_is_dropped_and_proxied(data_dir, tmp_path, checks):
    files = copy_real(data_dir, tmp_path / "data", BINANCE_PERP, BYBIT_PERP)
    frame = pd.read_csv(files[BINANCE_PERP])
    row = 6000
    prev, nxt = frame.loc[row - 1, "close"], frame.loc[row + 1, "close"]
    assert abs(nxt / prev - 1) < checks.cex_bars.spike_revert  # the neighbours agree
    spike = round(prev * (1 + 2 * checks.cex_bars.spike_jump), 1)
    raw_open = _edit(files[BINANCE_PERP], row, close=spike, high=spike)["timestamp"]

    catalog = build(tmp_path / "data")

    found = defects(catalog, "BTCUSDT-PERP.BINANCE")["spike"]
    assert found["timestamps"] == [ns(raw_open)]
    stamp = ns(raw_open) + H
    assert closes(catalog, "BTCUSDT-PERP.BINANCE")[stamp] == _raw_close(files[BYBIT_PERP], raw_open)
    assert any("1 spike rows" in w for w in _warnings(catalog, "BTCUSDT-PERP.BINANCE", stamp))
    assert "| spike | CEX bars |" in report(catalog) and "| 1 |" in report(catalog)


def test_a_close_far_from_the_other_venues_is_dropped_and_proxied(data_dir, tmp_path, checks):
    files = copy_real(data_dir, tmp_path / "data", BINANCE_PERP, BYBIT_PERP, BINANCE_SPOT, BYBIT_SPOT)
    frame = pd.read_csv(files[BINANCE_PERP])
    row = 7000
    factor = 1 + (checks.cex_bars.cross_venue_deviation + checks.cex_bars.spike_jump) / 2  # off, no spike
    shifted = {c: round(frame.loc[row, c] * factor, 1) for c in ("open", "high", "low", "close")}
    raw_open = _edit(files[BINANCE_PERP], row, **shifted)["timestamp"]

    catalog = build(tmp_path / "data")

    found = defects(catalog, "BTCUSDT-PERP.BINANCE")
    assert found["cross_venue_deviation"]["timestamps"] == [ns(raw_open)]
    assert "spike" not in found
    for other in ("BTCUSDT-LINEAR.BYBIT", "BTCUSDT.BINANCE_SPOT", "BTCUSDT-SPOT.BYBIT"):
        assert "cross_venue_deviation" not in defects(catalog, other), other
    stamp = ns(raw_open) + H
    assert closes(catalog, "BTCUSDT-PERP.BINANCE")[stamp] == _raw_close(files[BYBIT_PERP], raw_open)
    assert any("cross_venue_deviation" in w for w in _warnings(catalog, "BTCUSDT-PERP.BINANCE", stamp))


def _rates(catalog: Path, instrument_id: str) -> dict[int, Decimal]:
    updates = ParquetDataCatalog(str(catalog)).query(FundingRateUpdate, identifiers=[instrument_id])
    return {u.ts_event: Decimal(str(u.rate)) for u in updates}


def _raw_rate(path: Path, stamp: str) -> Decimal:
    line = next(x for x in path.read_text().splitlines() if x.startswith(stamp))
    return Decimal(line.split(",")[1])


def test_a_funding_print_beyond_the_venue_cap_is_dropped_and_proxied(data_dir, tmp_path, checks):
    files = copy_real(data_dir, tmp_path / "data", BINANCE_FUNDING, BYBIT_FUNDING)
    cap = checks.funding.cap("BINANCE", "BTCUSDT")
    assert cap is not None
    stamp = _edit(files[BINANCE_FUNDING], 100, funding_rate=2 * cap)["funding_timestamp"]

    catalog = build(tmp_path / "data")

    found = defects(catalog, "BTCUSDT-PERP.BINANCE/funding")["funding_beyond_cap"]
    assert found["timestamps"] == [ns(stamp)]
    assert _rates(catalog, "BTCUSDT-PERP.BINANCE")[ns(stamp)] == _raw_rate(files[BYBIT_FUNDING], stamp)
    assert any(
        "funding_beyond_cap" in w for w in _warnings(catalog, "BTCUSDT-PERP.BINANCE/funding", ns(stamp))
    )


def test_a_funding_print_off_the_8h_grid_is_dropped_and_proxied(data_dir, tmp_path):
    files = copy_real(data_dir, tmp_path / "data", BINANCE_FUNDING, BYBIT_FUNDING)
    frame = pd.read_csv(files[BINANCE_FUNDING])
    stamp = frame.loc[100, "funding_timestamp"]
    moved = (pd.Timestamp(stamp) + pd.Timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )  # 10:00, 18:00 or 02:00
    _edit(files[BINANCE_FUNDING], 100, funding_timestamp=moved)

    catalog = build(tmp_path / "data")

    off = defects(catalog, "BTCUSDT-PERP.BINANCE/funding")["off_grid"]
    assert off["timestamps"] == [ns(moved)] and off["decision"].startswith("dropped rows more than 60 s")
    rates = _rates(catalog, "BTCUSDT-PERP.BINANCE")
    assert ns(moved) not in rates
    assert rates[ns(stamp)] == _raw_rate(files[BYBIT_FUNDING], stamp)


def _snapshots(catalog: Path) -> dict[int, AaveReserveSnapshot]:
    got = ParquetDataCatalog(str(catalog)).query(AaveReserveSnapshot, identifiers=["AUSDT-AAVE.ETHEREUM"])
    return {c.data.ts_event: c.data for c in got}


@pytest.mark.parametrize("column", ["liquidityIndex", "variableBorrowIndex"])
def test_an_aave_index_that_decreases_drops_the_snapshot(data_dir, tmp_path, column):
    files = copy_real(data_dir, tmp_path / "data", USDT_RESERVE)
    frame = pd.read_csv(files[USDT_RESERVE])
    row = 100
    day = _edit(files[USDT_RESERVE], row, **{column: frame.loc[row - 1, column] * 0.99})["targetDate"]

    catalog = build(tmp_path / "data")

    found = defects(catalog, "AUSDT-AAVE.ETHEREUM/reserve")["index_decrease"]
    assert found["timestamps"] == [ns(day)] and column in found["decision"]
    snapshots = _snapshots(catalog)
    assert ns(day) not in snapshots
    assert {ns(frame.loc[row - 1, "targetDate"]), ns(frame.loc[row + 1, "targetDate"])} <= set(snapshots)
    assert any("index_decrease" in w for w in _warnings(catalog, "AUSDT-AAVE.ETHEREUM/reserve", ns(day)))


@pytest.mark.parametrize(
    ("column", "rate"), [("currentVariableBorrowRate", 1.5), ("currentLiquidityRate", -0.01)]
)
def test_an_aave_rate_out_of_range_drops_the_snapshot(data_dir, tmp_path, checks, column, rate):
    assert not 0 <= rate <= checks.aave.max_rate
    files = copy_real(data_dir, tmp_path / "data", USDT_RESERVE)
    day = _edit(files[USDT_RESERVE], 200, **{column: rate})["targetDate"]

    catalog = build(tmp_path / "data")

    assert defects(catalog, "AUSDT-AAVE.ETHEREUM/reserve")["rate_out_of_range"]["timestamps"] == [ns(day)]
    assert ns(day) not in _snapshots(catalog)


def test_a_falling_lst_protocol_rate_is_flagged_and_kept(data_dir, tmp_path):
    files = copy_real(data_dir, tmp_path / "data", WEETH_ORACLE)
    path = files[WEETH_ORACLE]
    lines = path.read_text().splitlines(keepends=True)
    index = 2000
    stamp, value, *rest = lines[index].split(",")
    assert not stamp.startswith("#")
    fallen = Decimal(value) * Decimal("0.99")
    lines[index] = ",".join([stamp, str(fallen), *rest])
    path.write_text("".join(lines))

    catalog = build(tmp_path / "data")

    found = defects(catalog, "WEETH-ETHERFI.ETHEREUM")["rate_decrease"]
    assert found["timestamps"] == [ns(stamp)] and found["decision"].startswith("kept, flagged")
    kept = closes(catalog, "WEETH-ETHERFI.ETHEREUM")[ns(stamp)]
    assert abs(kept - fallen) <= Decimal("5e-11")  # kept, at the rate instrument's 1e-10 step
    assert any("rate_decrease" in w for w in _warnings(catalog, "WEETH-ETHERFI.ETHEREUM", ns(stamp)))


def test_an_absurd_gas_price_is_dropped(data_dir, tmp_path, checks):
    files = copy_real(data_dir, tmp_path / "data", GAS)
    stamp = _edit(files[GAS], 500, gas_price_gwei=4 * checks.gas.max_gwei)["timestamp"]

    catalog = build(tmp_path / "data")

    assert defects(catalog, "GAS")["gas_absurd"]["timestamps"] == [ns(stamp)]
    samples = {c.data.ts_event for c in ParquetDataCatalog(str(catalog)).query(GasPrice)}
    assert ns(stamp) not in samples and ns(stamp) - H in samples and ns(stamp) + H in samples
