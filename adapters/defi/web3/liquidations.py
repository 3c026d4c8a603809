"""Aave liquidations of the wallet seen on chain: what a third account's ``liquidationCall`` did.

A liquidation is not an order of ours: a liquidator repays part of the wallet's debt and takes its
collateral with a bonus. The backtest's chain models it (:class:`~adapters.defi.upkeep.ProtocolUpkeep`
liquidates a position whose health factor fell below 1) and books it as an
:class:`~adapters.events.AaveLiquidated` event; on a real chain the protocol has already done it,
so :class:`LiquidationWatcher` reads it back as the same event, which the wallet books through the
same path (:meth:`ProtocolUpkeep.book_liquidation`) instead of its model.

Each poll reads the Pool's ``LiquidationCall`` logs of the account over the blocks not read yet (a
block range, up to the newest block, like the chain data feed's reads pinned to a block). The
amounts are the chain's:

- ``repaid``: the event's ``debtToCover``, the debt actually burnt (the Pool caps a liquidator's
  request at the close factor and the collateral available);
- ``seized``: the event's ``liquidatedCollateralAmount`` (what the liquidator received, as the
  underlying or as aTokens) plus the protocol's cut of the bonus, which the Pool moves from the
  account's aTokens to the treasury in the same transaction (the collateral aToken's
  ``Transfer(account → treasury)``; 0 when the reserve's liquidation protocol fee is 0) — so the
  account's aToken balance falls by ``seized``, as the model's seizure of ``repaid × (1 + bonus)``;
- ``health_factor``: the account's, from ``getUserAccountData`` at the end of the block before (a
  liquidation earlier in the same block is not in it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from adapters.defi.config import WalletVenueConfig
from adapters.defi.web3.config import ChainLiveConfig
from adapters.events import AaveLiquidated
from localchain.tools import AAVE, artifact

WAD = 10**18
NANOS = 10**9


@dataclass(frozen=True)
class _Reserve:
    """A reserve by its underlying's address: the wallet's currency codes for its aToken and debt
    token, their contracts, and the decimals of all three (Aave's tokens share the underlying's)."""

    a_token_code: str
    debt_token_code: str | None
    """None for a reserve the wallet config does not borrow from."""
    a_token: Contract
    unit: int
    treasury: str


class LiquidationWatcher:
    """Reads the Aave liquidations of ``account`` block range by block range (module docstring)."""

    def __init__(
        self, w3: Web3, config: ChainLiveConfig, wallet: WalletVenueConfig, account: str, from_block: int
    ) -> None:
        """``from_block``: the first block to read (a wallet's start: what came before is in the
        balances it starts from)."""
        self.w3 = w3
        self.account = Web3.to_checksum_address(account)
        self.next_block = from_block
        pool = Web3.to_checksum_address(config.aave_pool)
        self.pool = w3.eth.contract(address=pool, abi=artifact(AAVE, "Pool")["abi"])
        a_token_abi = artifact(AAVE, "AToken")["abi"]
        erc20 = artifact(AAVE, "IERC20Detailed")["abi"]
        self._reserves: dict[str, _Reserve] = {}
        for spec in wallet.aave.reserves:
            underlying = Web3.to_checksum_address(config.tokens[spec.underlying])
            data = self.pool.functions.getReserveData(underlying).call()
            a_token = w3.eth.contract(address=data[8], abi=a_token_abi)
            decimals = w3.eth.contract(address=underlying, abi=erc20).functions.decimals().call()
            self._reserves[underlying] = _Reserve(
                spec.a_token,
                spec.debt_token,
                a_token,
                10**decimals,
                a_token.functions.RESERVE_TREASURY_ADDRESS().call(),
            )

    def poll(self) -> list[AaveLiquidated]:
        """The liquidations of the account mined since the last poll, oldest first, each stamped at
        its block's time."""
        newest = self.w3.eth.block_number
        if newest < self.next_block:
            return []
        logs = self.pool.events.LiquidationCall().get_logs(
            from_block=self.next_block, to_block=newest, argument_filters={"user": self.account}
        )
        events = [self._event(log) for log in logs]
        self.next_block = newest + 1  # read: a failure above reads the range again next time
        return events

    def _event(self, log: Any) -> AaveLiquidated:
        args = log["args"]
        collateral = self._reserves[Web3.to_checksum_address(args["collateralAsset"])]
        debt = self._reserves[Web3.to_checksum_address(args["debtAsset"])]
        if debt.debt_token_code is None:  # a debt the wallet cannot have taken: not its books
            raise ValueError(
                f"liquidation repaid a {args['debtAsset']} debt, which the wallet config never borrows"
            )
        seized = args["liquidatedCollateralAmount"] + self._protocol_fee(collateral, log["transactionHash"])
        health = self.pool.functions.getUserAccountData(self.account).call(
            block_identifier=log["blockNumber"] - 1
        )[5]
        block = self.w3.eth.get_block(log["blockNumber"])
        return AaveLiquidated(
            debt.debt_token_code,
            args["debtToCover"] / debt.unit,
            collateral.a_token_code,
            seized / collateral.unit,
            health / WAD,
            block["timestamp"] * NANOS,
        )

    def _protocol_fee(self, reserve: _Reserve, tx_hash: HexBytes) -> int:
        """The collateral aTokens the transaction moved from the account to the treasury."""
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        ours = [log for log in receipt["logs"] if log["address"] == reserve.a_token.address]
        transfer = reserve.a_token.events.Transfer()
        transfers = transfer.process_receipt({**receipt, "logs": ours}, errors=DISCARD)
        return sum(
            t["args"]["value"]
            for t in transfers
            if t["args"]["from"] == self.account and t["args"]["to"] == reserve.treasury
        )
