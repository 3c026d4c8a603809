"""Loading the venue YAML files (``configs/venues/*.yaml``) into typed, validated structs."""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml

VENUE_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "venues"


class ConfigError(ValueError):
    """A configuration file is missing, malformed or inconsistent (the message says where)."""


def load_yaml_as[T](path: Path, kind: type[T], what: str = "venue config") -> T:
    """Parse ``path`` into ``kind``; every problem becomes a :class:`ConfigError` naming the file
    (an empty file is an empty mapping: every field at its default)."""
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of parameters, got {type(raw).__name__}")
    try:
        return msgspec.convert(raw, kind)
    except (msgspec.ValidationError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from e
