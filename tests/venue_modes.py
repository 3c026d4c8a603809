"""Venue config folders for runs in a chosen account mode: the project's venue YAMLs with
``account_mode`` set for Bybit and OKX (the venues that have both modes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from adapters.cex.config import UNIFIED_CAPABLE
from adapters.config import VENUE_CONFIG_DIR


def venue_dir_in_mode(folder: Path, account_mode: str) -> Path:
    """``folder`` filled with the venue YAMLs, Bybit's and OKX's in ``account_mode``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in VENUE_CONFIG_DIR.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    for venue in UNIFIED_CAPABLE:
        set_venue_field(folder, venue, "account_mode", account_mode)
    return folder


def set_venue_field(folder: Path, venue: str, field: str, value: object) -> Path:
    """Rewrite one top-level field of ``folder``'s YAML of ``venue``; returns the file."""
    path = folder / f"{venue.lower()}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw[field] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
