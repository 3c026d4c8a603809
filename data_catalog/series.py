"""The raw series the catalog is built from, and how each is read and cleaned.

A :class:`SeriesSpec` names one series (a venue's spot bars, a perp's funding prints, the gas
price …), the files holding it and the other series that may stand in for it (proxies). Reading
returns a :class:`CleanSeries`: the series' own rows after every defect decision, plus the
decisions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from adapters.cex.config import CexVenueConfig, WalletVenueConfig
from adapters.cex.instruments import cex_instrument_id
from data_catalog import raw_files
from data_catalog.validation import (
    HOUR_NS,
    Defect,
    drop_bad_values,
    make_defect,
    parse_timestamps,
    repair_ohlc,
    repair_volume,
    sort_rows,
    split_duplicates,
)

FUNDING_INTERVAL_NS = 8 * HOUR_NS
SNAP_TOLERANCE_NS = 60 * 1_000_000_000
OHLC = ("open", "high", "low", "close")

SeriesKind = Literal["bars", "funding", "gas"]


class BuildError(RuntimeError):
    """A raw file cannot be used at all (missing columns, unreadable); the message names it."""


@dataclass(frozen=True)
class SeriesSpec:
    """One raw series and where it comes from."""

    key: str
    """Catalog id: the instrument id for bars and funding, ``GAS`` for the gas price."""
    kind: SeriesKind
    glob: str
    ts_column: str
    ts_unit: str | None = None
    """``None`` for ISO-8601 strings, ``"s"`` for unix seconds."""
    consensus_group: str | None = None
    """Series in the same group measure the same quantity on other venues (conflict reference)."""
    proxies: tuple[str, ...] = ()

    @property
    def step_ns(self) -> int:
        return FUNDING_INTERVAL_NS if self.kind == "funding" else HOUR_NS

    @property
    def value_columns(self) -> tuple[str, ...]:
        if self.kind == "bars":
            return (*OHLC, "volume")
        if self.kind == "funding":
            return ("funding_rate",)
        return ("gas_price_gwei", "base_fee_gwei", "priority_fee_p50_gwei")

    @property
    def required_columns(self) -> tuple[str, ...]:
        if self.kind == "bars":
            return raw_files.BAR_COLUMNS
        if self.kind == "funding":
            return raw_files.FUNDING_COLUMNS
        return raw_files.GAS_COLUMNS

    @property
    def reference_column(self) -> str:
        return {"bars": "close", "funding": "funding_rate", "gas": "gas_price_gwei"}[self.kind]


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
            if inst.kind == "perp":
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
    """The wallet venue's ETH/USDT pool bars and the gas price."""
    pool_id = f"{wallet.dex.pool}.{wallet.venue}"
    return [
        SeriesSpec(
            key=pool_id,
            kind="bars",
            glob=raw_files.dex_pool_glob("WETHUSDT"),
            ts_column="timestamp",
            ts_unit="s",
            proxies=wallet.dex.proxies,
        ),
        SeriesSpec(key="GAS", kind="gas", glob=raw_files.GAS_PRICE_GLOB, ts_column="timestamp"),
    ]


def _read_files(spec: SeriesSpec, data_dir: Path) -> tuple[list[Path], pd.DataFrame]:
    paths = sorted(data_dir.glob(spec.glob))
    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise BuildError(f"{path}: cannot read CSV: {e}") from e
        missing = [c for c in (spec.required_columns) if c not in frame.columns]
        if missing:
            raise BuildError(
                f"{path}: missing required column(s) {missing} for {spec.key} (found {list(frame.columns)})",
            )
        if spec.kind == "gas":
            for column in spec.value_columns:
                if column not in frame.columns:
                    frame[column] = 0.0
        frames.append(frame[[spec.ts_column, *spec.value_columns]])
    if not frames:
        return [], pd.DataFrame(columns=[spec.ts_column, *spec.value_columns])
    return paths, pd.concat(frames, ignore_index=True)


def _snap_to_grid(frame: pd.DataFrame, spec: SeriesSpec) -> tuple[pd.DataFrame, list[Defect]]:
    """Snap stamps within a minute of the grid onto it; drop rows further off."""
    step = spec.step_ns
    offset = frame["ts"] % step
    distance = pd.concat([offset, step - offset], axis=1).min(axis=1)
    off = offset != 0
    if not off.any():
        return frame, []
    snap = off & (distance <= SNAP_TOLERANCE_NS)
    drop = off & ~snap
    defects = []
    out = frame.copy()
    if snap.any():
        defects.append(
            make_defect(spec.key, "off_grid", out.loc[snap, "ts"], "snapped to the grid (within 60 s)")
        )
        out.loc[snap, "ts"] = ((out.loc[snap, "ts"] + step // 2) // step) * step
    if drop.any():
        defects.append(
            make_defect(spec.key, "off_grid", out.loc[drop, "ts"], "dropped rows more than 60 s off the grid")
        )
    return out.loc[~drop], defects


def raw_stamp_offset(kind: str) -> int:
    """``ts_event`` minus the raw file's stamp: one hour for bars (stamped at open), else zero."""
    return HOUR_NS if kind == "bars" else 0


def stamp_at_event_time(clean: CleanSeries) -> None:
    """Re-stamp a cleaned series at Nautilus ``ts_event`` (bars close an hour after they open)."""
    offset = raw_stamp_offset(clean.spec.kind)
    if offset:
        clean.frame = clean.frame.assign(ts=clean.frame["ts"] + offset)


def read_series(spec: SeriesSpec, data_dir: Path) -> CleanSeries:
    """Read and clean one series' own rows; conflicting duplicates are left for resolution."""
    paths, frame = _read_files(spec, data_dir)
    defects: list[Defect] = []
    frame, found = parse_timestamps(frame, spec.ts_column, spec.ts_unit, spec.key)
    defects += found
    frame, found = _snap_to_grid(frame, spec)
    defects += found
    frame, found = sort_rows(frame, spec.key)
    defects += found
    if spec.kind == "bars":
        frame, found = drop_bad_values(frame, OHLC, spec.key, positive=True)
        defects += found
        frame, found = repair_ohlc(frame, spec.key)
        defects += found
        frame, found = repair_volume(frame, spec.key)
        defects += found
    else:
        frame, found = drop_bad_values(frame, spec.value_columns[:1], spec.key, positive=spec.kind == "gas")
        defects += found
    unique, conflicts, found = split_duplicates(frame, spec.value_columns, spec.key)
    defects += found
    return CleanSeries(
        spec=spec,
        files=[p.name for p in paths],
        frame=unique[["ts", *spec.value_columns]].reset_index(drop=True),
        conflicts=conflicts[["ts", *spec.value_columns]],
        defects=defects,
    )
