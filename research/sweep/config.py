"""A sweep's YAML (``configs/sweeps/<name>.yaml``): the mode, the search over its config fields,
the windows, the capital and the stress scenarios.

Every run the sweep can produce is validated here, with the same validation and errors as a
single ``run_backtest.py`` run (:func:`backtesting.config.load_run_config`), before any worker
starts: a bad field, value or scenario name costs no Ray start-up. An Optuna search's values are
not known in advance: its fields are validated at the middle of their ranges, and a drawn
combination the mode refuses is a failed run (and a failed trial).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import pandas as pd

from adapters.config import ConfigError, read_yaml_mapping
from backtesting.config import MODE_CONFIG_DIR, RunConfig, load_run_config, mode_file_path, parse_time
from research.sweep.tasks import HISTORY, RunTask, Window
from scenarios.config import load_scenario

SWEEP_CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "sweeps"


class Parameter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One swept field: a list of ``values``, or a range ``low`` .. ``high`` (a grid steps through
    it by ``step``; random and Optuna searches draw from it, as integers when both ends are, on a
    log scale with ``log``)."""

    values: tuple[Any, ...] | None = None
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        ranged = self.low is not None or self.high is not None
        if (self.values is not None) == ranged:
            raise ValueError("give either `values` or `low` and `high`")
        if self.values is not None and not self.values:
            raise ValueError("`values` is empty")
        if ranged:
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"need low < high, got {self.low} .. {self.high}")
            if self.step is not None and not self.step > 0:
                raise ValueError(f"step must be positive, got {self.step}")
            if self.log and not self.low > 0:
                raise ValueError(f"a log range needs low > 0, got {self.low}")

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a range (both set: validated above)."""
        assert self.low is not None and self.high is not None
        return self.low, self.high

    def grid(self) -> list[Any]:
        """The values a grid search takes (a range needs a ``step``)."""
        if self.values is not None:
            return list(self.values)
        if self.step is None:
            raise ValueError("a grid over a range needs `step`")
        low, high = self.bounds
        count = int(np.floor((high - low) / self.step + 1e-9)) + 1
        values = [round(low + i * self.step, 12) for i in range(count)]
        return [int(v) for v in values] if self.integer and float(self.step).is_integer() else values

    def draw(self, rng: np.random.Generator) -> Any:
        """One random value (uniform over the choices or the range)."""
        if self.values is not None:
            return self.values[int(rng.integers(len(self.values)))]
        low, high = self.bounds
        if self.integer:
            return int(rng.integers(int(low), int(high) + 1))
        if self.log:
            return float(np.exp(rng.uniform(np.log(low), np.log(high))))
        return float(rng.uniform(low, high))

    def middle(self) -> Any:
        """A value inside the space: the first choice, or the middle of the range."""
        if self.values is not None:
            return self.values[0]
        low, high = self.bounds
        middle = (low + high) / 2
        return round(middle) if self.integer else middle


class Bound(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A constraint on a run-table column: ``min`` <= value <= ``max`` (either may be omitted)."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs `min` or `max`")

    def violation(self, value: float) -> float:
        """How far ``value`` is outside the bound (0 inside; Optuna's constraint convention)."""
        below = self.min - value if self.min is not None else 0.0
        above = value - self.max if self.max is not None else 0.0
        return max(below, above, 0.0)


class Search(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How parameter sets are chosen.

    - ``grid``: every combination of the parameters' values;
    - ``random``: ``n`` draws, reproducible from ``seed``;
    - ``optuna``: ``n_trials`` trials of Optuna's TPE sampler (seeded), maximising ``metric`` (a
      run-table column, averaged over the windows and scenarios of a trial) subject to
      ``constraints`` (column → ``{min, max}``, every run of a trial must satisfy them).
    """

    kind: Literal["grid", "random", "optuna"] = "grid"
    n: int | None = None
    seed: int = 0
    n_trials: int | None = None
    metric: str = "apy"
    direction: Literal["maximize", "minimize"] = "maximize"
    constraints: dict[str, Bound] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind == "random" and (self.n is None or self.n < 1):
            raise ValueError("a random search needs `n` >= 1")
        if self.kind == "optuna" and (self.n_trials is None or self.n_trials < 1):
            raise ValueError("an optuna search needs `n_trials` >= 1")
        if self.kind != "random" and self.n is not None:
            raise ValueError(f"`n` is for a random search, not {self.kind}")
        if self.kind != "optuna" and (self.n_trials is not None or self.constraints):
            raise ValueError(f"`n_trials` and `constraints` are for an optuna search, not {self.kind}")


class WindowSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    start: str
    end: str


class WalkForward(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Consecutive windows of ``length_days`` from ``start``, one every ``step_days`` (default: the
    length, back to back), the last ending no later than ``end``."""

    start: str
    end: str
    length_days: float
    step_days: float | None = None

    def __post_init__(self) -> None:
        if not self.length_days > 0 or (self.step_days is not None and not self.step_days > 0):
            raise ValueError("length_days and step_days must be positive")


class SweepFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The user-facing YAML of a sweep (see ``configs/sweeps/*.yaml``)."""

    mode: str
    parameters: dict[str, Parameter]
    """Dotted paths into the mode's YAML (``strategy.perp_margin_fraction``, ``capital``) → values."""
    search: Search = msgspec.field(default_factory=Search)
    config: str | None = None
    """The mode YAML the parameters change; default ``configs/modes/<mode>.yaml``."""
    capital: float | None = None
    """Starting capital in the share-class currency; default the mode YAML's."""
    windows: tuple[WindowSpec, ...] = ()
    """Fixed windows; with neither this nor ``walk_forward``, the mode YAML's window."""
    walk_forward: WalkForward | None = None
    scenarios: tuple[str, ...] = (HISTORY,)
    """Names in ``configs/scenarios`` (or YAML paths); ``history`` is the data as recorded."""

    def __post_init__(self) -> None:
        if not self.parameters:
            raise ValueError("parameters: give at least one")
        if self.windows and self.walk_forward is not None:
            raise ValueError("give `windows` or `walk_forward`, not both")
        if not self.scenarios:
            raise ValueError("scenarios: give at least one (`history` for the data as recorded)")
        if self.search.kind == "grid":
            for name, spec in self.parameters.items():
                if spec.values is None and spec.step is None:
                    raise ValueError(f"parameters.{name}: a grid over a range needs `step`")
        if len(set(self.scenarios)) != len(self.scenarios):
            raise ValueError(f"scenarios: a name is repeated: {list(self.scenarios)}")


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its file, the mode YAML it changes and the windows × scenarios every
    parameter set runs on."""

    file: SweepFile
    source: str
    base_config: Path
    windows: list[Window]
    scenario_starts: dict[str, pd.Timestamp]
    """When each stress scenario begins: it runs on the windows holding its start only."""

    @property
    def search(self) -> Search:
        return self.file.search

    def tasks(self, params: dict[str, Any], trial: int | None = None) -> list[RunTask]:
        """The runs of one parameter set: every window × scenario."""
        return [
            RunTask.of(self.file.mode, self.base_config, self.file.capital, params, window, scenario, trial)
            for window in self.windows
            for scenario in self.file.scenarios
            if self.holds(window, scenario)
        ]

    def holds(self, window: Window, scenario: str) -> bool:
        """Whether ``scenario`` starts inside ``window`` (history holds in every window): a
        scenario starting elsewhere would change nothing, and a single run refuses it."""
        start = self.scenario_starts.get(scenario)
        return start is None or parse_time(window.start, "start") <= start < parse_time(window.end, "end")

    def parameter_sets(self) -> list[dict[str, Any]]:
        """The grid's combinations or the random search's draws (not for Optuna)."""
        names = list(self.file.parameters)
        specs = [self.file.parameters[n] for n in names]
        if self.search.kind == "grid":
            return [
                dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(s.grid() for s in specs))
            ]
        rng = np.random.default_rng(self.search.seed)
        return [
            {n: s.draw(rng) for n, s in zip(names, specs, strict=True)} for _ in range(self.search.n or 0)
        ]


def _windows(file: SweepFile, base: RunConfig, source: str) -> list[Window]:
    if file.walk_forward is not None:
        wf = file.walk_forward
        start, end = (
            parse_time(wf.start, f"{source}: walk_forward.start"),
            parse_time(wf.end, f"{source}: walk_forward.end"),
        )
        length, step = pd.Timedelta(days=wf.length_days), pd.Timedelta(days=wf.step_days or wf.length_days)
        windows = []
        while start + length <= end:
            windows.append(Window(start.isoformat(), (start + length).isoformat()))
            start += step
        if not windows:
            raise ConfigError(
                f"{source}: walk_forward: no window of {wf.length_days} days fits {wf.start} .. {wf.end}"
            )
        return windows
    if file.windows:
        return [Window(w.start, w.end) for w in file.windows]
    return [Window(base.start.isoformat(), base.end.isoformat())]


def load_sweep(path: Path) -> Sweep:
    """Read a sweep YAML and validate every run it can produce (see the module docstring)."""
    raw = read_yaml_mapping(path, "sweep config")
    try:
        file = msgspec.convert(raw, SweepFile, str_keys=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{path}: {e}") from None
    source = str(path)
    if file.config is not None:
        base_config = Path(file.config)
        if not base_config.is_absolute() and not base_config.exists():
            base_config = path.parent / base_config
    else:
        base_config = mode_file_path(file.mode, MODE_CONFIG_DIR)
    if not base_config.is_file():
        raise ConfigError(f"{source}: no mode config {base_config} for mode {file.mode!r}")
    base = load_run_config(base_config, capital=file.capital)
    if base.mode != file.mode:
        raise ConfigError(f"{source}: config {base_config} is for mode {base.mode!r}, not {file.mode!r}")
    # an unknown name or a bad scenario file fails here, naming the file
    starts = {name: load_scenario(name).start for name in file.scenarios if name != HISTORY}
    sweep = Sweep(file, source, base_config, _windows(file, base, source), starts)
    for name, start in starts.items():
        if not any(sweep.holds(w, name) for w in sweep.windows):
            raise ConfigError(
                f"{source}: scenario {name!r} starts {start}, outside every window of the sweep"
            )
    if file.search.kind == "optuna":
        # values are drawn later: validate the fields and types at the middle of every range (a
        # drawn combination the mode refuses becomes a failed run, and a failed trial)
        probes = [{n: p.middle() for n, p in file.parameters.items()}]
    else:
        probes = sweep.parameter_sets()
        if not probes:
            raise ConfigError(f"{source}: the search produces no runs")
    for params in probes:
        for task in sweep.tasks(params):
            try:
                task.run_config()
            except ConfigError as e:
                raise ConfigError(f"{source}: parameters {params}, {task.describe()}: {e}") from None
    return sweep
