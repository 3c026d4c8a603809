"""Broken copies of the real raw files: copy the few files a check needs into a tmp data dir,
break them there, and build a catalog from that dir alone (series without files are left empty)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from data_catalog.builder import build_catalog

H = 3_600_000_000_000


def copy_real(real_dir: Path, data_dir: Path, *globs: str) -> dict[str, Path]:
    """Copy the real files matching ``globs`` into ``data_dir``; return {glob: the copy}."""
    copies = {}
    for glob in globs:
        (source,) = sorted(real_dir.glob(glob))
        target = data_dir / source.relative_to(real_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copies[glob] = target
    return copies


def build(data_dir: Path) -> Path:
    catalog_dir = data_dir.parent / "catalog"
    build_catalog(data_dir, catalog_dir)
    return catalog_dir


def defects(catalog_dir: Path, key: str) -> dict[str, dict]:
    """The defect records of one series, by kind (manifest.json)."""
    series = json.loads((catalog_dir / "manifest.json").read_text())["series"][key]
    return {d["kind"]: d for d in series["defects"]}


def report(catalog_dir: Path) -> str:
    return (catalog_dir / "validation_report.md").read_text()


def closes(catalog_dir: Path, instrument_id: str) -> dict[int, Decimal]:
    """Close per ``ts_event`` (bar close) of an instrument's hourly bars in the catalog."""
    bars = ParquetDataCatalog(str(catalog_dir)).bars(bar_types=[f"{instrument_id}-1-HOUR-LAST-EXTERNAL"])
    return {b.ts_event: b.close.as_decimal() for b in bars}


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)
