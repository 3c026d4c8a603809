"""The project's order-list executor (``contracts/LoopExecutor.sol``) from Python.

An atomic ``OrderList`` of the wallet venue (lever, deleverage, unwind) is one call of this
contract. This module deploys it from our Solidity source (compiled by solc-js through
:mod:`localchain.solidity`, never a committed blob), builds each call from amounts in token units
together with the owner's grants it needs, no larger (credit delegation for the borrow, the aToken
allowance for the withdrawal, the WETH allowance for WETH paid in), and turns a receipt into the
amounts the chain actually moved (the contract's events) and the gas it used. Signing, nonces and
the fee policy belong to the sender; here a call is sent with ``transact`` from the owner's account
(an unlocked node account, or one a signing middleware holds).
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
from localchain.tools import AAVE, artifact

WAD = 10**18
"""WETH, the LSTs and Aave's health factor all have 18 decimals."""
PERCENTAGE_FACTOR = 10_000
"""Aave's basis points (its flash-loan premium is ``amount · bps / 10⁴``, rounded half up)."""
EVENTS = ("LoopOpened", "Deleveraged")
UNWIND_ALLOWANCE_MARGIN = 10**-6
"""An unwind withdraws the owner's whole aToken balance as it is when mined, which supply interest
may have raised since the call was built: the allowance covers that much growth (days of it)."""


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
    """An LST the executor can lever: its staking contract (Lido or EtherFi) and the rebasing token it
    mints (one contract for Lido, two for EtherFi), its LST/WETH pool's fee tier, its aToken."""

    lst: str
    staking: str
    rebasing: str
    lido: bool
    pool_fee: int
    """Uniswap v3 fee tier of the LST/WETH pool, in millionths."""
    a_token: str


@dataclass(frozen=True)
class ExecutorCall:
    """One executor transaction, ready to send: the owner's grants first, then the call with its ETH."""

    call: ContractFunction
    value: int = 0
    grants: tuple[ContractFunction, ...] = ()


@dataclass(frozen=True)
class ExecutorResult:
    """What the transaction did, from the executor's event, and what its gas cost."""

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
    """A deployed executor; the Aave and WETH contracts it works with come from its own storage."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(address=address, abi=compile_contracts()["LoopExecutor"].abi)
        read = self.contract.functions
        self.owner = read.owner().call()
        self.weth = self._aave_contract("WETH9", read.weth().call())
        self.weth_debt = self._aave_contract("VariableDebtToken", read.wethDebt().call())
        pool = self._aave_contract("Pool", read.pool().call())
        self.premium_bps = pool.functions.FLASHLOAN_PREMIUM_TOTAL().call()

    @classmethod
    def deploy(cls, w3: Web3, owner: str, pool: str, weth: str, weth_debt: str, router: str) -> LoopExecutor:
        """Deploy from our compiled source; ``owner`` (the deployer) is the only account that may call it."""
        compiled = compile_contracts()["LoopExecutor"]
        factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        tx = factory.constructor(pool, weth, weth_debt, router).transact({"from": owner})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise LoopExecutorReverted(receipt)
        return cls(w3, receipt["contractAddress"])

    def _aave_contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=address, abi=artifact(AAVE, name)["abi"])

    def premium(self, flash: int) -> int:
        """Aave's flash-loan premium on ``flash`` wei (``percentMul``: half up)."""
        return (flash * self.premium_bps + PERCENTAGE_FACTOR // 2) // PERCENTAGE_FACTOR

    # -- calls -------------------------------------------------------------------------------

    def set_route(self, route: Route) -> ExecutorCall:
        call = self.contract.functions.setRoute(
            route.lst, route.staking, route.rebasing, route.lido, route.pool_fee, route.a_token
        )
        return ExecutorCall(call)

    def open_loop(
        self, lst: str, flash_eth: float, own_eth: float, min_health_factor: float, own_weth: float = 0.0
    ) -> ExecutorCall:
        """Lever: stake ``own_eth`` (sent along) and ``own_weth`` (pulled) plus ``flash_eth`` flash-borrowed,
        supply it and borrow the flash loan and its premium, as the owner."""
        flash, weth_in = to_wad(flash_eth), to_wad(own_weth)
        grants = [
            self.weth_debt.functions.approveDelegation(self.contract.address, flash + self.premium(flash))
        ]
        if weth_in:
            grants.append(self.weth.functions.approve(self.contract.address, weth_in))
        call = self.contract.functions.openLoop(lst, flash, weth_in, to_wad(min_health_factor))
        return ExecutorCall(call, to_wad(own_eth), tuple(grants))

    def deleverage(
        self, lst: str, repay_eth: float, withdraw_lst: float, min_eth_out: float, min_health_factor: float
    ) -> ExecutorCall:
        """Repay ``repay_eth`` of debt, withdraw ``withdraw_lst`` and sell it for at least ``min_eth_out``."""
        withdraw = to_wad(withdraw_lst)
        call = self.contract.functions.deleverage(
            lst, to_wad(repay_eth), withdraw, to_wad(min_eth_out), to_wad(min_health_factor)
        )
        return ExecutorCall(call, grants=(self._collateral_grant(lst, withdraw),))

    def unwind(self, lst: str, min_eth_out: float) -> ExecutorCall:
        """Repay all the owner's WETH debt, sell all its ``lst`` collateral for ``min_eth_out`` or more."""
        call = self.contract.functions.unwind(lst, to_wad(min_eth_out))
        return ExecutorCall(call, grants=(self._collateral_grant(lst, None),))

    def _collateral_grant(self, lst: str, amount: int | None) -> ContractFunction:
        """The owner's aToken allowance to the executor for ``amount`` (None: all it holds, and its
        interest until mined)."""
        a_token = self._aave_contract("AToken", self.contract.functions.routes(lst).call()[4])
        if amount is None:
            held = a_token.functions.balanceOf(self.owner).call()
            amount = held + int(held * UNWIND_ALLOWANCE_MARGIN)
        return a_token.functions.approve(self.contract.address, amount)

    # -- sending and reading the receipt -----------------------------------------------------

    def send(self, call: ExecutorCall, gas: int | None = None) -> ExecutorResult | None:
        """Send ``call`` from the owner (its grants are the caller's to send first); ``gas`` skips the
        estimate, which would refuse a reverting call.

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
        """The executor's event in ``receipt`` (amounts in wei), with the gas the transaction used."""
        for name in EVENTS:
            logs = getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD)
            if logs:
                raw = {k: v for k, v in logs[0]["args"].items() if isinstance(v, int)}
                return ExecutorResult(name, raw, receipt["gasUsed"], gas_cost(receipt))
        return None
