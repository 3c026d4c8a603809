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

    def client_id(self, leg: Leg) -> str:
        """Our id for ``leg`` in the form the venue takes (and files the call under)."""
        return leg.client_id

    def _field(self, leg: Leg) -> str | None:
        return self.transfer_client_field if leg.action is LegAction.TRANSFER else self.withdraw_client_field

    def _tagged(self, leg: Leg) -> dict[str, str]:
        field = self._field(leg)
        return {field: self.client_id(leg)} if field else {}

    async def send(self, leg: Leg) -> Entry:
        if leg.action is LegAction.TRANSFER:
            return await self.client.transfer(
                leg.code, leg.amount, leg.from_account, leg.to_account, self._tagged(leg)
            )
        if leg.action is LegAction.WITHDRAW:
            params = {"network": leg.network, **self._tagged(leg)}
            return await self.client.withdraw(leg.code, leg.amount, leg.address, params)
        raise ValueError(f"a {leg.action} leg is not sent to the venue")

    async def find(self, leg: Leg, since_ms: int, taken: set[str]) -> Entry | None:
        """The venue's record of ``leg`` (None: the venue has no such call), skipping the venue
        ids in ``taken`` (claimed by other requests) when matching by amount."""
        if leg.action is LegAction.DEPOSIT:
            return _match_deposit(await self.client.fetch_deposits(leg.code, since_ms), leg, since_ms, taken)
        echoed = self._field(leg)
        if leg.action is LegAction.TRANSFER:
            entries = await self.transfers(leg, since_ms)
        else:
            echoed = echoed if self.withdraw_echoes_client_id else None
            params = self._tagged(leg) if echoed else {}
            entries = await self.client.fetch_withdrawals(leg.code, since_ms, None, params)
        return _match(entries, leg, echoed, self.client_id(leg), since_ms, taken)

    async def transfers(self, leg: Leg, since_ms: int) -> list[Entry]:
        return await self.client.fetch_transfers(leg.code, since_ms)


class BinanceOps(VenueOps):
    withdraw_client_field = "withdrawOrderId"

    async def transfers(self, leg: Leg, since_ms: int) -> list[Entry]:
        # Binance lists universal transfers per direction (its ``type``), named by the two accounts
        params = {"fromAccount": leg.from_account, "toAccount": leg.to_account}
        return await self.client.fetch_transfers(leg.code, since_ms, None, params)


class BybitOps(VenueOps):
    transfer_client_field = "transferId"
    withdraw_client_field = "requestId"
    """The withdrawal's idempotency key (32 characters at most); not listed back in its history."""
    withdraw_echoes_client_id = False

    def client_id(self, leg: Leg) -> str:
        """A transfer id in UUID form, as Bybit takes it."""
        if leg.action is not LegAction.TRANSFER:
            return leg.client_id
        hex_ = leg.client_id
        return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


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


def _destination(entry: Entry) -> str:
    """Where a listed withdrawal went (ccxt fills ``addressTo`` or ``address`` by venue)."""
    return str(entry.get("addressTo") or entry.get("address") or "").lower()


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
            and (leg.action is not LegAction.WITHDRAW or _destination(e) == leg.address.lower())
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
