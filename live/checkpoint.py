"""A stopped paper run's saved state: where the replay stopped, the strategy's own state and the
journal of its commands (``live.journal``); written on a stop, read to resume the run."""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live.journal import JournalEntry

FORMAT = 1
CHECKPOINT_FILE = "checkpoint.json"


class CheckpointError(ValueError):
    """No usable saved state: missing, unreadable, or saved by a different run."""


def comparable(run: dict[str, Any]) -> dict[str, Any]:
    """The run's resolved configuration as it reads back from JSON (what a checkpoint keeps)."""
    return json.loads(json.dumps(run, default=str))


@dataclass(frozen=True)
class PaperCheckpoint:
    run: dict[str, Any]
    """The run's identity (``RunConfig.identity``: its resolved configuration and the venues'
    account modes): a resume must be the same run."""
    strategy_id: str
    """The id the strategy traded under (its orders carry it)."""
    points: int
    """Data points replayed before the stop."""
    deliveries: int
    """Deliveries the strategy could act on in those points (checks the rebuilt venues)."""
    stopped_at_ns: int
    strategy: dict[str, bytes]
    """The strategy's ``on_save``."""
    journal: list[JournalEntry]

    def save(self, state_dir: Path) -> Path:
        """Write the checkpoint atomically (a stop during the write leaves the previous one)."""
        state_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "format": FORMAT,
            "run": comparable(self.run),
            "strategy_id": self.strategy_id,
            "points": self.points,
            "deliveries": self.deliveries,
            "stopped_at_ns": self.stopped_at_ns,
            "strategy": {key: base64.b64encode(value).decode() for key, value in self.strategy.items()},
            "journal": [entry.to_json() for entry in self.journal],
        }
        path = state_dir / CHECKPOINT_FILE
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(values))
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, state_dir: Path) -> PaperCheckpoint:
        path = state_dir / CHECKPOINT_FILE
        if not path.is_file():
            raise CheckpointError(f"no saved paper state at {path}: nothing to resume (run without --resume)")
        try:
            values = json.loads(path.read_text())
        except ValueError as e:
            raise CheckpointError(f"{path} is not a readable paper checkpoint: {e}") from e
        version = values.get("format") if isinstance(values, dict) else None
        if version != FORMAT:
            raise CheckpointError(f"{path}: checkpoint format {version!r}; this version reads {FORMAT}")
        try:
            return cls(
                run=values["run"],
                strategy_id=str(values["strategy_id"]),
                points=int(values["points"]),
                deliveries=int(values["deliveries"]),
                stopped_at_ns=int(values["stopped_at_ns"]),
                strategy={key: base64.b64decode(value) for key, value in values["strategy"].items()},
                journal=[JournalEntry.from_json(entry) for entry in values["journal"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CheckpointError(f"{path} is not a readable paper checkpoint: {e!r}") from e

    def check_run(self, run: dict[str, Any], state_dir: Path) -> None:
        """Refuse to resume a different run (mode, window, capital, flows or strategy settings)."""
        current = comparable(run)
        differing = sorted(key for key in {*self.run, *current} if self.run.get(key) != current.get(key))
        if differing:
            raise CheckpointError(
                f"the saved paper state at {state_dir} belongs to a different run (differs in "
                f"{', '.join(differing)}); resume with the same mode, window, capital and config, "
                "or start afresh without --resume"
            )


def discard(state_dir: Path) -> None:
    """Remove a finished run's saved state (a later --resume must not pick it up)."""
    path = state_dir / CHECKPOINT_FILE
    if path.exists():
        path.unlink()
    if state_dir.is_dir() and not any(state_dir.iterdir()):
        shutil.rmtree(state_dir)
