"""Sending one transaction safely: simulate, estimate, cap the fee, track the nonce, read the receipt.

A transaction pending past the receipt timeout is replaced with higher fees (same nonce) while
they stay under the cap. Every refusal is an :class:`~adapters.defi.backend.ExecutionRejected`.
Refusals before sending (a simulated revert, a fee above the cap) spend nothing; a transaction
that reverts on chain has spent its gas, which :attr:`TransactionSender.gas_paid_wei` counts with
the rest, so the caller charges what the chain took.
"""

from __future__ import annotations

import logging
import time
from math import ceil

from hexbytes import HexBytes
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt

from adapters.defi.backend import ExecutionRejected
from adapters.defi.web3.config import ChainLiveConfig
from adapters.defi.web3.connection import WalletConnection

GWEI = 10**9
REPLACEMENT_BUMP = 1.25
"""A replacement's fees over the stuck transaction's (nodes require at least +10 %)."""
RECEIPT_POLL_SECONDS = 0.05
log = logging.getLogger(__name__)


class TransactionSender:
    """Sends the wallet's transactions one at a time, with the limits of ``config``."""

    def __init__(self, connection: WalletConnection, config: ChainLiveConfig) -> None:
        self.w3 = connection.w3
        self.account = connection.account
        self.config = config
        self.gas_paid_wei = 0
        """Gas paid by every mined transaction so far, reverted ones included."""
        self._nonce: int | None = None
        """The next nonce; None re-reads the node's pending count (at start and after an error)."""

    @property
    def address(self) -> str:
        return self.account.address

    def send(self, call: ContractFunction, value: int = 0) -> TxReceipt:
        """Send ``call`` once it simulates cleanly under the fee cap; its receipt when it succeeds."""
        request: TxParams = {
            "from": self.address,
            "to": call.address,
            "value": value,
            "data": call._encode_transaction_data(),  # web3 has no public "calldata of a call"
        }
        base_fee, tip = self._fees()
        try:
            self.w3.eth.call(request, "pending")
            gas = self.w3.eth.estimate_gas(request, "pending")
        except ContractLogicError as e:
            raise ExecutionRejected(f"SIMULATION: {call.fn_name} would revert: {e.message}") from None
        tx: TxParams = {
            **request,
            "gas": round(gas * self.config.gas_limit_margin),
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": min(self.config.max_gas_price_wei, 2 * base_fee + tip),
            "chainId": self.config.chain_id,
        }
        tx_hash = self._submit(tx, call.fn_name)
        log.info("sent %s (nonce %d, gas limit %d): %s", call.fn_name, tx["nonce"], tx["gas"], tx_hash.hex())
        receipt = self._receipt(tx, tx_hash, call.fn_name)
        self.gas_paid_wei += receipt["gasUsed"] * receipt["effectiveGasPrice"]
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
        is stuck (its fee too low): it is replaced, same nonce, with fees raised by
        ``REPLACEMENT_BUMP`` while they stay under the cap, else refused as pending."""
        hashes = [tx_hash]
        while (receipt := self._first_mined(hashes)) is None:
            bump = {key: ceil(tx[key] * REPLACEMENT_BUMP) for key in ("maxPriorityFeePerGas", "maxFeePerGas")}
            if bump["maxFeePerGas"] > self.config.max_gas_price_wei:
                self._nonce = None
                raise ExecutionRejected(
                    f"PENDING: {name} not mined within {self.config.receipt_timeout_seconds:g}s and "
                    f"its fee cannot rise under the cap ({', '.join(h.hex() for h in hashes)})"
                )
            tx = {**tx, **bump}
            try:
                hashes.append(
                    self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction)
                )
            except Web3RPCError:  # the nonce was mined meanwhile: its receipt comes next
                continue
            log.info("replaced stuck %s (nonce %d): %s", name, tx["nonce"], hashes[-1].hex())
        return receipt

    def _first_mined(self, hashes: list[HexBytes]) -> TxReceipt | None:
        """The receipt of whichever of ``hashes`` is mined within the timeout, or None."""
        deadline = time.monotonic() + self.config.receipt_timeout_seconds
        while time.monotonic() < deadline:
            for tx_hash in hashes:
                try:
                    return self.w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    pass
            time.sleep(RECEIPT_POLL_SECONDS)
        return None

    def _submit(self, tx: TxParams, name: str) -> HexBytes:
        """Sign and send ``tx`` at the next nonce. A refusal re-reads the node's pending count: when
        that differs (something else used the account), the transaction is signed again once."""
        for _ in range(2):
            tx["nonce"] = tried = self._next_nonce()
            try:
                tx_hash = self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction)
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
