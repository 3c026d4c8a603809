"""SIGTERM handled like Ctrl-C: the commands' cleanup (``except BaseException``, ``finally``) runs."""

from __future__ import annotations

import signal
import sys
from types import FrameType

SIGTERM_EXIT = 128 + signal.SIGTERM
"""The exit status a shell reports for a process ended by SIGTERM."""


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(SIGTERM_EXIT)


def cleanup_on_sigterm() -> None:
    """Make SIGTERM raise ``SystemExit`` so half-written folders are removed as on SIGINT (the
    default action would end the process without running any cleanup)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
