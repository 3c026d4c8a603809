"""The raw series the catalog is built from, and how each is read and cleaned.

A :class:`SeriesSpec` names one series (a venue's spot bars, a perp's funding prints, the gas
price …), the files holding it and the other series that may stand in for it (proxies). Reading
returns a :class:`CleanSeries`: the series' own rows after every defect decision, plus the
decisions themselves.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from adapters.cex.config import CexVenueConfig
from adapters.cex.instruments import cex_instrument_id
from adapters.defi.config import WalletVenueConfig
from adapters.hours import DAY_NS, HOUR_NS
from data_catalog import checks as plausibility
from data_catalog import raw_files
from data_catalog.validation import (
    Defect,
    drop_bad_values,
    drop_inconsistent_ohlc,
    drop_short_rows,
    make_defect,
    parse_timestamps,
    repair_volume,
    sort_rows,
    split_duplicates,
)

FUNDING_INTERVAL_NS = 8 * HOUR_NS
OHLC = ("open", "high", "low", "close")

SeriesKind = Literal["bars", "rate", "funding", "gas", "aave"]

ORACLE_CAVEAT = (
    "hourly LST/ETH rates were interpolated from daily oracle readings by the data provider, so a "
    "value inside a day leans on the next reading (at most a day ahead, ≈0.01% of the rate)"
)

AAVE_COLUMNS = (
    "liquidityIndex",
    "variableBorrowIndex",
    "currentLiquidityRate",
    "currentVariableBorrowRate",
    "totalAToken",
    "totalVariableDebt",
)


@dataclass(frozen=True)
class KindRules:
    """How one kind of series is shaped and cleaned."""

    step_ns: int
    required: tuple[str, ...]
    """Value columns the raw file must have (besides the time column)."""
    values: tuple[str, ...]
    """Value columns kept (after renaming a rate's source column to ``rate``)."""
    must_be_positive: tuple[str, ...]
    reference: str
    """Column compared across venues to resolve conflicting duplicates."""
    raw_stamp_offset_ns: int
    """``ts_event`` minus the raw stamp: bars are stamped at their open in the files."""


KINDS: dict[str, KindRules] = {
    "bars": KindRules(HOUR_NS, raw_files.BAR_COLUMNS[1:], (*OHLC, "volume"), OHLC, "close", HOUR_NS),
    "rate": KindRules(HOUR_NS, (), ("rate",), ("rate",), "rate", 0),
    "funding": KindRules(FUNDING_INTERVAL_NS, ("funding_rate",), ("funding_rate",), (), "funding_rate", 0),
    "gas": KindRules(
        HOUR_NS,
        ("gas_price_gwei",),
        ("gas_price_gwei", "base_fee_gwei", "priority_fee_p50_gwei"),
        ("gas_price_gwei",),
        "gas_price_gwei",
        0,
    ),
    "aave": KindRules(DAY_NS, AAVE_COLUMNS, AAVE_COLUMNS, AAVE_COLUMNS[:2], "liquidityIndex", 0),
}


class BuildError(RuntimeError):
    """A raw file cannot be used at all (missing columns, unreadable); the message names it."""


@dataclass(frozen=True)
class SeriesSpec:
    """One raw series and where it comes from."""

    key: str
    """Catalog id: an instrument id (bars, rates), ``<perp>/funding``, ``<aToken>/reserve``, ``GAS``."""
    kind: SeriesKind
    glob: str
    ts_column: str
    ts_unit: str | None = None
    """``None`` for ISO-8601 strings, ``"s"`` for unix seconds."""
    consensus_group: str | None = None
    """Series in the same group measure the same quantity on other venues (conflict reference)."""
    proxies: tuple[str, ...] = ()
    rate_column: str | None = None
    """For ``rate`` series: the raw column holding the rate."""
    caveat: str | None = None
    """A known property of the source every run using it should be told about."""
    only_grows: bool = False
    """A protocol rate that can only grow (an LST's exchange rate): a fall is flagged."""

    @property
    def rules(self) -> KindRules:
        return KINDS[self.kind]

    @property
    def step_ns(self) -> int:
        return self.rules.step_ns

    @property
    def value_columns(self) -> tuple[str, ...]:
        return self.rules.values

    @property
    def required_columns(self) -> tuple[str, ...]:
        extra = (self.rate_column,) if self.rate_column else ()
        return (self.ts_column, *self.rules.required, *extra)

    @property
    def reference_column(self) -> str:
        return self.rules.reference

    @property
    def venue(self) -> str:
        """The venue of the series' instrument (``BINANCE`` for ``BTCUSDT-PERP.BINANCE/funding``)."""
        return self.key.split("/")[0].rsplit(".", 1)[-1]

    @property
    def symbol(self) -> str | None:
        """The raw-file symbol of a CEX series (``BTCUSDT``); None for the wallet venue's series."""
        return self.consensus_group.split(":", 1)[1] if self.consensus_group else None


@dataclass
class CleanSeries:
    """A series' own rows after cleaning, stamped as in the raw file (bar OPEN for bars) until
    :func:`stamp_at_event_time` moves bars to their Nautilus ``ts_event`` (bar CLOSE)."""

    spec: SeriesSpec
    files: list[str]
    frame: pd.DataFrame
    conflicts: pd.DataFrame
    defects: list[Defect] = field(default_factory=list)

    @property
    def ts(self) -> pd.Index:
        return pd.Index(self.frame["ts"])


def cex_series_specs(venues: Iterable[CexVenueConfig]) -> list[SeriesSpec]:
    """Bars for every CEX instrument and funding for every perp, with their proxies."""
    specs = []
    for config in venues:
        for inst in config.instruments:
            iid = str(cex_instrument_id(config.venue, inst.base, inst.kind, inst.quote))
            specs.append(
                SeriesSpec(
                    key=iid,
                    kind="bars",
                    glob=raw_files.bar_glob(config.venue, inst.data_symbol, inst.kind),
                    ts_column="timestamp",
                    consensus_group=f"{inst.kind}:{inst.data_symbol}",
                    proxies=inst.proxies,
                ),
            )
            if inst.kind != "spot":
                specs.append(
                    SeriesSpec(
                        key=f"{iid}/funding",
                        kind="funding",
                        glob=raw_files.funding_glob(config.venue, inst.data_symbol),
                        ts_column="funding_timestamp",
                        consensus_group=f"funding:{inst.data_symbol}",
                        proxies=tuple(f"{p}/funding" for p in inst.proxies),
                    ),
                )
    return specs


def wallet_series_specs(wallet: WalletVenueConfig) -> list[SeriesSpec]:
    """The wallet venue's pool prices, LST protocol rates, Aave reserves and the gas price."""
    specs = []
    for pool in wallet.pools:
        key = f"{pool.symbol}.{wallet.venue}"
        source, name = pool.history.split(":", 1)
        if source == "dex":
            glob = raw_files.dex_pool_glob(name)
            specs.append(SeriesSpec(key, "bars", glob, "timestamp", ts_unit="s", proxies=pool.proxies))
        else:
            glob = raw_files.lst_market_glob(name)
            specs.append(SeriesSpec(key, "rate", glob, "timestamp", rate_column="market_rate"))
    for lst in wallet.staking:
        glob = raw_files.lst_oracle_glob(lst.asset)
        key = f"{lst.mint_symbol}.{wallet.venue}"
        specs.append(
            SeriesSpec(
                key,
                "rate",
                glob,
                "timestamp",
                rate_column="oracle_price_eth",
                caveat=ORACLE_CAVEAT,
                only_grows=True,
            )
        )
    for reserve in wallet.aave.reserves:
        key = f"{reserve.a_token}-AAVE.{wallet.venue}/reserve"
        specs.append(SeriesSpec(key, "aave", raw_files.aave_rates_glob(reserve.asset), "targetDate"))
    specs.append(SeriesSpec("GAS", "gas", raw_files.GAS_PRICE_GLOB, "timestamp"))
    return specs


SHORT = "_short"
"""Column marking rows with fewer fields than the header (see :func:`_short_rows`)."""


def _short_rows(path: Path, rows: int) -> list[bool]:
    """Per data row of ``path`` (as ``pd.read_csv(comment="#")`` reads them), whether it has fewer
    fields than the header: pandas pads such a row with NaN, so a line cut inside a field would
    otherwise read as a complete row holding the cut number."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            lines = (line for line in f if line.strip() and not line.startswith("#"))
            widths = [len(fields) for fields in csv.reader(lines)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise BuildError(f"{path}: cannot read CSV: {e}") from e
    if len(widths) - 1 != rows:
        raise BuildError(f"{path}: {len(widths) - 1} data lines but {rows} rows parsed; cannot check rows")
    return [w < widths[0] for w in widths[1:]]


def _read_files(spec: SeriesSpec, data_dir: Path) -> tuple[list[Path], pd.DataFrame]:
    paths = sorted(data_dir.glob(spec.glob))
    frames = []
    columns = [spec.ts_column, *spec.value_columns, SHORT]
    for path in paths:
        try:
            frame = pd.read_csv(path, comment="#")
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise BuildError(f"{path}: cannot read CSV: {e}") from e
        missing = [c for c in spec.required_columns if c not in frame.columns]
        if missing:
            raise BuildError(
                f"{path}: missing required column(s) {missing} for {spec.key} (found {list(frame.columns)})",
            )
        if spec.rate_column:
            frame = frame.rename(columns={spec.rate_column: "rate"})
        for column in spec.value_columns:  # optional extras (e.g. gas percentiles) default to 0
            if column not in frame.columns:
                frame[column] = 0.0
        frame[SHORT] = _short_rows(path, len(frame))
        frames.append(frame[columns])
    if not frames:
        return [], pd.DataFrame(columns=columns)
    return paths, pd.concat(frames, ignore_index=True)


def _snap_to_grid(
    frame: pd.DataFrame, spec: SeriesSpec, snap_seconds: int
) -> tuple[pd.DataFrame, list[Defect]]:
    """Snap stamps within ``snap_seconds`` of the grid onto it; drop rows further off."""
    step = spec.step_ns
    tolerance = snap_seconds * 1_000_000_000
    offset = frame["ts"] % step
    distance = pd.concat([offset, step - offset], axis=1).min(axis=1)
    off = offset != 0
    if not off.any():
        return frame, []
    snap = off & (distance <= tolerance)
    drop = off & ~snap
    defects = []
    out = frame.copy()
    if snap.any():
        defects.append(
            make_defect(
                spec.key, "off_grid", out.loc[snap, "ts"], f"snapped to the grid (within {snap_seconds} s)"
            )
        )
        out.loc[snap, "ts"] = ((out.loc[snap, "ts"] + step // 2) // step) * step
    if drop.any():
        defects.append(
            make_defect(
                spec.key,
                "off_grid",
                out.loc[drop, "ts"],
                f"dropped rows more than {snap_seconds} s off the grid: filled like holes",
            )
        )
    return out.loc[~drop], defects


def raw_stamp_offset(kind: str) -> int:
    """``ts_event`` minus the raw file's stamp: one hour for bars (stamped at open), else zero
    (also for the non-series records of the manifest: rewards, protocol parameters)."""
    rules = KINDS.get(kind)
    return rules.raw_stamp_offset_ns if rules is not None else 0


def stamp_at_event_time(clean: CleanSeries) -> None:
    """Re-stamp a cleaned series at Nautilus ``ts_event`` (bars close an hour after they open)."""
    offset = raw_stamp_offset(clean.spec.kind)
    if offset:
        clean.frame = clean.frame.assign(ts=clean.frame["ts"] + offset)


def _plausible(
    frame: pd.DataFrame, spec: SeriesSpec, checks: plausibility.CheckConfig
) -> tuple[pd.DataFrame, list[Defect]]:
    """The single-series plausibility checks of the series' kind (cross-venue ones run in the
    build, once every series is read)."""
    if spec.kind == "bars" and spec.symbol is not None:
        bars = checks.cex_bars
        return plausibility.spike_reverts(frame, spec.key, bars.spike_jump, bars.spike_revert)
    if spec.kind == "funding" and spec.symbol is not None:
        return plausibility.funding_beyond_cap(frame, spec.key, checks.funding.cap(spec.venue, spec.symbol))
    if spec.kind == "aave":
        frame, defects = plausibility.aave_rates_out_of_range(frame, spec.key, checks.aave.max_rate)
        frame, found = plausibility.aave_index_decreases(frame, spec.key)
        return frame, defects + found
    if spec.kind == "rate" and spec.only_grows:
        return plausibility.lst_rate_decreases(frame, spec.key, checks.lst.decrease_tolerance)
    if spec.kind == "gas":
        return plausibility.absurd_gas(frame, spec.key, checks.gas.max_gwei)
    return frame, []


def read_series(spec: SeriesSpec, data_dir: Path, checks: plausibility.CheckConfig) -> CleanSeries:
    """Read and clean one series' own rows; conflicting duplicates are left for resolution."""
    paths, frame = _read_files(spec, data_dir)
    defects: list[Defect] = []
    frame, found = parse_timestamps(frame, spec.ts_column, spec.ts_unit, spec.key)
    defects += found
    frame, found = drop_short_rows(frame.drop(columns=SHORT), frame[SHORT], spec.key)
    defects += found
    frame, found = _snap_to_grid(frame, spec, checks.grid.snap_seconds)
    defects += found
    frame, found = sort_rows(frame, spec.key)
    defects += found
    positive = spec.rules.must_be_positive
    frame, found = drop_bad_values(
        frame, positive or spec.value_columns[:1], spec.key, positive=bool(positive)
    )
    defects += found
    if spec.kind == "bars":
        frame, found = drop_inconsistent_ohlc(frame, spec.key)
        defects += found
        frame, found = repair_volume(frame, spec.key)
        defects += found
    unique, conflicts, found = split_duplicates(frame, spec.value_columns, spec.key)
    defects += found
    unique, found = _plausible(unique, spec, checks)
    defects += found
    if spec.caveat and paths:
        defects.append(Defect(spec.key, "caveat", 0, spec.caveat))
    return CleanSeries(
        spec=spec,
        files=[p.name for p in paths],
        frame=unique[["ts", *spec.value_columns]].reset_index(drop=True),
        conflicts=conflicts[["ts", *spec.value_columns]],
        defects=defects,
    )
