"""One transfer request as the live service tracks it: the venue calls it takes, each with its state.

A strategy's :class:`~adapters.events.TransferRequest` becomes a :class:`RequestRecord` of one or
more :class:`Leg` s, each one venue operation with its own client id: an internal ``transfer``
between two ccxt accounts, a ``withdraw`` to an address, or a ``deposit`` the venue must credit.
A withdrawal from a venue whose withdrawals leave from a funding account is two legs (move the
cash there, then withdraw); a deposit to one is two (the credit, then the move on to spot).

A leg goes REQUESTED (written, not yet known to the venue) → SENT (the venue has it: its id) →
CONFIRMED or FAILED. Legs run in order; the request's :class:`~adapters.events.TransferStatus`
events follow from its legs (see :mod:`live.transfers.service`).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from adapters.events import TransferKind, TransferStatus


class LegAction(StrEnum):
    TRANSFER = "transfer"
    WITHDRAW = "withdraw"
    DEPOSIT = "deposit"


class LegStatus(StrEnum):
    REQUESTED = "requested"
    """Written before the venue call; after a restart its fate is unknown and is looked up first."""
    SENT = "sent"
    """The venue has it (``venue_id``); it is followed until the venue says it is done."""
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass
class Leg:
    action: LegAction
    code: str
    amount: float
    client_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Our id for the call (32 hex digits: every venue's client-id field takes it)."""
    from_account: str = ""
    to_account: str = ""
    address: str = ""
    network: str = ""
    status: LegStatus = LegStatus.REQUESTED
    venue_id: str = ""
    """The venue's id (a deposit's: its transaction hash)."""
    fee: float = 0.0
    reason: str = ""

    @property
    def done(self) -> bool:
        return self.status in (LegStatus.CONFIRMED, LegStatus.FAILED)


@dataclass
class RequestRecord:
    request_id: str
    kind: TransferKind
    exchange: str
    asset: str
    amount: float
    created_ms: int
    legs: list[Leg]
    published: list[TransferStatus] = field(default_factory=list)
    """The statuses already published for this request (each once, in order)."""
    fee: float = 0.0
    """The venue's withdrawal fee (``asset`` units), as the venue lists it."""

    @property
    def is_open(self) -> bool:
        return not ({TransferStatus.ARRIVED, TransferStatus.FAILED} & set(self.published))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> RequestRecord:
        legs = [
            Leg(**{**leg, "action": LegAction(leg["action"]), "status": LegStatus(leg["status"])})
            for leg in values["legs"]
        ]
        return cls(
            **{
                **values,
                "kind": TransferKind(values["kind"]),
                "legs": legs,
                "published": [TransferStatus(s) for s in values["published"]],
            }
        )
