"""Parameter sweeps on Ray: ``python -m research sweep configs/sweeps/NAME.yaml`` (see
:mod:`research.sweep.cli`)."""

from research.sweep.cli import main

__all__ = ["main"]
