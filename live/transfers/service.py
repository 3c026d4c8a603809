"""The live CEX transfer service: strategies' transfer requests carried out on the venues via ccxt.

It answers the same :class:`~adapters.events.TransferRequest` the wallet simulation answers and
publishes the same :class:`~adapters.events.TransferEvent` lifecycle, so strategies and the
accounting cannot tell the worlds apart:

- ``to_futures`` / ``to_spot``: a ccxt ``transfer`` between the exchange's spot account and the
  coin's futures account; ARRIVED once the venue confirms (on a unified account both are one
  account: ARRIVED at once, nothing is sent);
- ``withdrawal``: a ccxt ``withdraw`` to the on-chain wallet's address, only if that address is on
  the config's allow-list for the coin and network (else FAILED before any request is made);
  SUBMITTED when the venue lists it (with the fee it charged), ARRIVED when the venue reports it
  complete;
- ``deposit``: sent on chain by the wallet's :class:`DepositSender` to the venue's deposit
  address, SUBMITTED with the transaction hash, ARRIVED when ``fetch_deposits`` shows it credited.

Every request and each of its venue calls is written to the :class:`~live.transfers.store.LifecycleStore`
before the call is made. :meth:`CcxtTransferService.resume` (at start) picks up every open
request: a call whose fate is unknown (written, never marked sent) is looked up at the venue
first and only sent when the venue has no trace of it, so a restart never sends anything twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import ccxt.async_support as ccxt_async

from adapters.events import TransferEvent, TransferKind, TransferRequest, TransferStatus, VenueLedger
from live.transfers.config import TransferServiceConfig
from live.transfers.lifecycle import Leg, LegAction, LegStatus, RequestRecord
from live.transfers.store import LifecycleStore
from live.transfers.venue_ops import DONE, OPS, REFUSED, VenueOps, entry_state

MINUTE_MS = 60_000


class DepositSender(Protocol):
    """The on-chain wallet's side of a deposit (the web3 service): send and return the tx hash."""

    async def send(self, exchange: str, code: str, amount: float, address: str, network: str) -> str: ...


class CcxtTransferService:
    """See the module docstring. ``publish`` receives every event (the node's message bus);
    ``fee_estimate(exchange, asset)`` is the withdrawal fee a two-leg withdrawal moves to the
    funding account on top of the amount; ``usdt_price(exchange, asset)`` values a non-USDT fee."""

    def __init__(
        self,
        config: TransferServiceConfig,
        clients: dict[str, ccxt_async.Exchange],
        store: LifecycleStore,
        publish: Callable[[TransferEvent], None],
        *,
        wallet_address: str | None = None,
        deposit_sender: DepositSender | None = None,
        fee_estimate: Callable[[str, str], float] = lambda exchange, asset: 0.0,
        usdt_price: Callable[[str, str], float | None] = lambda exchange, asset: None,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.config = config
        self.store = store
        self._ops: dict[str, VenueOps] = {name: OPS[name](client) for name, client in clients.items()}
        self._publish = publish
        self._wallet_address = wallet_address
        self._sender = deposit_sender
        self._fee_estimate = fee_estimate
        self._usdt_price = usdt_price
        self._now_ms = now_ms
        self._log = log
        self._fresh: set[str] = set()
        """Client ids of legs written in this process and not yet tried: sent without a lookup."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()

    def use_venue_time(self, now_ms: Callable[[], int]) -> None:
        """Stamp the lifecycle with ``now_ms`` instead of the wall clock: the time of venues
        replaying history (the strategy waits for the data hour a transfer landed in)."""
        self._now_ms = now_ms

    # -- intake ------------------------------------------------------------------------------

    def on_request(self, request: TransferRequest) -> None:
        """The message-bus endpoint: take the request, and carry it out on the running loop."""
        record = self.accept(request)
        if record is not None:
            task = asyncio.get_running_loop().create_task(self.advance(record.request_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def accept(self, request: TransferRequest) -> RequestRecord | None:
        """Check, plan and write ``request`` (REQUESTED published); None when it was refused
        (FAILED published, nothing written to a venue)."""
        record = RequestRecord(
            request.request_id,
            request.kind,
            request.venue,
            request.asset,
            request.amount,
            self._now_ms(),
            legs=[],
        )
        if self.store.load(request.request_id) is not None:  # never overwrite what may have been sent
            self._emit(
                record, TransferStatus.FAILED, f"request id {request.request_id} was used before", save=False
            )
            return None
        try:
            record.legs = self._plan(request)
        except ValueError as e:
            self._emit(record, TransferStatus.REQUESTED)
            self._emit(record, TransferStatus.FAILED, str(e))
            return None
        self._fresh.update(leg.client_id for leg in record.legs)
        self._emit(record, TransferStatus.REQUESTED)  # written with its legs before any is sent
        return record

    def _plan(self, request: TransferRequest) -> list[Leg]:
        """The venue calls ``request`` takes (a ValueError says why it cannot be done)."""
        if request.venue not in self._ops:
            raise ValueError(f"no ccxt client for {request.venue!r} (configured: {sorted(self._ops)})")
        if not request.amount > 0:
            raise ValueError(f"transfer amount must be positive, got {request.amount}")
        settings = self.config.exchange(request.venue)
        accounts, code = settings.accounts, request.asset
        if request.kind in (TransferKind.TO_FUTURES, TransferKind.TO_SPOT):
            spot, futures = accounts.spot, accounts.futures_account(code)
            if spot == futures:
                return []  # one unified account: the spot/futures split is only the ledger's
            pair = (spot, futures) if request.kind == TransferKind.TO_FUTURES else (futures, spot)
            return [Leg(LegAction.TRANSFER, code, request.amount, from_account=pair[0], to_account=pair[1])]
        network = settings.network(code)
        if request.kind == TransferKind.WITHDRAWAL:
            address = self._wallet_address
            if not address:
                raise ValueError("withdrawals need the on-chain wallet's address (none given)")
            if not settings.allowed(code, network, address):
                raise ValueError(
                    f"withdrawal address {address} is not on the {request.venue} allow-list for {code} "
                    f"on {network}: refused"
                )
            legs = [Leg(LegAction.WITHDRAW, code, request.amount, address=address, network=network)]
            if accounts.funding != accounts.spot:
                gross = request.amount + self._fee_estimate(request.venue, code)
                legs.insert(
                    0,
                    Leg(
                        LegAction.TRANSFER,
                        code,
                        gross,
                        from_account=accounts.spot,
                        to_account=accounts.funding,
                    ),
                )
            return legs
        if self._sender is None:
            raise ValueError("deposits need the on-chain wallet's sender (the web3 service), none given")
        legs = [Leg(LegAction.DEPOSIT, code, request.amount, network=network)]
        if accounts.funding != accounts.spot:
            legs.append(
                Leg(
                    LegAction.TRANSFER,
                    code,
                    request.amount,
                    from_account=accounts.funding,
                    to_account=accounts.spot,
                )
            )
        return legs

    # -- carrying requests out ---------------------------------------------------------------

    async def resume(self) -> None:
        """Carry on every open request of the store (call once at start, before new requests)."""
        for exchange in self._ops:
            for values in self.store.records(exchange, only_open=True):
                await self.advance(values["request_id"])

    async def poll_open(self) -> None:
        """Look up every open request once (the service's poll, every ``poll_interval_s``)."""
        await self.resume()

    async def advance(self, request_id: str) -> None:
        """Take the request as far as the venue allows now (one request at a time). An error
        leaves it where the store says it is, for the next poll: it never stops the others."""
        lock = self._locks.setdefault(request_id, asyncio.Lock())
        async with lock:
            values = self.store.load(request_id)
            if values is None:
                return
            record = RequestRecord.from_json(values)
            if not record.is_open:
                return
            try:
                await self._advance(record)
            except Exception as e:  # a venue or wallet error: logged, retried at the next poll
                self._log(f"{request_id}: {type(e).__name__}: {e}; retrying at the next poll")

    async def _advance(self, record: RequestRecord) -> None:
        ops = self._ops[record.exchange]
        for leg in record.legs:
            if leg.status is LegStatus.REQUESTED:
                await self._start(record, leg, ops)
            if leg.status is LegStatus.SENT:
                await self._follow(record, leg, ops)
            if leg.status is LegStatus.FAILED:
                self._emit(
                    record, TransferStatus.FAILED, f"{leg.action} {leg.amount} {leg.code}: {leg.reason}"
                )
                return
            if leg.status is not LegStatus.CONFIRMED:
                self._check_deadline(record)
                return
        self._emit(record, TransferStatus.ARRIVED)

    async def _start(self, record: RequestRecord, leg: Leg, ops: VenueOps) -> None:
        """Send a REQUESTED leg, or when its fate is unknown, first look for it at the venue
        (a deposit without the venue's address yet cannot have been sent)."""
        unsent_deposit = leg.action is LegAction.DEPOSIT and not leg.address
        if leg.client_id not in self._fresh and not unsent_deposit:
            try:
                found = await ops.find(leg, self._since(record), self._taken(record))
            except ccxt_async.NetworkError as e:
                self._log(f"{record.request_id}: venue lookup failed ({type(e).__name__}); retrying later")
                return
            if found is not None:
                self._adopt(record, leg, found)
                return
            if leg.action is LegAction.DEPOSIT:  # only the wallet knows whether it sent: match by amount
                leg.status = LegStatus.SENT
                self._save(record)
                return
        try:
            if unsent_deposit:
                found = await ops.client.fetch_deposit_address(leg.code, {"network": leg.network})
                leg.address = str(found["address"])
                self._save(record)
        except ccxt_async.NetworkError as e:
            self._log(f"{record.request_id}: no deposit address yet ({type(e).__name__}); retrying later")
            return
        except ccxt_async.ExchangeError as e:
            leg.status, leg.reason = LegStatus.FAILED, f"no deposit address from {record.exchange}: {e}"
            self._save(record)
            return
        self._fresh.discard(leg.client_id)
        try:
            if leg.action is LegAction.DEPOSIT:
                await self._send_deposit(record, leg)
                return
            entry = await ops.send(leg)
        except ccxt_async.NetworkError as e:
            # the venue may or may not have it: stays REQUESTED, to be looked up before anything else
            self._log(
                f"{record.request_id}: {leg.action} sent, answer lost ({type(e).__name__}); will look it up"
            )
            return
        except (ccxt_async.ExchangeError, ValueError) as e:
            leg.status, leg.reason = LegStatus.FAILED, f"refused by {record.exchange}: {e}"
            self._save(record)
            return
        self._adopt(record, leg, entry)

    async def _send_deposit(self, record: RequestRecord, leg: Leg) -> None:
        """Have the wallet send it on chain (an error there leaves its fate unknown: REQUESTED,
        resolved by amount against the venue's deposits)."""
        leg.venue_id = await self._sender.send(
            record.exchange, leg.code, leg.amount, leg.address, leg.network
        )
        leg.status = LegStatus.SENT
        self._save(record)
        self._emit(record, TransferStatus.SUBMITTED)

    def _adopt(self, record: RequestRecord, leg: Leg, entry: dict) -> None:
        """Record what the venue says about ``leg`` (its id, state and fee)."""
        if not leg.venue_id:
            leg.venue_id = str(
                entry.get("txid") if leg.action is LegAction.DEPOSIT else entry.get("id") or ""
            )
        state = entry_state(entry)
        if leg.action is LegAction.TRANSFER and entry.get("status") is None:
            state = DONE  # an internal transfer the venue accepted without a status is booked at once
        leg.status = {DONE: LegStatus.CONFIRMED, REFUSED: LegStatus.FAILED}.get(state, LegStatus.SENT)
        if leg.status is LegStatus.FAILED:
            leg.reason = f"{record.exchange} reports it {entry.get('status')}"
        if leg.action is LegAction.WITHDRAW:
            fee = (entry.get("fee") or {}).get("cost")
            if fee is not None:
                leg.fee = record.fee = float(fee)
        self._save(record)
        if leg.action is LegAction.WITHDRAW and entry.get("timestamp") is not None:
            self._emit(record, TransferStatus.SUBMITTED)  # listed by the venue: the money left
        if leg.action is LegAction.DEPOSIT and leg.status is not LegStatus.FAILED:
            self._emit(record, TransferStatus.SUBMITTED)

    async def _follow(self, record: RequestRecord, leg: Leg, ops: VenueOps) -> None:
        try:
            found = await ops.find(leg, self._since(record), self._taken(record))
        except ccxt_async.NetworkError as e:
            self._log(f"{record.request_id}: venue lookup failed ({type(e).__name__}); retrying later")
            return
        if found is not None:
            self._adopt(record, leg, found)

    # -- helpers -----------------------------------------------------------------------------

    def _since(self, record: RequestRecord) -> int:
        return record.created_ms - int(self.config.lookup_window_minutes * MINUTE_MS)

    def _taken(self, record: RequestRecord) -> set[str]:
        """Venue ids claimed by the exchange's other requests (not to be matched by amount)."""
        return {
            leg.venue_id.lower() if leg.action is LegAction.DEPOSIT else leg.venue_id
            for values in self.store.records(record.exchange)
            if values["request_id"] != record.request_id
            for leg in RequestRecord.from_json(values).legs
            if leg.venue_id
        }

    def _check_deadline(self, record: RequestRecord) -> None:
        minutes = {
            TransferKind.WITHDRAWAL: self.config.withdrawal_timeout_minutes,
            TransferKind.DEPOSIT: self.config.deposit_timeout_minutes,
        }.get(record.kind)
        if minutes is not None and self._now_ms() - record.created_ms > minutes * MINUTE_MS:
            self._emit(
                record, TransferStatus.TIMED_OUT, f"not completed by the venue within {minutes:g} minutes"
            )

    def _save(self, record: RequestRecord) -> None:
        self.store.save(record.request_id, record.exchange, record.to_json(), record.is_open)

    def _emit(
        self, record: RequestRecord, status: TransferStatus, reason: str = "", save: bool = True
    ) -> None:
        """Publish ``status`` once per request (written first: a restart does not repeat it)."""
        if status in record.published:
            return
        record.published.append(status)
        if save:
            self._save(record)
        fee = record.fee if record.kind == TransferKind.WITHDRAWAL else 0.0
        price = 1.0 if record.asset == "USDT" else self._usdt_price(record.exchange, record.asset)
        event = TransferEvent(
            record.request_id,
            record.kind,
            record.exchange,
            record.amount,
            status,
            self._now_ms() * 1_000_000,
            fee_usdt=fee * (price or 0.0),
            ledger=self.ledger(record.exchange) if _moves_ledger(record, status) else None,
            reason=reason,
            asset=record.asset,
            fee=fee,
        )
        self._publish(event)

    def ledger(self, exchange: str) -> VenueLedger:
        """Net USDT the exchange's wallets received through transfers, from the stored lifecycle
        (as the simulation keeps it: deposits on arrival, withdrawals and their fee on submission)."""
        deposited = to_futures = 0.0
        for values in self.store.records(exchange):
            record = RequestRecord.from_json(values)
            if record.asset != "USDT":
                continue
            arrived = TransferStatus.ARRIVED in record.published
            if record.kind == TransferKind.DEPOSIT and arrived:
                deposited += record.amount
            elif record.kind == TransferKind.WITHDRAWAL and TransferStatus.SUBMITTED in record.published:
                if TransferStatus.FAILED not in record.published:
                    deposited -= record.amount + record.fee
            elif arrived:
                to_futures += record.amount if record.kind == TransferKind.TO_FUTURES else -record.amount
        return VenueLedger(deposited, to_futures)


def _moves_ledger(record: RequestRecord, status: TransferStatus) -> bool:
    if record.kind == TransferKind.WITHDRAWAL:
        return status in (TransferStatus.SUBMITTED, TransferStatus.FAILED)
    return status is TransferStatus.ARRIVED
