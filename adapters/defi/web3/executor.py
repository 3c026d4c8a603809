"""The project's order-list executor (``contracts/LoopExecutor.sol``) from Python.

An atomic ``OrderList`` of the wallet venue (lever, deleverage, unwind) is one call of this
contract. This module deploys it from our Solidity source (compiled by solc-js through
:mod:`localchain.solidity`, never a committed blob), builds each call from amounts in token units,
sizes the owner's grants to what the call needs (credit delegation for the borrow, the aToken
allowance for the withdrawal) and turns a receipt into the amounts the chain actually moved (the
contract's events) and the gas it used. Signing, nonces and fee policy belong to the sender; here a
call is sent with ``transact`` from the owner's account (an unlocked node account, or one a signing
middleware holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from localchain.solidity import compile_contracts

WAD = 10**18
"""WETH, the LSTs and Aave's health factor all have 18 decimals."""
PERCENTAGE_FACTOR = 10_000
"""Aave's basis points (its flash-loan premium is ``amount · bps / 10⁴``, rounded half up)."""
EVENTS = ("LoopOpened", "Deleveraged")


def to_wad(amount: float) -> int:
    """Token units (ETH, an LST, a health factor) → 18-decimal integer, exact for the decimal given."""
    return int(Decimal(repr(amount)) * WAD)


def from_wad(raw: int) -> float:
    return raw / WAD


def gas_cost(receipt: TxReceipt) -> int:
    """Wei a mined transaction cost its sender, reverted or not."""
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


@dataclass(frozen=True)
class Route:
    """An LST the executor can lever: its staking contract (Lido or EtherFi), pool fee tier, aToken."""

    lst: str
    staking: str
    lido: bool
    pool_fee: int
    """Uniswap v3 fee tier of the LST/WETH pool, in millionths."""
    a_token: str


@dataclass(frozen=True)
class ExecutorCall:
    """One executor transaction, ready to send: the call, the ETH it carries, what the owner must grant."""

    call: ContractFunction
    value: int = 0
    borrow: int = 0
    """WETH the executor borrows as the owner: the credit delegation the call needs."""
    collateral: int = 0
    """aToken the executor moves from the owner to withdraw: the allowance the call needs."""


@dataclass(frozen=True)
class ExecutorResult:
    """What the transaction did, in token units, from the executor's event, and its gas."""

    operation: str
    raw: dict[str, int]
    """The event's amounts in wei (all 18-decimal tokens)."""
    gas_used: int
    gas_cost: int
    """Wei the sender paid: gas used × effective gas price."""

    @property
    def amounts(self) -> dict[str, float]:
        return {name: from_wad(value) for name, value in self.raw.items()}


class LoopExecutorReverted(Exception):
    """The transaction was mined and reverted: nothing changed but the gas the sender paid."""

    def __init__(self, receipt: TxReceipt) -> None:
        super().__init__(f"executor transaction {receipt['transactionHash'].hex()} reverted")
        self.gas_used = receipt["gasUsed"]
        self.gas_cost = gas_cost(receipt)


class LoopExecutor:
    """A deployed executor and its owner's Aave grants (see the contract's header for why each)."""

    def __init__(self, w3: Web3, address: str, pool: Contract, weth_debt: Contract) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(address=address, abi=compile_contracts()["LoopExecutor"].abi)
        self.owner = self.contract.functions.owner().call()
        self.pool = pool
        self.weth_debt = weth_debt
        self.premium_bps = pool.functions.FLASHLOAN_PREMIUM_TOTAL().call()

    @classmethod
    def deploy(
        cls, w3: Web3, owner: str, pool: Contract, weth: str, weth_debt: Contract, router: str
    ) -> LoopExecutor:
        """Deploy from our compiled source; ``owner`` (the deployer) is the only account that may call it."""
        compiled = compile_contracts()["LoopExecutor"]
        factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        tx = factory.constructor(pool.address, weth, weth_debt.address, router).transact({"from": owner})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise LoopExecutorReverted(receipt)
        return cls(w3, receipt["contractAddress"], pool, weth_debt)

    def premium(self, flash: int) -> int:
        """Aave's flash-loan premium on ``flash`` wei (``percentMul``: half up)."""
        return (flash * self.premium_bps + PERCENTAGE_FACTOR // 2) // PERCENTAGE_FACTOR

    # -- calls -------------------------------------------------------------------------------

    def set_route(self, route: Route) -> ExecutorCall:
        return ExecutorCall(
            self.contract.functions.setRoute(
                route.lst, route.staking, route.lido, route.pool_fee, route.a_token
            )
        )

    def open_loop(self, lst: str, flash_eth: float, own_eth: float, min_health_factor: float) -> ExecutorCall:
        """Lever: stake ``own_eth`` (sent as ETH) plus ``flash_eth`` flash-borrowed, supply it, borrow
        the flash loan and its premium."""
        flash = to_wad(flash_eth)
        call = self.contract.functions.openLoop(lst, flash, 0, to_wad(min_health_factor))
        return ExecutorCall(call, value=to_wad(own_eth), borrow=flash + self.premium(flash))

    def deleverage(
        self, lst: str, repay_eth: float, withdraw_lst: float, min_eth_out: float, min_health_factor: float
    ) -> ExecutorCall:
        """Repay ``repay_eth`` of debt, withdraw ``withdraw_lst`` and sell it for at least ``min_eth_out``."""
        withdraw = to_wad(withdraw_lst)
        call = self.contract.functions.deleverage(
            lst, to_wad(repay_eth), withdraw, to_wad(min_eth_out), to_wad(min_health_factor)
        )
        return ExecutorCall(call, collateral=withdraw)

    def unwind(self, lst: str, a_token: Contract, min_eth_out: float) -> ExecutorCall:
        """Repay all the owner's WETH debt and sell all its ``lst`` collateral."""
        collateral = a_token.functions.balanceOf(self.owner).call()
        return ExecutorCall(self.contract.functions.unwind(lst, to_wad(min_eth_out)), collateral=collateral)

    def grants(self, call: ExecutorCall, a_token: Contract | None = None) -> list[ContractFunction]:
        """The owner's grants ``call`` needs, no larger: credit delegation, aToken allowance."""
        grants = []
        if call.borrow:
            grants.append(self.weth_debt.functions.approveDelegation(self.contract.address, call.borrow))
        if call.collateral:
            if a_token is None:
                raise ValueError("a withdrawing call needs the LST's aToken to approve")
            grants.append(a_token.functions.approve(self.contract.address, call.collateral))
        return grants

    # -- sending and reading the receipt -----------------------------------------------------

    def send(self, call: ExecutorCall, gas: int | None = None) -> ExecutorResult | None:
        """Send ``call`` from the owner; ``gas`` skips the estimate (which would refuse a reverting call).

        Returns the decoded result, or None for a call without an event (``setRoute``); raises
        :class:`LoopExecutorReverted` when the mined transaction reverted.
        """
        tx: dict[str, Any] = {"from": self.owner, "value": call.value}
        if gas is not None:
            tx["gas"] = gas
        receipt = self.w3.eth.wait_for_transaction_receipt(call.call.transact(tx))
        if receipt["status"] != 1:
            raise LoopExecutorReverted(receipt)
        return self.decode(receipt)

    def decode(self, receipt: TxReceipt) -> ExecutorResult | None:
        """The executor's event in ``receipt`` as token amounts, with the gas the transaction used."""
        for name in EVENTS:
            logs = getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD)
            if logs:
                raw = {k: v for k, v in logs[0]["args"].items() if isinstance(v, int)}
                return ExecutorResult(name, raw, receipt["gasUsed"], gas_cost(receipt))
        return None
