"""The venue calls a transfer leg makes, and how each exchange lets us find a call again.

Sending is ccxt's unified ``transfer`` / ``withdraw`` with our client id where the venue takes
one (Binance ``withdrawOrderId``; Bybit ``transferId``; OKX ``clientId``); finding is the venue's
history (``fetch_transfers`` / ``fetch_withdrawals`` / ``fetch_deposits``) searched for the
leg: by the venue's id once known, else by the client id where the venue echoes it in its
records, else (Binance internal transfers and Bybit withdrawals carry no client id of ours) by
asset, amount and time among the records no other request has claimed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import ccxt.async_support as ccxt_async

from live.transfers.lifecycle import Leg, LegAction

Entry = dict[str, Any]
"""A ccxt transfer or transaction structure."""

DONE, PENDING, REFUSED = "done", "pending", "refused"
_VENUE_STATES = {"ok": DONE, "pending": PENDING, "failed": REFUSED, "canceled": REFUSED}


def entry_state(entry: Entry) -> str:
    """:data:`DONE`, :data:`PENDING` or :data:`REFUSED` from a ccxt status (unknown: pending)."""
    return _VENUE_STATES.get(str(entry.get("status") or "pending"), PENDING)


class VenueOps:
    """One exchange's transfer calls (the base serves all three; subclasses name their fields)."""

    transfer_client_field: str | None = None
    """The parameter (and record field) carrying our id for an internal transfer, if any."""
    withdraw_client_field: str | None = None
    withdraw_echoes_client_id = True
    """Whether the venue's withdrawal records carry the client id back."""

    def __init__(self, client: ccxt_async.Exchange) -> None:
        self.client = client

    def _client_params(self, field: str | None, leg: Leg) -> dict[str, str]:
        return {field: self.transfer_id(leg)} if field else {}

    def transfer_id(self, leg: Leg) -> str:
        """The id the venue files our transfer under, as we send it."""
        return leg.client_id

    async def send(self, leg: Leg) -> Entry:
        if leg.action is LegAction.TRANSFER:
            params = self._client_params(self.transfer_client_field, leg)
            return await self.client.transfer(leg.code, leg.amount, leg.from_account, leg.to_account, params)
        if leg.action is LegAction.WITHDRAW:
            params = {"network": leg.network, **self._client_params(self.withdraw_client_field, leg)}
            return await self.client.withdraw(leg.code, leg.amount, leg.address, params)
        raise ValueError(f"a {leg.action} leg is not sent to the venue")

    async def find(self, leg: Leg, since_ms: int, taken: set[str]) -> Entry | None:
        """The venue's record of ``leg`` (None: the venue has no such call), skipping the venue
        ids in ``taken`` (claimed by other requests) when matching by amount."""
        if leg.action is LegAction.TRANSFER:
            entries = await self.transfers(leg, since_ms)
            echoed = self.transfer_client_field
        elif leg.action is LegAction.WITHDRAW:
            entries = await self.client.fetch_withdrawals(leg.code, since_ms, None, self._history_params(leg))
            echoed = self.withdraw_client_field if self.withdraw_echoes_client_id else None
        else:
            entries = await self.client.fetch_deposits(leg.code, since_ms)
            return _match_deposit(entries, leg, since_ms, taken)
        return _match(entries, leg, echoed, self.transfer_id(leg), since_ms, taken)

    async def transfers(self, leg: Leg, since_ms: int) -> list[Entry]:
        return await self.client.fetch_transfers(leg.code, since_ms)

    def _history_params(self, leg: Leg) -> dict[str, str]:
        field = self.withdraw_client_field if self.withdraw_echoes_client_id else None
        return self._client_params(field, leg)


class BinanceOps(VenueOps):
    withdraw_client_field = "withdrawOrderId"

    async def transfers(self, leg: Leg, since_ms: int) -> list[Entry]:
        # Binance lists universal transfers per direction (its ``type``), named by the two accounts
        params = {"fromAccount": leg.from_account, "toAccount": leg.to_account}
        return await self.client.fetch_transfers(leg.code, since_ms, None, params)


class BybitOps(VenueOps):
    transfer_client_field = "transferId"
    withdraw_client_field = "requestId"
    withdraw_echoes_client_id = False

    def transfer_id(self, leg: Leg) -> str:
        """Bybit takes a transfer id in UUID form (and files the transfer under it)."""
        hex_ = leg.client_id
        return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"

    def _client_params(self, field: str | None, leg: Leg) -> dict[str, str]:
        if field == self.withdraw_client_field:
            return {field: leg.client_id}  # the withdrawal's idempotency key: 32 characters at most
        return super()._client_params(field, leg)


class OkxOps(VenueOps):
    transfer_client_field = "clientId"
    withdraw_client_field = "clientId"

    async def transfers(self, leg: Leg, since_ms: int) -> list[Entry]:
        # OKX looks a transfer up by our client id (``asset/transfer-state``)
        response = await self.client.private_get_asset_transfer_state(
            {"clientId": leg.client_id, "type": "0"}
        )
        currency = self.client.currency(leg.code)
        return [self.client.parse_transfer(raw, currency) for raw in response.get("data", [])]


OPS = {"BINANCE": BinanceOps, "BYBIT": BybitOps, "OKX": OkxOps}


def _same_amount(a: Any, b: float) -> bool:
    return a is not None and math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-12)


def _match(
    entries: Iterable[Entry], leg: Leg, echoed: str | None, client_id: str, since_ms: int, taken: set[str]
) -> Entry | None:
    entries = list(entries)
    if leg.venue_id:
        return next((e for e in entries if str(e.get("id")) == leg.venue_id), None)
    if echoed:
        return next((e for e in entries if str((e.get("info") or {}).get(echoed)) == client_id), None)
    return next(
        (
            e
            for e in entries
            if str(e.get("id")) not in taken
            and _same_amount(e.get("amount"), leg.amount)
            and (e.get("timestamp") or 0) >= since_ms
            and (
                leg.action is not LegAction.WITHDRAW
                or str(e.get("address", "")).lower() == leg.address.lower()
            )
        ),
        None,
    )


def _match_deposit(entries: Iterable[Entry], leg: Leg, since_ms: int, taken: set[str]) -> Entry | None:
    """A deposit by its transaction hash once the sender gave one, else by amount and time."""
    entries = list(entries)
    if leg.venue_id:
        return next((e for e in entries if str(e.get("txid", "")).lower() == leg.venue_id.lower()), None)
    return next(
        (
            e
            for e in entries
            if str(e.get("txid", "")).lower() not in taken
            and _same_amount(e.get("amount"), leg.amount)
            and (e.get("timestamp") or 0) >= since_ms
        ),
        None,
    )
