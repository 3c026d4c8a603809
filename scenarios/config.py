"""A stress scenario's YAML (``configs/scenarios/<name>.yaml``): name, description, start time
and typed transformations of the run's data.

Each transformation is a msgspec struct tagged by ``kind``; a bad value is refused with the file
and the field (``$.transformations[0]``) named, before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec
import pandas as pd

from adapters.config import ConfigError, read_yaml_mapping
from adapters.hours import DAY_NS, HOUR_NS
from backtesting.config import parse_time

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "configs" / "scenarios"


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def _fraction(name: str, value: float, *, zero_ok: bool = False) -> None:
    if not (0 <= value < 1 if zero_ok else 0 < value < 1):
        raise ValueError(f"{name} must be in {'[0' if zero_ok else '(0'}, 1), got {value}")


class _Transformation(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    def span_ns(self) -> int:
        """How long after the scenario's start the transformation changes data."""
        raise NotImplementedError


class LstDepeg(_Transformation, frozen=True, tag="lst_depeg"):
    """The LST's market rate (its DEX pool against ETH) sits ``depth`` below the protocol rate for
    ``days``, then recovers at once (``instant``) or linearly over ``recovery_days``."""

    asset: str
    """The staking asset as ``configs/venues/ethereum.yaml`` names it: ``wstETH`` or ``weETH``."""
    depth: float
    days: float
    recovery: Literal["instant", "linear"] = "instant"
    recovery_days: float = 0.0

    def __post_init__(self) -> None:
        _fraction("depth", self.depth)
        _positive("days", self.days)
        if (self.recovery == "linear") != (self.recovery_days > 0):
            raise ValueError(
                f"recovery_days must be positive for a linear recovery and 0 for an instant one, "
                f"got {self.recovery_days} with recovery {self.recovery!r}"
            )

    def span_ns(self) -> int:
        return round((self.days + self.recovery_days) * DAY_NS)

    def discount(self, since_start_ns: int) -> float:
        """How far below the protocol rate the market rate sits in the hour closing
        ``since_start_ns`` after the start (back at the protocol rate at the end of the recovery)."""
        full, span = round(self.days * DAY_NS), self.span_ns()
        if not 0 < since_start_ns <= span:
            return 0.0
        if since_start_ns <= full:
            return self.depth
        return self.depth * (span - since_start_ns) / (span - full)


class FundingInversion(_Transformation, frozen=True, tag="funding_inversion"):
    """Funding rates × ``-factor`` for ``days`` on ``venues`` (every venue when empty)."""

    days: float
    factor: float = 1.0
    venues: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _positive("days", self.days)
        _positive("factor", self.factor)

    def span_ns(self) -> int:
        return round(self.days * DAY_NS)


class BorrowRateSpike(_Transformation, frozen=True, tag="borrow_rate_spike"):
    """A reserve's utilization pushed to ``utilization`` for ``days``: its snapshots' borrow and
    supply rates follow the rate curve there, and its indices accrue at them."""

    utilization: float
    kink: float
    """The reserve's optimal utilization (Aave's WETH: 0.92, in ``aave/params``)."""
    days: float
    reserve: str = "WETH"

    def __post_init__(self) -> None:
        _fraction("kink", self.kink)
        _fraction("utilization", self.utilization)
        _positive("days", self.days)

    def span_ns(self) -> int:
        return round(self.days * DAY_NS)


class PriceCrash(_Transformation, frozen=True, tag="price_crash"):
    """``asset``'s USD prices on every venue gap ``drop`` down within the first hour, then win back
    ``recovered`` of the drop linearly over ``recovery_hours``, and stay there."""

    asset: str
    drop: float
    recovered: float = 0.0
    recovery_hours: float = 1.0

    def __post_init__(self) -> None:
        _fraction("drop", self.drop)
        _fraction("recovered", self.recovered, zero_ok=True)
        _positive("recovery_hours", self.recovery_hours)

    def span_ns(self) -> int:
        return HOUR_NS + round(self.recovery_hours * HOUR_NS)

    def factor(self, since_start_ns: int) -> float:
        """The price multiplier for a bar closing ``since_start_ns`` after the start (1 before it)."""
        if since_start_ns <= 0:
            return 1.0
        recovering = max(0.0, since_start_ns - HOUR_NS) / (self.recovery_hours * HOUR_NS)
        return 1 - self.drop * (1 - self.recovered * min(1.0, recovering))


class VenueOutage(_Transformation, frozen=True, tag="venue_outage"):
    """``venue`` (an exchange: BINANCE, BYBIT, OKX) publishes no bars and refuses every order for
    ``hours``. Funding still settles (positions stay open on an exchange that is down)."""

    venue: str
    hours: float

    def __post_init__(self) -> None:
        _positive("hours", self.hours)

    def span_ns(self) -> int:
        return round(self.hours * HOUR_NS)


class GasSpike(_Transformation, frozen=True, tag="gas_spike"):
    """The gas price × ``factor`` for ``hours``."""

    factor: float
    hours: float

    def __post_init__(self) -> None:
        _positive("factor", self.factor)
        _positive("hours", self.hours)

    def span_ns(self) -> int:
        return round(self.hours * HOUR_NS)


Transformation = LstDepeg | FundingInversion | BorrowRateSpike | PriceCrash | VenueOutage | GasSpike


class ScenarioFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The YAML of a scenario (see ``configs/scenarios/*.yaml``)."""

    name: str
    description: str
    start: str
    """When every transformation begins (UTC)."""
    transformations: tuple[Transformation, ...]

    def __post_init__(self) -> None:
        if not self.transformations:
            raise ValueError("transformations: give at least one")


class Scenario:
    """A validated scenario: its file and its start as a timestamp."""

    def __init__(self, file: ScenarioFile, source: str) -> None:
        self.file = file
        self.source = source
        self.start = parse_time(file.start, f"{source}: start")

    @property
    def name(self) -> str:
        return self.file.name

    def window(self, transformation: Transformation) -> tuple[int, int]:
        """The [start, end) in ns over which ``transformation`` changes data."""
        return self.start.value, self.start.value + transformation.span_ns()

    def as_dict(self) -> dict[str, Any]:
        """What ``summary.json`` records of the scenario."""
        return {**msgspec.to_builtins(self.file), "start": self.start.isoformat()}

    def check_window(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        """Refuse a scenario that starts outside the run's window (it would change nothing)."""
        if not start <= self.start < end:
            raise ConfigError(f"{self.source}: start {self.start} is outside the run window {start} .. {end}")


def scenario_path(name: str, scenario_dir: Path = SCENARIO_DIR) -> Path:
    """A scenario by name (a file in ``configs/scenarios``) or by path."""
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") else scenario_dir / f"{name}.yaml"


def load_scenario(name: str, scenario_dir: Path = SCENARIO_DIR) -> Scenario:
    path = scenario_path(name, scenario_dir)
    raw = read_yaml_mapping(path, "scenario")
    try:
        file = msgspec.convert(raw, ScenarioFile, str_keys=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{path}: {e}") from None
    return Scenario(file, str(path))
