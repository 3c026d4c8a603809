"""Build the Nautilus ``ParquetDataCatalog`` from raw history, with a validation report.

One call reads every raw series, applies the defect decisions (:mod:`data_catalog.validation`),
fills hours a series lacks from its documented proxies, and writes instruments, bars (stamped at
bar close), ``FundingRateUpdate`` prints and gas prices. The build goes to a temporary directory
that replaces the old catalog only when complete, and is skipped when nothing it depends on has
changed, so running it twice is cheap and a failed build never leaves a half-written catalog.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from adapters.cex.config import load_all_cex_venues
from adapters.cex.instruments import venue_instruments
from adapters.config import VENUE_CONFIG_DIR, ConfigError
from adapters.defi.config import load_wallet_venue
from adapters.defi.data import AaveReserveSnapshot, GasPrice
from adapters.defi.instruments import wallet_instruments
from data_catalog.benchmarks import SUSDE_GLOB, write_susde_benchmark
from data_catalog.checks import CHECKS_FILE, CheckConfig, cross_venue_outliers, load_checks
from data_catalog.manifest import MANIFEST_FILE, SeriesCoverage, write_manifest
from data_catalog.protocol_data import INPUT_GLOBS, write_aave_params, write_rewards
from data_catalog.report import write_validation_report
from data_catalog.series import (
    AAVE_COLUMNS,
    BuildError,
    CleanSeries,
    SeriesSpec,
    cex_series_specs,
    read_series,
    stamp_at_event_time,
    wallet_series_specs,
)
from data_catalog.validation import Defect, hour_ranges, missing_on_grid, resolve_conflicts

BUILDER_VERSION = "5"
"""Bump when the build logic changes so existing catalogs are rebuilt."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    catalog_dir: Path
    rebuilt: bool
    seconds: float
    series: int
    defects: int
    proxied_hours: int


def _fingerprint(data_dir: Path, specs: list[SeriesSpec]) -> str:
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    for config in [*sorted(VENUE_CONFIG_DIR.glob("*.yaml")), CHECKS_FILE]:
        digest.update(config.read_bytes())
    for glob in [*(spec.glob for spec in specs), *INPUT_GLOBS, SUSDE_GLOB]:
        for path in sorted(data_dir.glob(glob)):
            digest.update(str(path.relative_to(data_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _references(series: dict[str, CleanSeries], target: CleanSeries) -> pd.Series | None:
    """Median, per timestamp, of the same quantity on the other venues (for conflict resolution)."""
    group = target.spec.consensus_group
    if group is None:
        return None
    column = target.spec.reference_column
    others = [
        s.frame.set_index("ts")[column]
        for s in series.values()
        if s is not target and s.spec.consensus_group == group and not s.frame.empty
    ]
    if not others:
        return None
    return pd.concat(others, axis=1).median(axis=1)


def _resolve_conflicts(series: dict[str, CleanSeries]) -> None:
    for clean in series.values():
        resolved, defects = resolve_conflicts(
            clean.conflicts,
            clean.spec.reference_column,
            _references(series, clean),
            clean.spec.key,
        )
        if not resolved.empty:
            clean.frame = pd.concat([clean.frame, resolved], ignore_index=True).sort_values(
                "ts", kind="stable"
            )
            clean.frame = clean.frame.reset_index(drop=True)
        clean.defects += defects


def _check_across_venues(series: dict[str, CleanSeries], checks: CheckConfig) -> None:
    """Drop CEX closes far from the other venues' (spot and perp) closes of the same pair at that hour."""
    pairs: dict[str, list[CleanSeries]] = {}
    for clean in series.values():
        if clean.spec.kind == "bars" and clean.spec.symbol is not None:
            pairs.setdefault(clean.spec.symbol, []).append(clean)
    for members in pairs.values():
        frames = {c.spec.key: c.frame for c in members}
        checked = cross_venue_outliers(frames, checks.cex_bars.cross_venue_deviation)
        for clean in members:
            clean.frame, found = checked[clean.spec.key]
            clean.defects += found


def _fill_from_proxies(
    clean: CleanSeries, series: dict[str, CleanSeries]
) -> tuple[pd.DataFrame, SeriesCoverage]:
    """The series on its full grid: own rows, then each proxy's own rows for the hours still missing."""
    spec = clean.spec
    own = clean.frame
    sources = [series[p] for p in spec.proxies if p in series and not series[p].frame.empty]
    spans = [s.frame["ts"] for s in [clean, *sources] if not s.frame.empty]
    coverage = SeriesCoverage.empty(spec, clean.files)
    if not spans:
        clean.defects.append(
            Defect(spec.key, "no_data", 0, "no own data and no proxy data: series left empty")
        )
        return own.assign(source="own"), coverage
    start = int(min(s.min() for s in spans))
    end = int(max(s.max() for s in spans))
    missing = missing_on_grid(own["ts"].to_numpy(), start, end, spec.step_ns)
    parts = [own.assign(source="own")]
    for source in sources:
        if missing.size == 0:
            break
        take = source.frame[source.frame["ts"].isin(missing)]
        if not take.empty:
            parts.append(take.assign(source=source.spec.key))
            coverage.proxied[source.spec.key] = hour_ranges(take["ts"], spec.step_ns), len(take)
            missing = missing[~np.isin(missing, take["ts"].to_numpy())]
    final = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    coverage.set_span(final["ts"], own["ts"], missing)
    if own.empty:
        clean.defects.append(
            Defect(
                spec.key, "no_data", 0, f"no own history: every row comes from proxies {list(spec.proxies)}"
            ),
        )
    own_holes = (
        missing_on_grid(own["ts"].to_numpy(), int(own["ts"].min()), int(own["ts"].max()), spec.step_ns)
        if not own.empty
        else np.array([], dtype=np.int64)
    )
    if own_holes.size:
        filled = own_holes[~np.isin(own_holes, missing)].size
        decision = (
            f"{filled} filled from proxies {list(spec.proxies)}, {own_holes.size - filled} left unfilled"
        )
        if spec.kind == "gas":
            decision = "left unfilled: the last gas-price sample applies until the next one"
        ranges = hour_ranges(own_holes, spec.step_ns)
        clean.defects.append(
            Defect(
                spec.key,
                "hole",
                int(own_holes.size),
                decision,
                first=ranges[0][0],
                last=ranges[-1][1],
                examples=tuple(f"{a} .. {b}" for a, b in ranges[:5]),
            ),
        )
    return final, coverage


def _bars(instrument: Instrument, frame: pd.DataFrame) -> list[Bar]:
    bar_type = bar_type_for(instrument.id)
    price, size_precision = instrument.make_price, instrument.size_precision
    ts = frame["ts"].tolist()
    return [  # volume is informative only: below the size step it rounds to zero instead of failing
        Bar(bar_type, price(o), price(h), price(lo), price(c), Quantity(v, size_precision), t, t)
        for o, h, lo, c, v, t in zip(
            frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"], ts, strict=True
        )
    ]


def _funding(instrument_id: InstrumentId, frame: pd.DataFrame) -> list[FundingRateUpdate]:
    return [
        FundingRateUpdate(instrument_id, Decimal(repr(float(rate))), int(t), int(t), interval=480)
        for rate, t in zip(frame["funding_rate"], frame["ts"], strict=True)
    ]


def _gas(frame: pd.DataFrame) -> list[GasPrice]:
    return [
        GasPrice(
            ts_event=int(t), ts_init=int(t), gwei=float(g), base_fee_gwei=float(b), priority_fee_gwei=float(p)
        )
        for t, g, b, p in zip(
            frame["ts"],
            frame["gas_price_gwei"],
            frame["base_fee_gwei"],
            frame["priority_fee_p50_gwei"],
            strict=True,
        )
    ]


def _aave(instrument_id: InstrumentId, frame: pd.DataFrame) -> list[AaveReserveSnapshot]:
    symbol = instrument_id.symbol.value
    reserve = next(r.asset for r in load_wallet_venue().aave.reserves if f"{r.a_token}-AAVE" == symbol)
    columns = [frame[c].tolist() for c in ("ts", *AAVE_COLUMNS)]
    return [
        AaveReserveSnapshot(
            ts_event=int(t),
            ts_init=int(t),
            instrument_id=instrument_id,
            reserve=reserve,
            liquidity_index=float(li),
            variable_borrow_index=float(bi),
            liquidity_rate=float(lr),
            variable_borrow_rate=float(br),
            total_a_token=float(supplied),
            total_variable_debt=float(debt),
        )
        for t, li, bi, lr, br, supplied, debt in zip(*columns, strict=True)
    ]


def _instruments() -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for config in load_all_cex_venues().values():
        for iid, (_, instrument) in venue_instruments(config).items():
            out[str(iid)] = instrument
    for instrument in wallet_instruments(load_wallet_venue()):
        out[str(instrument.id)] = instrument
    return out


def _all_specs() -> list[SeriesSpec]:
    return cex_series_specs(load_all_cex_venues().values()) + wallet_series_specs(load_wallet_venue())


def _write(
    catalog: ParquetDataCatalog, key: str, kind: str, frame: pd.DataFrame, instruments: dict[str, Instrument]
) -> None:
    if frame.empty:
        return
    if kind == "bars":
        instrument = instruments[key]
        if getattr(instrument, "is_inverse", False) and "source" in frame:
            # a linear proxy counts volume in coins; the inverse perp counts contracts of `multiplier` USD
            proxied = frame["source"] != "own"
            contracts = frame["volume"] * frame["close"] / instrument.multiplier.as_double()
            frame = frame.assign(volume=contracts.where(proxied, frame["volume"]))
        catalog.write_data(_bars(instrument, frame))
    elif kind == "rate":  # a rate sample is a flat bar: the mark at that instant, no volume
        rate = frame["rate"]
        catalog.write_data(
            _bars(instruments[key], frame.assign(open=rate, high=rate, low=rate, close=rate, volume=0.0))
        )
    elif kind == "funding":
        catalog.write_data(_funding(InstrumentId.from_str(key.split("/")[0]), frame))
    elif kind == "aave":
        catalog.write_data(_aave(InstrumentId.from_str(key.split("/")[0]), frame))
    else:
        catalog.write_data(_gas(frame))


def build_catalog(
    data_dir: Path,
    catalog_dir: Path,
    *,
    force: bool = False,
    progress: Progress = lambda _: None,
) -> BuildResult:
    """Build (or confirm up to date) the catalog at ``catalog_dir`` from ``data_dir``."""
    started = time.perf_counter()
    try:
        checks = load_checks()
    except ConfigError as e:
        raise BuildError(str(e)) from None
    specs = _all_specs()
    fingerprint = _fingerprint(data_dir, specs)
    with _exclusive(catalog_dir, progress):  # the manifest is read again once another build is done
        return _build(data_dir, catalog_dir, specs, checks, fingerprint, force, progress, started)


@contextmanager
def _exclusive(catalog_dir: Path, progress: Progress) -> Iterator[None]:
    """One build at a time in the catalog's folder: two runs that find a catalog stale (two
    terminals, parallel workers) would otherwise write the same staging folder and swap a mix of
    both into place. The folder itself is locked, so no lock file is left beside the catalog."""
    catalog_dir.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(catalog_dir.parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another process is building the catalog {catalog_dir}: waiting for it")
            fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # releases the lock


def _build(
    data_dir: Path,
    catalog_dir: Path,
    specs: list[SeriesSpec],
    checks: CheckConfig,
    fingerprint: str,
    force: bool,
    progress: Progress,
    started: float,
) -> BuildResult:
    manifest_path = catalog_dir / MANIFEST_FILE
    if not force and manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if existing.get("fingerprint") == fingerprint:
            progress(f"catalog {catalog_dir} is up to date (same raw files and configs)")
            return BuildResult(catalog_dir, False, time.perf_counter() - started, len(specs), 0, 0)

    series: dict[str, CleanSeries] = {}
    for i, spec in enumerate(specs, 1):
        series[spec.key] = read_series(spec, data_dir, checks)
        progress(f"[{i:>2}/{len(specs)}] read {spec.key:<28} {len(series[spec.key].frame):>6} rows")
    _resolve_conflicts(series)
    _check_across_venues(series, checks)
    for clean in series.values():
        stamp_at_event_time(clean)

    instruments = _instruments()
    tmp_dir = catalog_dir.with_name(f"{catalog_dir.name}.building")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    try:
        catalog = ParquetDataCatalog(str(tmp_dir))
        catalog.write_data(list(instruments.values()))
        coverages = []
        for i, clean in enumerate(series.values(), 1):
            final, coverage = _fill_from_proxies(clean, series)
            coverage.defects = [d.as_dict() for d in clean.defects]
            coverages.append(coverage)
            _write(catalog, clean.spec.key, clean.spec.kind, final, instruments)
            progress(
                f"[{i:>2}/{len(series)}] wrote {clean.spec.key:<28} {len(final):>6} rows "
                f"({coverage.proxied_count} from proxies)",
            )
        wallet = load_wallet_venue()
        coverages.append(write_rewards(catalog, data_dir))
        coverages.append(write_aave_params(tmp_dir, data_dir, wallet))
        coverages.append(write_susde_benchmark(tmp_dir, data_dir))
        progress("wrote reward payouts, Aave risk parameters and the sUSDe benchmark")
        write_manifest(tmp_dir, fingerprint, data_dir, coverages)
        write_validation_report(tmp_dir, data_dir, coverages, checks)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    _swap_into_place(tmp_dir, catalog_dir)
    defects = sum(len(c.defects) for c in coverages)
    proxied = sum(c.proxied_count for c in coverages if c.kind == "bars")
    return BuildResult(catalog_dir, True, time.perf_counter() - started, len(specs), defects, proxied)


def _swap_into_place(tmp_dir: Path, catalog_dir: Path) -> None:
    old = catalog_dir.with_name(f"{catalog_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if catalog_dir.exists():
        catalog_dir.rename(old)
    tmp_dir.rename(catalog_dir)
    shutil.rmtree(old, ignore_errors=True)
