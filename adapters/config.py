"""Reading the project's YAML files (venues, modes, signals) into typed, validated structs.

One loader and one error type: whatever is wrong with a configuration file (missing, not YAML,
not a mapping, a bad field) is a :class:`ConfigError` whose message names the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

VENUE_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "venues"


class ConfigError(ValueError):
    """A configuration file is missing, malformed or inconsistent (the message names the file and field)."""


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path`` (``what`` names it when it is missing); an
    empty file is an empty mapping."""
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of parameters, got {type(raw).__name__}")
    return raw


def load_yaml_as[T](path: Path, kind: type[T], what: str = "venue config") -> T:
    """Parse ``path`` into ``kind`` (every field absent from the file at its default)."""
    raw = read_yaml_mapping(path, what)
    try:
        return msgspec.convert(raw, kind)
    except (msgspec.ValidationError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from e
