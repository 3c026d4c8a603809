"""Moving money between the on-chain wallet and the CEX venues, as a strategy asks for it.

A strategy never touches balances: it sends a :class:`~adapters.events.TransferRequest` to the
transfer service's endpoint (the wallet simulation in a backtest or paper run, the live
services later) and follows the :class:`~adapters.events.TransferEvent` lifecycle; the plan step
that asked waits for the transfer to land.
"""

from __future__ import annotations

import math

from adapters.cex.config import load_cex_venue
from adapters.events import TRANSFER_ENDPOINT, TransferEvent, TransferKind, TransferRequest, TransferStatus


class TransferActions:
    """Transfer requests and their events for :class:`~strategies.base.YieldStrategy` (a mixin:
    it uses the strategy's message bus, plan runner, transfer book and venue wallets)."""

    def request_transfer(
        self, kind: TransferKind, venue: str, amount: float, asset: str = "USDT"
    ) -> str | None:
        """Ask for a transfer of ``amount`` of ``asset``: USDT is rounded down to the cent and
        skipped under one; other assets arrive rounded by the caller."""
        if asset == "USDT":
            amount = math.floor(amount * 100) / 100
        if amount < (0.01 if asset == "USDT" else 1e-9):
            return None
        self._transfer_count += 1
        request_id = f"{self.id}-T{self._transfer_count}"
        self.plans.expect_transfer(request_id)
        self.msgbus.send(TRANSFER_ENDPOINT, TransferRequest(request_id, kind, venue, amount, asset))
        return request_id

    def withdrawal_fee(self, venue: str) -> float:
        """The venue's flat USDT withdrawal fee."""
        fee = self._withdrawal_fees.get(venue)
        if fee is None:
            fee = self._withdrawal_fees[venue] = load_cex_venue(venue).transfers.withdrawal_fee_usdt
        return fee

    def deposit_to_venues(self, amounts: dict[str, float]) -> None:
        """Deposit ``amounts`` USDT on CEX venues (pro rata when the wallet holds less than their sum)."""
        total, held = sum(amounts.values()), self.wallet_balance("USDT")
        scale = min(1.0, held / total) if total > 0 else 0.0
        for venue, amount in amounts.items():
            self.request_transfer(TransferKind.DEPOSIT, venue, amount * scale)

    def sweep_to_futures(self, venues: list[str]) -> None:
        """Move each venue's spot cash into its futures wallet (margin); a unified account's cash
        is margin already."""
        for venue in venues:
            wallets = self.venue_wallets(venue)
            if not wallets.unified:
                self.request_transfer(TransferKind.TO_FUTURES, venue, wallets.spot_cash)

    def move_to_spot(self, amounts: dict[str, float]) -> None:
        """Make ``amounts`` (``inf`` = all that may leave) spot cash, from the futures wallets (a
        unified account has one wallet: nothing to move)."""
        for venue, amount in amounts.items():
            wallets = self.venue_wallets(venue)
            if wallets.unified:
                continue
            need = min(amount - wallets.spot_cash, wallets.transferable_from_futures)
            if need > 0:
                self.request_transfer(TransferKind.TO_SPOT, venue, need)

    def withdraw_to_wallet(self, amounts: dict[str, float]) -> None:
        """Withdraw ``amounts`` (arriving; ``inf`` = all the venue's free cash) to the on-chain wallet."""
        for venue, amount in amounts.items():
            available = self.venue_wallets(venue).free_cash - self.withdrawal_fee(venue)
            self.request_transfer(TransferKind.WITHDRAWAL, venue, min(amount, available))

    def in_transit(self, asset: str) -> float:
        """``asset`` sent between the wallet and a CEX and not yet arrived."""
        return self.transfers.in_transit(asset)

    def _on_transfer_event(self, event: TransferEvent) -> None:
        self.transfers.apply(event)
        if event.status in (TransferStatus.FAILED, TransferStatus.TIMED_OUT):
            reason = event.reason or str(event.status)
            self.rejections.append(
                f"transfer {event.request_id} ({event.kind} {event.amount:.2f} {event.venue}): {reason}"
            )
            self.plans.transfer_done(event.request_id, event.ts_event, reason)
        elif event.status == TransferStatus.ARRIVED:
            self.plans.transfer_done(event.request_id, event.ts_event)
