"""Loading the venue YAML files (``configs/venues/*.yaml``) into typed, validated structs."""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml

VENUE_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "venues"


class ConfigError(ValueError):
    """A configuration file is missing, malformed or inconsistent (the message says where)."""


def load_yaml_as[T](path: Path, kind: type[T]) -> T:
    """Parse ``path`` into ``kind``; every problem becomes a :class:`ConfigError` naming the file."""
    if not path.is_file():
        raise ConfigError(f"venue config not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    try:
        return msgspec.convert(raw, kind)
    except (msgspec.ValidationError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from e
