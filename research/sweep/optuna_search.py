"""An Optuna search as a sweep: trials asked in batches of the pool's size, each trial's runs
(its windows × scenarios) executed like any sweep's, the trial told the mean of ``metric`` over
them, or infeasible when a run breaks a constraint.

Resume needs no study storage: TPE seeded with ``search.seed`` proposes the same trials again
given the same history, so a rerun finds their runs in the table and tells them without running.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from research.sweep.config import Parameter, Sweep
from research.sweep.table import STATUS_OK
from research.sweep.tasks import RunTask


def _suggest(trial: Any, name: str, spec: Parameter) -> Any:
    if spec.values is not None:
        return trial.suggest_categorical(name, list(spec.values))
    low, high = spec.bounds
    if spec.integer:
        return trial.suggest_int(name, int(low), int(high), log=spec.log)
    return trial.suggest_float(name, low, high, log=spec.log)


def trial_outcome(sweep: Sweep, rows: list[dict[str, Any]]) -> tuple[float | None, list[float]]:
    """The trial's objective (None when a run failed or the metric is missing) and its constraint
    violations (each the largest over the trial's runs; 0 = satisfied)."""
    search = sweep.search
    if any(r["status"] != STATUS_OK for r in rows):
        return None, [math.inf] * len(search.constraints)
    values: list[float] = [r[search.metric] for r in rows if r.get(search.metric) is not None]
    if len(values) < len(rows) or not all(math.isfinite(v) for v in values):
        return None, [math.inf] * len(search.constraints)
    violations = [
        max(bound.violation(r[column]) for r in rows) for column, bound in search.constraints.items()
    ]
    return sum(values) / len(values), violations


def run_optuna(
    sweep: Sweep,
    finished: Callable[[str], dict[str, Any] | None],
    execute: Callable[[list[RunTask]], list[dict[str, Any]]],
    batch: int,
) -> Any:
    """Run the search; ``finished(key)`` is a run's row already in the table (or None),
    ``execute(tasks)`` runs tasks and returns their rows. Returns the study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = sweep.search
    sampler = optuna.samplers.TPESampler(seed=search.seed)
    study = optuna.create_study(direction=search.direction, sampler=sampler)
    total = search.n_trials or 0
    while len(study.trials) < total:
        trials = [study.ask() for _ in range(min(batch, total - len(study.trials)))]
        plans = []
        for trial in trials:
            params = {name: _suggest(trial, name, spec) for name, spec in sweep.file.parameters.items()}
            plans.append((trial, sweep.tasks(params, trial.number)))
        todo = [t for _, tasks in plans for t in tasks if finished(t.key) is None]
        rows = {row["key"]: row for row in execute(todo)}
        for trial, tasks in plans:
            trial_rows = [rows.get(t.key) or finished(t.key) for t in tasks]
            value, violations = trial_outcome(sweep, [r for r in trial_rows if r is not None])
            for column, violation in zip(search.constraints, violations, strict=True):
                trial.set_constraint(column, violation)
            if value is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, value)
    return study
