"""Deploy contracts on the local chain: npm packages' artifacts (with linked libraries) and ours."""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.contract import Contract

from localchain.solidity import compile_contracts
from localchain.tools import artifact

RECEIPT_POLL_SECONDS = 0.005
"""anvil mines a transaction within milliseconds; web3's default poll (0.1 s) would dominate."""


class Deployer:
    """Sends the admin's transactions (anvil's unlocked first account) and links library addresses."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.libraries: dict[str, str] = {}

    def send(self, call: Any, value: int = 0, params: dict[str, Any] | None = None) -> Any:
        """Send ``call`` and wait for its receipt; ``params`` fixes transaction fields web3 would
        otherwise ask the node for (gas, fees, chain id: a replay sends thousands)."""
        tx = call.transact({"value": value, **(params or {})})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx, poll_latency=RECEIPT_POLL_SECONDS)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {call.fn_name}")
        return receipt

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any) -> Contract:
        receipt = self.send(self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=abi)

    def deploy_artifact(self, package: str, name: str, *args: Any) -> Contract:
        """Deploy a contract from an npm package's artifacts, linking its libraries first."""
        compiled = artifact(package, name)
        return self.deploy(compiled["abi"], self._linked(package, compiled), *args)

    def _linked(self, package: str, compiled: dict[str, Any]) -> str:
        """The bytecode with each logic library's placeholder replaced by its deployed address."""
        code = compiled["bytecode"][2:]
        for references in compiled["linkReferences"].values():
            for library, spots in references.items():
                if library not in self.libraries:
                    self.libraries[library] = self.deploy_artifact(package, library).address
                address = self.libraries[library][2:].lower()
                for spot in spots:
                    start = 2 * spot["start"]
                    code = code[:start] + address + code[start + 2 * spot["length"] :]
        return "0x" + code

    def deploy_ours(self, name: str, *args: Any) -> Contract:
        """Deploy a contract of ``localchain/contracts`` (compiled once per process)."""
        compiled = compile_contracts()[name]
        return self.deploy(compiled.abi, compiled.bytecode, *args)

    def at(self, package: str, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=address, abi=artifact(package, name)["abi"])
