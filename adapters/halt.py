"""The kill switch's message: what a halt switch publishes and every strategy obeys (live, paper,
backtest alike); the switch that watches for requests is ``live.halt``."""

from __future__ import annotations

from dataclasses import dataclass

HALT_TOPIC = "safety.halt"


@dataclass(frozen=True)
class HaltRequest:
    flatten: bool
    """Close the CEX positions too (open orders are always cancelled)."""
    requested_at: str
    """When it was asked for (UTC, ISO 8601, wall clock)."""
    source: str = "run_live.py --halt"

    def describe(self) -> str:
        return f"{self.source} at {self.requested_at}" + (" with --flatten" if self.flatten else "")
