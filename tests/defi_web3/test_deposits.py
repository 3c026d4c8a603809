"""The transfer service's on-chain leg: USDT (no return value from ``transfer``) to a CEX deposit
address on the exchange's allow-list of ``configs/transfers.yaml``, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from adapters.defi.backend import ExecutionRejected
from adapters.defi.web3.backend import Web3Backend
from adapters.defi.web3.limits import SendLimits
from adapters.defi.web3.transfers import DepositSender
from live.transfers.config import load_transfers_config
from localchain.aave import LocalAave
from tests.defi_web3.test_safety import nonce
from tests.localchain.helpers import ETHER, price, send, units

EXCHANGE = "BINANCE"


@pytest.fixture
def deposit_address() -> str:
    return Account.create().address


def deposits(backend: Web3Backend, allowed: str) -> DepositSender:
    """Binance's transfer config with ``allowed`` (lower case: listing compares either case) as its
    only USDT address on the network the config names for USDT."""
    binance = load_transfers_config().exchanges[EXCHANGE]
    allow_list = {"USDT": {binance.network("USDT"): (allowed.lower(),)}}
    return DepositSender(backend, {EXCHANGE: msgspec.structs.replace(binance, allow_list=allow_list)})


def usdt_of(aave: LocalAave, address: str) -> int:
    return aave.tokens["USDT"].functions.balanceOf(address).call()


@pytest.fixture
def funded(aave: LocalAave, wallet: LocalAccount) -> int:
    """The wallet's USDT: 10,000, minted by the token's owner."""
    raw = units(aave, "USDT", 10_000)
    send(aave, aave.tokens["USDT"].functions.mint(wallet.address, raw), aave.admin)
    return raw


def test_a_deposit_reaches_the_allow_listed_address_exactly(
    aave: LocalAave, backend: Web3Backend, wallet: LocalAccount, deposit_address: str, funded: int
) -> None:
    amount, eth = Decimal("1234.567891"), aave.w3.eth.get_balance(wallet.address)
    sent = deposits(backend, deposit_address).deposit(EXCHANGE, "USDT", amount, deposit_address)
    raw = units(aave, "USDT", float(amount))
    assert usdt_of(aave, deposit_address) == raw and usdt_of(aave, wallet.address) == funded - raw
    assert sent.amount == float(amount)
    assert sent.gas_eth > 0 and aave.w3.eth.get_balance(wallet.address) == eth - round(sent.gas_eth * ETHER)
    receipt = aave.w3.eth.get_transaction_receipt(sent.tx_hash)
    assert receipt["from"] == wallet.address and receipt["to"] == aave.tokens["USDT"].address


def test_a_deposit_to_any_other_address_is_refused_unsent(
    aave: LocalAave, backend: Web3Backend, wallet: LocalAccount, deposit_address: str, funded: int
) -> None:
    other = Account.create().address
    with pytest.raises(
        ExecutionRejected, match=f"ALLOW_LIST: {other} is not on BINANCE's allow-list for USDT"
    ):
        deposits(backend, deposit_address).deposit(EXCHANGE, "USDT", Decimal(100), other)
    with pytest.raises(ExecutionRejected, match="ALLOW_LIST"):  # the shipped config lists nothing
        DepositSender(backend, load_transfers_config().exchanges).deposit(
            EXCHANGE, "USDT", Decimal(100), deposit_address
        )
    with pytest.raises(ExecutionRejected, match="DEPOSIT: ETH is not an ERC-20 of the wallet"):
        deposits(backend, deposit_address).deposit(EXCHANGE, "ETH", Decimal(1), deposit_address)
    assert (usdt_of(aave, other), usdt_of(aave, wallet.address), nonce(aave, wallet)) == (0, funded, 0)


def test_a_deposit_above_the_value_cap_is_refused_unsent(
    aave: LocalAave,
    make_backend: Callable[..., Web3Backend],
    wallet: LocalAccount,
    deposit_address: str,
    funded: int,
) -> None:
    cap = 5_000 * price(aave, "USDT")  # 5,000 USDT at the oracle's price
    backend = make_backend(limits=SendLimits(max_tx_value_usd=cap))
    with pytest.raises(ExecutionRejected, match="TX_VALUE: USDT deposit to BINANCE moves 6,0"):
        deposits(backend, deposit_address).deposit(EXCHANGE, "USDT", Decimal(6_000), deposit_address)
    assert (usdt_of(aave, deposit_address), nonce(aave, wallet)) == (0, 0)
