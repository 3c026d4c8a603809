"""Where a sweep's runs execute: Ray actors (embedded local Ray by default, an existing cluster
with an address) or, for debugging, the sweep's own process.

Both pools take tasks with :meth:`submit` and hand finished rows back from :meth:`done` as they
complete, so the driver keeps every worker busy and records each row as soon as it exists. Ray is
imported here only, lazily: ``run_backtest.py`` never pays its import.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path
from typing import Any

from research.sweep.table import error_row
from research.sweep.tasks import RunTask
from research.sweep.worker import SweepWorker

REPO = Path(__file__).resolve().parents[2]
OBJECT_STORE_BYTES = 256 * 1024**2
"""The embedded Ray's shared-memory store: rows are small, the catalog is read by each worker."""


class LocalPool:
    """One worker in this process (``--workers 0``): no Ray, runs one at a time."""

    def __init__(self, catalog_dir: Path, runs_dir: Path | None) -> None:
        self.worker = SweepWorker(str(catalog_dir), str(runs_dir) if runs_dir else None)
        self.queue: deque[RunTask] = deque()
        self.size = 1

    def submit(self, task: RunTask) -> None:
        self.queue.append(task)

    def idle(self) -> int:
        return 0 if self.queue else 1

    def pending(self) -> int:
        return len(self.queue)

    def done(self) -> list[dict[str, Any]]:
        return [self.worker.run(self.queue.popleft())] if self.queue else []

    def close(self) -> None:
        return None


class RayPool:
    """``workers`` Ray actors, each a :class:`SweepWorker` (one CPU each)."""

    def __init__(self, catalog_dir: Path, runs_dir: Path | None, workers: int | None, address: str | None):
        import ray

        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            # Workers import the project from the repo (at the same path on every node of a cluster)
            runtime_env = {
                "env_vars": {
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
                }
            }
            if address is None:
                ray.init(
                    # a new Ray of this process's own, never a cluster `ray start` left on the
                    # machine (which ray.init() without an address would join)
                    address="local",
                    num_cpus=workers or os.cpu_count(),
                    object_store_memory=OBJECT_STORE_BYTES,
                    include_dashboard=False,
                    runtime_env=runtime_env,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                )
            else:
                ray.init(
                    address=address, runtime_env=runtime_env, logging_level=logging.ERROR, log_to_driver=False
                )
        self.size = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # SPREAD: on a cluster, workers go to every node before doubling up on one
        actor: Any = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(SweepWorker)
        runs = str(runs_dir) if runs_dir else None
        self.actors: list[Any] = [actor.remote(str(catalog_dir), runs) for _ in range(self.size)]
        self.free = list(self.actors)
        self.queue: deque[RunTask] = deque()
        self.running: dict[Any, tuple[Any, RunTask]] = {}
        """Ray future → the actor running it and its task."""
        self._actor_class, self._args = actor, (str(catalog_dir), runs)

    def submit(self, task: RunTask) -> None:
        self.queue.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.free and self.queue:
            actor, task = self.free.pop(), self.queue.popleft()
            self.running[actor.run.remote(task)] = (actor, task)

    def idle(self) -> int:
        return len(self.free) - len(self.queue)

    def pending(self) -> int:
        return len(self.queue) + len(self.running)

    def done(self) -> list[dict[str, Any]]:
        """Rows of the runs that finished (waits for at least one while any is running)."""
        if not self.running:
            return []
        self.ray.wait(list(self.running), num_returns=1)  # until one has finished
        ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=0)
        rows = []
        for future in ready:
            actor, task = self.running.pop(future)
            try:
                rows.append(self.ray.get(future))
                self.free.append(actor)
            except self.ray.exceptions.RayError as e:  # the worker process died: record, replace it
                rows.append(error_row(task, f"worker lost: {e}", 0.0, "?"))
                self.actors.remove(actor)
                replacement = self._actor_class.remote(*self._args)
                self.actors.append(replacement)
                self.free.append(replacement)
        self._dispatch()
        return rows

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()


def make_pool(catalog_dir: Path, runs_dir: Path | None, workers: int | None, address: str | None):
    if workers == 0:
        if address is not None:
            raise ValueError("--workers 0 runs in this process; it cannot use --address")
        return LocalPool(catalog_dir, runs_dir)
    return RayPool(catalog_dir, runs_dir, workers, address)
