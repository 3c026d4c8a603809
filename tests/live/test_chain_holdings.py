"""The live chain wallet's pure rules: reading balances into the books' precision, what a wallet
must hold to start, and when the books and the chain disagree (``live/chain_live.py``)."""

from __future__ import annotations

import pytest

from adapters.config import ConfigError
from live.chain_live import check_holdings, holding_differences, whole_tokens


def test_a_holding_is_rounded_down_and_a_debt_up_to_the_books_8_decimals() -> None:
    raw = 1_234_567_891_999_999_999  # 1.234567891999999999 of an 18-decimal token
    assert whole_tokens(raw, 18, debt=False) == 1.23456789
    assert whole_tokens(raw, 18, debt=True) == 1.2345679
    assert whole_tokens(10_000 * 10**6, 6, debt=False) == 10_000.0  # USDT: 6 decimals, exact
    assert whole_tokens(10**18, 18, debt=True) == 1.0  # nothing to round: no cent added


def test_a_wallet_needs_gas_and_something_to_deploy_or_manage() -> None:
    with pytest.raises(ConfigError, match=r"holds 0\.009 ETH: below gas_reserve_min_eth 0\.01"):
        check_holdings({"ETH": 0.009, "USDT": 1_000.0}, "USDT", 0.05, 0.01)
    with pytest.raises(ConfigError, match=r"nothing the mode can use: 0\.05 ETH \(gas_reserve_eth 0\.05"):
        check_holdings({"ETH": 0.05}, "ETH", 0.05, 0.01)  # only the gas reserve
    check_holdings({"ETH": 0.05, "AWEETH": 10.0, "VDWETH": -9.0}, "ETH", 0.05, 0.01)  # a loop to manage
    check_holdings({"ETH": 0.02, "USDT": 1.0}, "USDT", 0.05, 0.01)  # USDT to supply, gas above the minimum


def test_books_and_chain_differ_beyond_the_tolerance_and_a_millionth() -> None:
    books = {"AUSDT": 10_000.0, "ETH": 0.05, "WEETH": 0.0}
    assert holding_differences(books, {"AUSDT": 10_040.0, "ETH": 0.0500001, "WEETH": 5e-7}, 0.01) == []
    assert holding_differences(books, {"AUSDT": 9_000.0, "ETH": 0.05, "WEETH": 2e-6}, 0.01) == [
        "AUSDT: books 10000, chain 9000",
        "WEETH: books 0, chain 2e-06",
    ]
    # only what the chain reports is compared (the books' withdrawal-queue claim is not a token)
    assert holding_differences({**books, "WQETH": 3.0}, books, 0.01) == []
