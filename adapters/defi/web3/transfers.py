"""The transfer service's on-chain leg: an ERC-20 ``transfer`` from the wallet to a CEX deposit address.

The destination must be on the exchange's allow-list of the transfer service's config
(``configs/transfers.yaml``: coin → network → addresses, :class:`ExchangeTransfers`), the one list
of addresses this project's money may be sent to: anything else is refused before anything is
sent, as a CEX withdrawal to an unlisted address is. The amount is checked against the mode's
``max_tx_value_usd`` and the transaction goes through the wallet's sender (halt, gas cap and budget,
nonce, stuck-transaction replacement). The amount confirmed is read from the token's ``Transfer``
event in the receipt (USDT's ``transfer`` returns no value to check).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from web3 import Web3

from adapters.defi.backend import ExecutionRejected
from adapters.defi.web3.backend import ETH, WEI, Web3Backend
from live.transfers.config import ExchangeTransfers


@dataclass(frozen=True)
class Deposited:
    tx_hash: str
    amount: float
    """What the token's ``Transfer`` event says reached the address (the coin's units)."""
    gas_eth: float
    """The gas the transfer paid (ETH), for the books."""


class DepositSender:
    """Sends ERC-20 deposits from ``backend``'s wallet to the allow-listed addresses of ``exchanges``
    (exchange name → its transfer config)."""

    def __init__(self, backend: Web3Backend, exchanges: dict[str, ExchangeTransfers]) -> None:
        self.backend = backend
        self.exchanges = exchanges

    def deposit(self, exchange: str, coin: str, amount: Decimal, address: str) -> Deposited:
        """Transfer ``amount`` of ``coin`` to ``address`` on ``exchange``; refused unsent when the
        address is not on that exchange's allow-list for the coin's network."""
        if coin == ETH or coin not in self.backend.tokens:  # ETH would go as WETH: not a deposit
            raise ExecutionRejected(f"DEPOSIT: {coin} is not an ERC-20 of the wallet")
        venue = self.exchanges[exchange]
        network = venue.network(coin)
        if not venue.allowed(coin, network, address):
            raise ExecutionRejected(
                f"ALLOW_LIST: {address} is not on {exchange}'s allow-list for {coin} on {network}, "
                "nothing sent"
            )
        token, to = self.backend.tokens[coin], Web3.to_checksum_address(address)
        unit = 10 ** token.functions.decimals().call()
        raw = int(amount * unit)
        self.backend.check_value(f"{coin} deposit to {exchange}", coin, raw)
        receipt = self.backend.sender.send(token.functions.transfer(to, raw))
        received = sum(
            event["args"]["value"]
            for event in token.events.Transfer().process_receipt(receipt)
            if event["args"]["to"] == to
        )
        gas = receipt["gasUsed"] * receipt["effectiveGasPrice"] / WEI
        return Deposited(receipt["transactionHash"].hex(), received / unit, gas)
