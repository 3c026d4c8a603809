"""DEX swap execution with size-dependent price impact: constant product on virtual reserves.

The data set has DEX *prices* (Uniswap v3 pools for EIGEN, ETHFI, WETH; Curve for weETH) but no
liquidity, so how deep a pool is cannot be read from the data: ``depth`` is a configured
parameter, the total value (in quote units) of an equivalent full-range constant-product pool.
A pool at mark price ``P`` (quote per base) with depth ``D`` has virtual reserves
``x = D / (2P)`` base and ``y = D / 2`` quote, and a swap keeps ``x · y`` constant. Each quote
starts from the mark, i.e. the pool is assumed re-arbitraged to the market price between trades.

The fee is taken from the input before it reaches the curve, as Uniswap and Curve do. So a tiny
buy costs ``P / (1 − fee)`` ≈ ``P · (1 + fee)`` per base and a tiny sell returns ``P · (1 − fee)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SwapQuote:
    """The result of one swap.

    ``avg_price`` is quote per base paid or received, fee included. ``fee_paid`` is in the input
    token. ``impact`` is how far the fee-free execution price sits from the mark, as a fraction
    (≥ 0, against the trader); its cost in quote is ``impact × mark × base``, where base is the
    base received by a buy or the base sold net of fee by a sell.
    """

    amount_in: float
    amount_out: float
    avg_price: float
    fee_paid: float
    impact: float


def virtual_reserves(price: float, depth: float) -> tuple[float, float]:
    """(base, quote) reserves of a constant-product pool worth ``depth`` quote at mark ``price``."""
    _require_positive("price", price)
    _require_positive("depth", depth)
    return depth / (2 * price), depth / 2


def quote_for_base(base_out: float, price: float, depth: float, fee: float) -> SwapQuote:
    """Buy exactly ``base_out`` base: the quote it costs (``amount_in``), fee included."""
    base, quote = virtual_reserves(price, depth)
    _require_tradable("base_out", base_out, "base", base)
    net_in = quote * base_out / (base - base_out)
    return _buy(net_in / (1 - _checked_fee(fee)), net_in, base_out, impact=base_out / (base - base_out))


def base_for_quote(quote_in: float, price: float, depth: float, fee: float) -> SwapQuote:
    """Spend exactly ``quote_in`` quote: the base it buys (``amount_out``)."""
    base, quote = virtual_reserves(price, depth)
    _require_tradable("quote_in", quote_in, "quote", quote)
    net_in = quote_in * (1 - _checked_fee(fee))
    return _buy(quote_in, net_in, base * net_in / (quote + net_in), impact=net_in / quote)


def sell_base(base_in: float, price: float, depth: float, fee: float) -> SwapQuote:
    """Sell exactly ``base_in`` base: the quote received (``amount_out``)."""
    base, quote = virtual_reserves(price, depth)
    _require_tradable("base_in", base_in, "base", base)
    net_in = base_in * (1 - _checked_fee(fee))
    quote_out = quote * net_in / (base + net_in)
    return SwapQuote(
        amount_in=base_in,
        amount_out=quote_out,
        avg_price=quote_out / base_in,
        fee_paid=base_in - net_in,
        impact=net_in / (base + net_in),
    )


def _buy(quote_in: float, net_in: float, base_out: float, impact: float) -> SwapQuote:
    """A quote → base swap, from the gross and net-of-fee quote input and the base received."""
    return SwapQuote(
        amount_in=quote_in,
        amount_out=base_out,
        avg_price=quote_in / base_out,
        fee_paid=quote_in - net_in,
        impact=impact,
    )


def _require_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def _require_tradable(name: str, qty: float, token: str, reserve: float) -> None:
    """Trades must be positive and smaller than the pool's virtual reserve of the traded token.

    Buying the whole reserve is impossible; selling that much moves the price by more than 75%,
    far outside what a constant-product stand-in for a real pool can describe.
    """
    _require_positive(name, qty)
    if qty >= reserve:
        raise ValueError(
            f"{name}={qty} is not below the pool's virtual {token} reserve {reserve}; "
            "raise the configured depth or split the trade"
        )


def _checked_fee(fee: float) -> float:
    if not 0 <= fee < 1:
        raise ValueError(f"fee must be a fraction in [0, 1), got {fee}")
    return fee
