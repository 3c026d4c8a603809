"""The mode YAML's limits on on-chain sends: a value cap per transaction and a daily gas budget.

They guard against a sizing error or a runaway loop reaching the chain, as the notional caps do for
CEX orders (:mod:`strategies.order_caps`): the defaults are far above what the modes send at their
default capital and far below what a mis-sized order or a retry storm would cost. The web3 sending
path enforces them (the simulated backend moves no real money); a refusal is an
:class:`~adapters.defi.backend.ExecutionRejected` before anything is sent.

This module imports nothing from web3, so the strategy config can take its defaults from here.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.defi.backend import ExecutionRejected

DEFAULT_MAX_TX_VALUE_USD = 250_000.0
DEFAULT_MAX_DAILY_GAS_ETH = 0.5
DAY_SECONDS = 86_400.0
WEI = 10**18


@dataclass(frozen=True)
class SendLimits:
    max_tx_value_usd: float = DEFAULT_MAX_TX_VALUE_USD
    """Most one transaction may move (USD, at the Aave oracle's prices)."""
    max_daily_gas_eth: float = DEFAULT_MAX_DAILY_GAS_ETH
    """Most gas the wallet may pay in any 24 hours (ETH)."""
    gas_ledger: str | None = None
    """A file keeping the gas paid in the last 24 hours across restarts (a live node's state
    folder); None keeps it in memory only (a paper run's chain lives no longer than its process)."""

    def __post_init__(self) -> None:
        if not (self.max_tx_value_usd > 0 and self.max_daily_gas_eth > 0):
            raise ValueError(
                f"max_tx_value_usd and max_daily_gas_eth must be > 0, got "
                f"{self.max_tx_value_usd} and {self.max_daily_gas_eth}"
            )

    def check_value(self, what: str, usd: float) -> None:
        """Refuse a transaction that moves more than ``max_tx_value_usd``."""
        if usd > self.max_tx_value_usd:
            raise ExecutionRejected(
                f"TX_VALUE: {what} moves {usd:,.0f} USD, above max_tx_value_usd "
                f"{self.max_tx_value_usd:,.0f} (mode YAML)"
            )


DEFAULT_LIMITS = SendLimits()


class GasBudget:
    """Gas paid in the last 24 hours, from the receipts, against ``max_daily_gas_eth``.

    With a ``ledger`` file every receipt is also written there (atomically: a new file renamed
    over the old), and a new budget starts from what it holds, so a restarted node keeps the day's
    spending instead of getting a fresh budget each time it is started (a crash loop would
    otherwise spend a budget per restart). Without one it is kept in memory only.
    """

    def __init__(
        self, max_eth: float, clock: Callable[[], float] = time.time, ledger: Path | None = None
    ) -> None:
        self.max_wei = round(max_eth * WEI)
        self._clock = clock
        self._ledger = ledger
        self._paid: deque[tuple[float, int]] = deque()
        """(when, wei) of each receipt, oldest first."""
        if ledger is not None and ledger.exists():
            try:
                self._paid.extend((float(when), int(wei)) for when, wei in json.loads(ledger.read_text()))
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"{ledger}: not a gas ledger ({e}); remove it only if no gas was paid today"
                ) from None

    def paid_wei(self) -> int:
        """Gas paid in the 24 hours up to now."""
        start = self._clock() - DAY_SECONDS
        while self._paid and self._paid[0][0] <= start:
            self._paid.popleft()
        return sum(wei for _, wei in self._paid)

    def record(self, wei: int) -> None:
        self._paid.append((self._clock(), wei))
        if self._ledger is not None:
            self.paid_wei()  # drop what left the window before writing
            staged = self._ledger.with_name(self._ledger.name + ".tmp")
            staged.write_text(json.dumps(list(self._paid)))
            os.replace(staged, self._ledger)

    def check(self, name: str, cost_wei: int) -> None:
        """Refuse a transaction whose expected cost would take the day's gas past the budget."""
        paid = self.paid_wei()
        if paid + cost_wei > self.max_wei:
            raise ExecutionRejected(
                f"GAS_BUDGET: {name} would cost ~{cost_wei / WEI:.6f} ETH of gas with {paid / WEI:.6f} ETH "
                f"paid in the last 24 h: above max_daily_gas_eth {self.max_wei / WEI:g} (mode YAML)"
            )
