"""Sending one transaction safely: simulate, estimate, cap the fee, track the nonce, read the receipt.

A transaction pending past the receipt timeout is replaced with higher fees (same nonce) while
they stay under the cap. Every refusal is an :class:`~adapters.defi.backend.ExecutionRejected`.
Refusals before sending (halted, a simulated revert, a fee above the cap, the daily gas budget
used up, the node unreachable) spend nothing; a transaction that reverts on chain has spent its
gas, which :attr:`TransactionSender.gas_paid_wei` counts with the rest, so the caller charges what
the chain took.

A connection lost while broadcasting leaves the outcome unknown, so the sender looks for the
receipt of the hash it signed (known without the node) and, when none comes, re-broadcasts at the
same nonce as a replacement: whatever happened, at most one transaction per nonce is mined.
"""

from __future__ import annotations

import logging
import time
from math import ceil
from pathlib import Path

from hexbytes import HexBytes
from nautilus_trader.common.component import MessageBus
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt

from adapters.defi.backend import ExecutionRejected
from adapters.defi.web3.config import ChainLiveConfig
from adapters.defi.web3.connection import WalletConnection
from adapters.defi.web3.limits import DEFAULT_LIMITS, GasBudget, SendLimits
from adapters.halt import HALT_TOPIC, HaltRequest

GWEI = 10**9
REPLACEMENT_BUMP = 1.25
"""A replacement's fees over the stuck transaction's (nodes require at least +10 %)."""
RECEIPT_POLL_SECONDS = 0.05
log = logging.getLogger(__name__)


class TransactionSender:
    """Sends the wallet's transactions one at a time, with the limits of ``config`` (the chain's)
    and ``limits`` (the mode's: the daily gas budget here; the value cap is the backend's)."""

    def __init__(
        self, connection: WalletConnection, config: ChainLiveConfig, limits: SendLimits = DEFAULT_LIMITS
    ) -> None:
        self.w3 = connection.w3
        self.account = connection.account
        self.config = config
        ledger = Path(limits.gas_ledger) if limits.gas_ledger else None
        self.gas_budget = GasBudget(limits.max_daily_gas_eth, ledger=ledger)
        self.gas_paid_wei = 0
        """Gas paid by every mined transaction so far, reverted ones included."""
        self.halted: str | None = None
        """Why the kill switch stopped this sender, or None: halted, it starts no transaction."""
        self._nonce: int | None = None
        """The next nonce; None re-reads the node's pending count (at start and after an error)."""

    def halt(self, why: str) -> None:
        """Send nothing more. A transaction already broadcast is still awaited, but not replaced."""
        if self.halted is None:
            self.halted = why
            log.warning("on-chain sends halted: %s", why)

    def watch_halt(self, msgbus: MessageBus) -> None:
        """Halt when the kill switch publishes on :data:`~adapters.halt.HALT_TOPIC`, as the
        strategies do: whatever is in flight then starts no further transaction."""
        msgbus.subscribe(HALT_TOPIC, self._on_halt_request)

    def _on_halt_request(self, request: HaltRequest) -> None:
        self.halt(f"requested by {request.describe()}")

    @property
    def address(self) -> str:
        return self.account.address

    def send(self, call: ContractFunction, value: int = 0) -> TxReceipt:
        """Send ``call`` once it simulates cleanly under the fee cap and the gas budget; its receipt
        when it succeeds."""
        if self.halted is not None:
            raise ExecutionRejected(f"HALTED: {call.fn_name} not sent ({self.halted})")
        request: TxParams = {
            "from": self.address,
            "to": call.address,
            "value": value,
            "data": call._encode_transaction_data(),  # web3 has no public "calldata of a call"
        }
        try:
            base_fee, tip = self._fees()
            self.w3.eth.call(request, "pending")
            gas = self.w3.eth.estimate_gas(request, "pending")
            self._next_nonce()  # read before signing: an unreachable node refuses here, unsent
        except ContractLogicError as e:
            raise ExecutionRejected(f"SIMULATION: {call.fn_name} would revert: {e.message}") from None
        except OSError as e:  # requests' connection errors and timeouts
            raise ExecutionRejected(  # the error's text can name the URL: only its type is told
                f"RPC: {call.fn_name} not sent, the node is unreachable ({type(e).__name__})"
            ) from None
        self.gas_budget.check(call.fn_name, gas * (base_fee + tip))
        tx: TxParams = {
            **request,
            "gas": round(gas * self.config.gas_limit_margin),
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": self._max_fee(base_fee, tip),
            "chainId": self.config.chain_id,
        }
        tx_hash = self._submit(tx, call.fn_name)
        log.info("sent %s (nonce %d, gas limit %d): %s", call.fn_name, tx["nonce"], tx["gas"], tx_hash.hex())
        receipt = self._receipt(tx, tx_hash, call.fn_name)
        paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        self.gas_paid_wei += paid
        self.gas_budget.record(paid)
        if receipt["status"] != 1:
            raise ExecutionRejected(
                f"REVERTED: {call.fn_name} reverted on chain after {receipt['gasUsed']} gas ({tx_hash.hex()})"
            )
        return receipt

    def approve(self, token: Contract, spender: str, amount: int) -> None:
        """Set ``spender``'s allowance to exactly ``amount``, through 0 when one is left over (USDT
        refuses to change a non-zero allowance to another non-zero value)."""
        current = token.functions.allowance(self.address, spender).call()
        if current == amount:
            return
        if current and amount:
            self.send(token.functions.approve(spender, 0))
        self.send(token.functions.approve(spender, amount))

    def _receipt(self, tx: TxParams, tx_hash: HexBytes, name: str) -> TxReceipt:
        """The receipt of ``tx`` or of a replacement. A transaction still pending after the timeout
        is stuck (its fee too low, or never received): it is replaced, same nonce, with fees raised
        by ``REPLACEMENT_BUMP`` while they stay under the cap and the sender is not halted, else
        refused as pending."""
        hashes = [tx_hash]
        while (receipt := self._first_mined(hashes)) is None:
            bump = {key: ceil(tx[key] * REPLACEMENT_BUMP) for key in ("maxPriorityFeePerGas", "maxFeePerGas")}
            if self.halted is not None or bump["maxFeePerGas"] > self.config.max_gas_price_wei:
                self._nonce = None
                why = "not replaced: halted" if self.halted else "its fee cannot rise under the cap"
                raise ExecutionRejected(
                    f"PENDING: {name} not mined within {self.config.receipt_timeout_seconds:g}s and "
                    f"{why} ({', '.join(h.hex() for h in hashes)})"
                )
            tx = {**tx, **bump}
            try:
                hashes.append(self._broadcast(tx, name))
            except Web3RPCError:  # the nonce was mined meanwhile: its receipt comes next
                continue
            log.info("replaced stuck %s (nonce %d): %s", name, tx["nonce"], hashes[-1].hex())
        return receipt

    def _broadcast(self, tx: TxParams, name: str) -> HexBytes:
        """Sign and send ``tx``: its hash, also when the connection was lost on the way (then
        whether the node got it is unknown: the receipt wait finds out, see the module docstring).
        A refusal by the node is a :class:`Web3RPCError`."""
        signed = self.account.sign_transaction(tx)
        try:
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except OSError as e:
            log.warning("lost the node sending %s (nonce %d): %s; awaiting its receipt", name, tx["nonce"], e)
        return signed.hash

    def _first_mined(self, hashes: list[HexBytes]) -> TxReceipt | None:
        """The receipt of whichever of ``hashes`` is mined within the timeout, or None."""
        deadline = time.monotonic() + self.config.receipt_timeout_seconds
        while time.monotonic() < deadline:
            for tx_hash in hashes:
                try:
                    return self.w3.eth.get_transaction_receipt(tx_hash)
                except (TransactionNotFound, OSError):  # not mined yet, or the node unreachable
                    pass
            time.sleep(RECEIPT_POLL_SECONDS)
        return None

    def _submit(self, tx: TxParams, name: str) -> HexBytes:
        """Sign and send ``tx`` at the next nonce. A refusal re-reads the node's pending count: when
        that differs (something else used the account), the transaction is signed again once."""
        for _ in range(2):
            tx["nonce"] = tried = self._next_nonce()
            try:
                tx_hash = self._broadcast(tx, name)
            except Web3RPCError as e:
                self._nonce = None
                if self._next_nonce() == tried:
                    raise ExecutionRejected(f"SEND: the node refused {name}: {e.message}") from None
                continue
            self._nonce = tried + 1
            return tx_hash
        raise ExecutionRejected(f"SEND: the node refused {name} twice (nonce {tried})")

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        return self._nonce

    def max_fee_per_gas(self) -> int:
        """The most a transaction sent now may pay per gas (what the node checks the sender's
        native ETH against, with the gas limit); refused above the cap, as a send is."""
        return self._max_fee(*self._fees())

    def _max_fee(self, base_fee: int, tip: int) -> int:
        """Twice the next base fee plus the tip (room for the base fee to rise for a few blocks),
        never above the configured cap."""
        return min(self.config.max_gas_price_wei, 2 * base_fee + tip)

    def _fees(self) -> tuple[int, int]:
        """(next block's base fee, priority fee) in wei; refused when their sum exceeds the cap."""
        base_fee = self.w3.eth.get_block("pending")["baseFeePerGas"]
        tip = self.w3.eth.max_priority_fee
        cap = self.config.max_gas_price_wei
        if base_fee + tip > cap:
            raise ExecutionRejected(
                f"GAS_PRICE: {(base_fee + tip) / GWEI:.2f} gwei is above the cap of {cap / GWEI:.2f} gwei"
            )
        return base_fee, tip
