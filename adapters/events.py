"""Messages between strategies, venues and the accounting actor: transfers, flows, venue events.

Strategies never touch balances directly: they send a :class:`TransferRequest` to the
``TRANSFER_ENDPOINT`` and follow :class:`TransferEvent` on ``TRANSFER_TOPIC``. In a backtest the
wallet venue's simulation module executes them (with gas, fees and delays); a live deployment
registers its own handler on the same endpoint, so strategy code is identical in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TRANSFER_ENDPOINT = "Transfers.request"
TRANSFER_TOPIC = "transfers.events"
CAPITAL_TOPIC = "capital.events"
PAYOUT_ENDPOINT = "Capital.payout"
GAS_TOPIC = "wallet.gas"
FUNDING_TOPIC = "cex.funding"
LIQUIDATION_TOPIC = "cex.liquidations"
"""The venue simulation's own liquidation records, for its tests and diagnostics only: live, a
liquidation is just the venue's fill (:mod:`adapters.cex.liquidation_fills`)."""


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    """On-chain wallet → CEX spot wallet (ERC-20 transfer: gas now, credit after confirmations)."""
    WITHDRAWAL = "withdrawal"
    """CEX spot wallet → on-chain wallet (venue fee now, arrival after the venue's delay)."""
    TO_FUTURES = "to_futures"
    """CEX spot wallet → futures wallet (same venue: free and instant)."""
    TO_SPOT = "to_spot"
    """CEX futures wallet → spot wallet (same venue: free and instant)."""


class TransferStatus(StrEnum):
    """A transfer's lifecycle: requested → submitted → arrived | failed | timed out."""

    REQUESTED = "requested"
    """The transfer service took the request."""
    SUBMITTED = "submitted"
    """The money left (a deposit's on-chain transfer sent, a withdrawal debited with its fee)."""
    ARRIVED = "arrived"
    """The money is credited where it was sent (internal moves arrive at once)."""
    FAILED = "failed"
    """Refused (the reason says why); nothing moved."""
    TIMED_OUT = "timed_out"
    """Not arrived within the service's deadline: the money may still arrive; someone must look."""


@dataclass(frozen=True)
class TransferRequest:
    request_id: str
    kind: TransferKind
    venue: str
    """The CEX venue involved (the other side is the on-chain wallet or the same venue)."""
    amount: float
    """``asset`` to move; for withdrawals, the amount that arrives (the venue fee is added on top)."""
    asset: str = "USDT"
    """USDT, or ETH for a withdrawal of spot ETH bought on the venue (the CEX purchase route)."""


@dataclass(frozen=True)
class VenueLedger:
    """Net USDT a CEX venue's wallets received through transfers (not trading)."""

    deposited: float = 0.0
    """External deposits minus withdrawals and withdrawal fees (lands in the spot wallet)."""
    to_futures: float = 0.0
    """Net internal transfers from the spot wallet into the futures wallet."""


@dataclass(frozen=True)
class TransferEvent:
    request_id: str
    kind: TransferKind
    venue: str
    amount: float
    status: TransferStatus
    ts_event: int
    fee_usdt: float = 0.0
    """Venue withdrawal fee (USDT) charged with this transfer (an ETH fee valued at the venue's spot)."""
    ledger: VenueLedger | None = None
    """The venue's ledger after this event (set when the venue's balances changed)."""
    reason: str = ""
    asset: str = "USDT"
    fee: float = 0.0
    """The venue fee in ``asset`` units."""


class TransferBook:
    """What the transfer events say, kept the same way by every reader (strategy, accounting):
    each CEX venue's ledger and the transfers between the wallet and a venue not yet arrived."""

    def __init__(self) -> None:
        self.ledgers: dict[str, VenueLedger] = {}
        self.in_flight: dict[str, tuple[str, float]] = {}
        """Request id → (asset, amount) of deposits and withdrawals sent and not yet arrived."""

    def apply(self, event: TransferEvent) -> None:
        if event.kind in (TransferKind.DEPOSIT, TransferKind.WITHDRAWAL):
            if event.status == TransferStatus.SUBMITTED:
                self.in_flight[event.request_id] = (event.asset, event.amount)
            elif event.status in (TransferStatus.ARRIVED, TransferStatus.FAILED):
                self.in_flight.pop(event.request_id, None)
        if event.ledger is not None:
            self.ledgers[event.venue] = event.ledger

    def ledger(self, venue: str) -> VenueLedger:
        return self.ledgers.get(venue, VenueLedger())

    def in_transit(self, asset: str) -> float:
        """``asset`` sent between the wallet and a CEX and not yet arrived."""
        return sum(amount for code, amount in self.in_flight.values() if code == asset)

    def in_transit_usdt(self, eth_price: float) -> float:
        """What is in flight, in USDT (USDT transfers, and spot ETH withdrawn at ``eth_price``)."""
        return self.in_transit("USDT") + self.in_transit("ETH") * eth_price

    def to_json(self) -> dict:
        return {
            "ledgers": {v: [ledger.deposited, ledger.to_futures] for v, ledger in self.ledgers.items()},
            "in_flight": self.in_flight,
        }

    def load_json(self, values: dict) -> None:
        self.ledgers = {venue: VenueLedger(*figures) for venue, figures in values["ledgers"].items()}
        self.in_flight = {key: (asset, amount) for key, (asset, amount) in values["in_flight"].items()}


class CapitalFlowKind(StrEnum):
    DEPOSIT = "deposit"
    """Share-class capital arrived in the on-chain wallet (a subscription)."""
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    """The investor asked for capital back; the strategy must raise it in the wallet."""
    WITHDRAWAL = "withdrawal"
    """Capital left the wallet to the investor (a redemption)."""


@dataclass(frozen=True)
class CapitalFlow:
    kind: CapitalFlowKind
    amount: float
    """Share-class currency; for a withdrawal request ``float('inf')`` means everything (exit_full)."""
    ts_event: int


@dataclass(frozen=True)
class PayoutRequest:
    """Pay ``amount`` of the share-class currency from the wallet to the investor (completes a withdrawal)."""

    amount: float


@dataclass(frozen=True)
class GasCharged:
    operation: str
    units: int
    gwei: float
    eth: float
    eth_price: float
    ts_event: int

    @property
    def usd(self) -> float:
        return self.eth * self.eth_price


@dataclass(frozen=True)
class FundingSettled:
    venue: str
    instrument_id: str
    rate: float
    mark: float
    signed_base_qty: float
    payment: float
    """USDT credited to the account (negative = paid)."""
    ts_event: int
    stale_mark: bool = False
    """True when no bar stamped at the print time existed and the last earlier close was used."""
    usdt_per_unit: float = 1.0
    """USDT per unit of the settlement currency ``payment`` is in (a coin-margined venue: the mark)."""

    @property
    def payment_usdt(self) -> float:
        return self.payment * self.usdt_per_unit


@dataclass(frozen=True)
class LiquidationEvent:
    """A CEX liquidation: a row of liquidations.csv (the accounting's, read from the venue's
    fill) and the venue simulation's own record of it."""

    venue: str
    instrument_id: str
    signed_base_qty: float
    """Position closed (signed, base units)."""
    price: float
    mark: float
    """The bar close the run marks positions at (execution loss = qty × (price − mark))."""
    fee: float
    insurance_credit: float
    ts_event: int
    usdt_per_unit: float = 1.0
    """USDT per unit of the venue's settlement currency (fee and insurance are in it)."""


WALLET_TOPIC = "wallet.events"
"""Protocol events of the on-chain wallet: interest, rewards, flash-loan fees, Aave liquidations."""


@dataclass(frozen=True)
class InterestAccrued:
    """An aToken or debt-token balance moved with its reserve index (a debt grows more negative).

    Usually growth; negative for an aToken when a new daily snapshot corrects the index below the
    rate-extrapolated one.
    """

    token: str
    amount: float
    ts_event: int
    borrowed: bool = False
    """True for a debt token (borrow interest), False for an aToken (supply interest)."""


@dataclass(frozen=True)
class RewardCredited:
    token: str
    amount: float
    program: str
    estimated: bool
    ts_event: int


@dataclass(frozen=True)
class FlashLoanFee:
    provider: str
    amount: float
    """Flash-loaned ETH."""
    fee: float
    """ETH paid to the provider."""
    ts_event: int


@dataclass(frozen=True)
class AaveLiquidated:
    debt_token: str
    repaid: float
    collateral_token: str
    seized: float
    health_factor: float
    ts_event: int


@dataclass(frozen=True)
class WithdrawalFinalised:
    """An LST withdrawal request was paid: queue ETH became ETH."""

    token: str
    amount: float
    ts_event: int
