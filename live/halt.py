"""The kill switch: ``run_live.py --halt [--flatten]`` asks a running node to halt.

The request is a file, ``HALT``, in the run's state folder (``--state``, default ``OUT.state``),
written atomically (a reader never sees half of it). The node's :class:`HaltSwitch` polls for it
on a Nautilus clock timer (every ``poll_secs``, default 2 s) and publishes the request once on
:data:`HALT_TOPIC`; the strategy then goes HALTED (no new plans, the one in progress given up),
cancels its open orders and, when asked, flattens its CEX positions; the paper runner stops the
node once the venues have answered. Nautilus 1.231's live timers call back on their own thread,
so the switch hands the check to the node's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pandas as pd
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig

from adapters.halt import HALT_TOPIC, HaltRequest

HALT_FILE = "HALT"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a run (live: its kill switch)."""


class HaltFileError(ValueError):
    """The halt request cannot be written where it was asked for."""


def request_halt(state_dir: Path, flatten: bool) -> Path:
    """Write the halt request into ``state_dir`` atomically; the path written."""
    if state_dir.exists() and not state_dir.is_dir():
        raise HaltFileError(f"--state {state_dir} is a file, not a run's state folder")
    request = HaltRequest(flatten, pd.Timestamp.now(tz="UTC").isoformat())
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / HALT_FILE
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(request)))
        os.replace(partial, path)
    except OSError as e:
        raise HaltFileError(f"cannot write the halt request into {state_dir}: {e}") from e
    return path


def read_halt(state_dir: Path) -> HaltRequest | None:
    """The pending halt request, or None. A file that cannot be read as one still halts (without
    flattening): whoever wrote it wanted the node to stop."""
    path = state_dir / HALT_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        values = json.loads(text)
        return HaltRequest(bool(values["flatten"]), str(values["requested_at"]), str(values["source"]))
    except (ValueError, KeyError, TypeError):
        return HaltRequest(False, "unknown", f"unreadable halt file {path}")


def clear_halt(state_dir: Path) -> None:
    """Remove an answered halt request (a resumed run must not halt again on it)."""
    (state_dir / HALT_FILE).unlink(missing_ok=True)


class HaltSwitchConfig(ActorConfig, frozen=True):
    state_dir: str
    """The run's state folder, where ``run_live.py --halt`` writes its request."""
    poll_secs: float = 2.0


class HaltSwitch(Actor):
    """Polls the state folder for a halt request and publishes it once on :data:`HALT_TOPIC`."""

    def __init__(self, config: HaltSwitchConfig) -> None:
        super().__init__(config)
        if not config.poll_secs > 0:
            raise ValueError(f"HaltSwitch poll_secs must be > 0, got {config.poll_secs}")
        self._dir = Path(config.state_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.request: HaltRequest | None = None
        """The request published (None until one arrives)."""

    def on_start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.clock.set_timer(
            "halt-switch",
            timedelta(seconds=self.config.poll_secs),
            callback=lambda _: self._loop.call_soon_threadsafe(self.check),
        )

    def on_stop(self) -> None:
        self.clock.cancel_timers()

    def check(self) -> None:
        """Publish a pending request (once)."""
        if self.request is not None or not self.is_running:
            return
        request = read_halt(self._dir)
        if request is None:
            return
        self.request = request
        self.log.warning(f"halt requested by {request.describe()}")
        self.msgbus.publish(HALT_TOPIC, request)
