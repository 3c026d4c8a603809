"""The results folder of a run: checked before anything runs, written whole or not at all.

A run writes into a temporary folder beside ``--out`` and moves it into place only once every
file is written, so an interrupted or failed run (SIGINT, SIGTERM, an exception) leaves the old
folder, or nothing, never a complete-looking mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutDirError(ValueError):
    """``--out`` cannot receive the results; the message says why and what to do."""


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor)


def check_out_dir(out: Path, *, overwrite: bool) -> None:
    """Raise :class:`OutDirError` unless a run can write ``out`` (checked before it runs)."""
    if out.exists() and not out.is_dir():
        raise OutDirError(f"--out {out} is a file, not a folder")
    ancestor = _existing_ancestor(out.absolute())
    if not ancestor.is_dir():
        raise OutDirError(f"--out {out}: {ancestor} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutDirError(
            f"--out {out} exists and is not empty; pass --overwrite to replace it whole, "
            "or choose another folder"
        )
    try:  # permissions, read-only mounts, root included: only trying tells
        tempfile.TemporaryDirectory(dir=ancestor, prefix=".basis-probe-").cleanup()
    except OSError as e:
        raise OutDirError(f"--out {out}: cannot write in {ancestor} ({e.strerror})") from None


@contextmanager
def staged_out_dir(out: Path) -> Iterator[Path]:
    """Yield a fresh folder beside ``out`` to write into; on success it replaces ``out`` whole,
    on any exception (``KeyboardInterrupt``, ``SystemExit`` included) it is removed."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)  # a left-over of a killed (SIGKILL) run with our pid
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)
