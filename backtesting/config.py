"""Run configuration: a mode's YAML file (``configs/modes/<mode>.yaml``) plus CLI overrides.

A mode file holds the run settings (share class, capital, window, investor flows) and the
``strategy`` block, which is validated by the mode's Nautilus ``StrategyConfig``. Every error says
which file and field is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pandas as pd

from adapters.cex.config import load_all_cex_venues
from adapters.config import VENUE_CONFIG_DIR, ConfigError, read_yaml_mapping
from backtesting.modes import ModeSpec, mode_spec
from strategies.base import YieldStrategyConfig

if TYPE_CHECKING:
    from scenarios.config import Scenario

MODE_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "modes"


class FlowSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An investor flow in the share-class currency: ``deposit`` or ``withdraw`` (an amount or ``all``)."""

    at: str
    deposit: float | None = None
    withdraw: float | str | None = None

    def __post_init__(self) -> None:
        if (self.deposit is None) == (self.withdraw is None):
            raise ValueError(f"flow at {self.at}: give exactly one of `deposit` or `withdraw`")
        if self.deposit is not None and self.deposit <= 0:
            raise ValueError(f"flow at {self.at}: deposit must be positive, got {self.deposit}")
        if isinstance(self.withdraw, str) and self.withdraw != "all":
            raise ValueError(
                f"flow at {self.at}: withdraw must be a positive amount or 'all', got {self.withdraw!r}"
            )
        if isinstance(self.withdraw, float | int) and self.withdraw <= 0:
            raise ValueError(f"flow at {self.at}: withdraw must be positive, got {self.withdraw}")

    @property
    def signed_amount(self) -> float:
        if self.deposit is not None:
            return float(self.deposit)
        return float("-inf") if self.withdraw == "all" else -float(self.withdraw)  # type: ignore[arg-type]


class ModeFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The user-facing YAML of a mode (see ``configs/modes/*.yaml`` for documented examples)."""

    mode: str
    capital: float
    """Starting capital in the share-class currency, held in the on-chain wallet."""
    start: str
    end: str
    share_class: str | None = None
    """The mode's reporting currency; optional, but must match the mode when given."""
    capital_flows: tuple[FlowSpec, ...] = ()
    strategy: dict[str, Any] = msgspec.field(default_factory=dict)


def parse_time(text: str, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{what}: cannot parse {text!r} as a date/time ({e})") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class RunConfig:
    """A validated run: mode, window, capital, flows, the strategy config object, the folder of
    venue YAMLs the simulated venues are built from (their fees, margin and account modes) and
    the stress scenario, if any."""

    def __init__(
        self,
        spec: ModeSpec,
        file: ModeFile,
        strategy: YieldStrategyConfig,
        source: str,
        venue_config_dir: Path = VENUE_CONFIG_DIR,
        scenario: Scenario | None = None,
    ) -> None:
        self.spec = spec
        self.file = file
        self.strategy = strategy
        self.source = source
        self.venue_config_dir = venue_config_dir
        self.start = parse_time(file.start, f"{source}: start")
        self.end = parse_time(file.end, f"{source}: end")
        if self.end <= self.start:
            raise ConfigError(f"{source}: end {self.end} must be after start {self.start}")
        if file.capital <= 0:
            raise ConfigError(f"{source}: capital must be positive, got {file.capital}")
        self.flows = []
        for flow in file.capital_flows:
            at = parse_time(flow.at, f"{source}: capital_flows.at")
            if not self.start < at < self.end:
                raise ConfigError(
                    f"{source}: capital flow at {at} is outside the run window {self.start} .. {self.end}"
                )
            self.flows.append((at, flow.signed_amount))
        self.scenario = scenario
        """The stress scenario applied to the run's data, or None for history as recorded."""
        if scenario is not None:
            scenario.check_window(self.start, self.end)

    @property
    def mode(self) -> str:
        return self.spec.name

    @property
    def share_class(self) -> str:
        return self.file.share_class or self.spec.share_class

    def account_modes(self) -> dict[str, str]:
        """Each CEX venue's ``account_mode`` in the run's venue YAMLs."""
        return {venue: c.account_mode for venue, c in load_all_cex_venues(self.venue_config_dir).items()}

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run: the resolved configuration and the venues' account
        modes (a paper resume is refused when they differ)."""
        return {**self.as_dict(), "account_modes": self.account_modes()}

    def as_dict(self) -> dict[str, Any]:
        """The resolved configuration, as written into the results folder."""
        return {
            "mode": self.mode,
            "share_class": self.share_class,
            "capital": self.file.capital,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "capital_flows": [msgspec.to_builtins(f) for f in self.file.capital_flows],
            "strategy": msgspec.to_builtins(self.strategy),
        } | ({"scenario": self.scenario.as_dict()} if self.scenario else {})


def mode_file_path(mode: str, config_dir: Path = MODE_CONFIG_DIR) -> Path:
    return config_dir / f"{mode}.yaml"


def load_run_config(
    path: Path,
    *,
    start: str | None = None,
    end: str | None = None,
    capital: float | None = None,
    venue_config_dir: Path = VENUE_CONFIG_DIR,
    scenario: Scenario | None = None,
    fields: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Read and validate a mode YAML, applying CLI overrides and ``fields`` (dotted paths into the
    YAML, e.g. ``strategy.margin_floor``: a sweep's parameters), validated like the file itself;
    the CEX venue YAMLs of ``venue_config_dir`` are validated too (a bad one is refused before
    anything runs)."""
    load_all_cex_venues(venue_config_dir)
    raw = read_yaml_mapping(path, "mode config")
    overrides = {"start": start, "end": end, "capital": capital}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    for dotted, value in (fields or {}).items():
        set_field(raw, dotted, value, str(path))
    try:
        file = msgspec.convert(raw, ModeFile, str_keys=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{path}: {e}") from None
    spec = _spec(file.mode, path)
    if file.share_class is None:
        file = msgspec.structs.replace(file, share_class=spec.share_class)
    elif file.share_class != spec.share_class:
        raise ConfigError(
            f"{path}: share_class {file.share_class!r} does not match mode {spec.name} "
            f"(which reports in {spec.share_class})"
        )
    strategy_raw = {**file.strategy, "share_class": file.share_class}
    try:
        strategy = msgspec.convert(strategy_raw, spec.config, str_keys=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{path}: strategy: {e}") from None
    asset = getattr(strategy, "asset", None)
    if spec.asset is not None and asset != spec.asset:
        raise ConfigError(
            f"{path}: strategy.asset {asset!r} contradicts mode {spec.name} (which trades {spec.asset})"
        )
    return RunConfig(spec, file, strategy, str(path), venue_config_dir, scenario)


def set_field(raw: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    """Set ``raw[a][b]… = value`` for ``dotted`` = ``a.b…``; missing inner mappings are created
    (an unknown name is refused by the validation that follows), a non-mapping on the way is an error."""
    *parents, leaf = dotted.split(".")
    node = raw
    for i, name in enumerate(parents):
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            where = ".".join(parents[: i + 1])
            raise ConfigError(f"{source}: field {dotted!r}: {where} is {child!r}, not a mapping")
        node = child
    node[leaf] = value


def _spec(mode: str, path: Path) -> ModeSpec:
    try:
        return mode_spec(mode)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
