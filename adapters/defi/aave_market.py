"""The simulated chain's Aave v3 state: reserve indices, risk parameters and the wallet's position.

The wallet's aToken and debt-token balances live in its Nautilus account, as ``balanceOf`` would
return them; this model keeps what makes them move — the reserve indices fed by daily snapshots —
and turns an interval of index growth into the balance change to book (``accrue``). It also
values the position for health-factor, LTV and cap checks and sizes liquidations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.cex.margin import last_price
from adapters.defi.aave import (
    borrowing_power,
    check_borrow_cap,
    check_supply_cap,
    health_factor,
    loan_to_value,
)
from adapters.defi.aave_index import ReserveIndex
from adapters.defi.aave_params import EModeParams, ReserveParams
from adapters.defi.config import AaveReserveSpec, AaveSpec, WalletVenueConfig
from adapters.defi.data import AaveReserveParams, AaveReserveSnapshot
from adapters.defi.instruments import wallet_instrument_id


@dataclass
class _Reserve:
    spec: AaveReserveSpec
    params: ReserveParams
    index: ReserveIndex
    accrued_ns: int = 0
    liquidity_index: float = 0.0
    borrow_index: float = 0.0
    total_a_token: float = 0.0
    total_debt: float = 0.0


@dataclass(frozen=True)
class Position:
    """The wallet's Aave position in underlying token amounts, keyed by reserve symbol."""

    collateral: dict[str, float] = field(default_factory=dict)
    debt: dict[str, float] = field(default_factory=dict)


class AaveMarket:
    """Indices, parameters and position arithmetic of the configured Aave reserves."""

    def __init__(self, spec: AaveSpec, params: dict[str, Any]) -> None:
        reserve_params = {k: ReserveParams(**v) for k, v in params["reserves"].items()}
        self.emode = EModeParams.from_dict(params["emode"])
        self._reserves = {
            r.asset: _Reserve(r, reserve_params[r.asset], ReserveIndex(r.asset)) for r in spec.reserves
        }
        self.params = reserve_params
        self._by_token = {}
        for reserve in self._reserves.values():
            self._by_token[reserve.spec.a_token] = reserve
            if reserve.spec.debt_token:
                self._by_token[reserve.spec.debt_token] = reserve

    # -- indices -----------------------------------------------------------------------------

    def on_snapshot(self, snapshot: AaveReserveSnapshot) -> None:
        reserve = self._reserves.get(snapshot.reserve)
        if reserve is None:
            return
        reserve.index.update(
            snapshot.ts_event,
            snapshot.liquidity_index,
            snapshot.variable_borrow_index,
            snapshot.liquidity_rate,
            snapshot.variable_borrow_rate,
        )
        reserve.total_a_token, reserve.total_debt = snapshot.total_a_token, snapshot.total_variable_debt

    def on_reserve_params(self, update: AaveReserveParams) -> None:
        """A reserve's risk parameters as the chain now has them (live; a backtest's are fixed)."""
        reserve = self._reserves.get(update.reserve)
        if reserve is not None:
            reserve.params = self.params[update.reserve] = update.params()

    def ready(self, asset: str) -> bool:
        return self._reserves[asset].index.last_ts_ns is not None

    def accrue(self, ts_ns: int, balances: dict[str, float]) -> dict[str, float]:
        """Balance changes of aToken/debt currencies from index growth since the last accrual.

        ``balance × (index_now / index_then − 1)``: Aave balances are scaled balances × index, so
        this is exactly the change ``balanceOf`` would show. Debt balances are negative and grow
        more negative.
        """
        changes: dict[str, float] = {}
        for reserve in self._reserves.values():
            if reserve.index.last_ts_ns is None or ts_ns < reserve.index.last_ts_ns:
                continue
            liquidity, borrow = reserve.index.liquidity_index(ts_ns), reserve.index.borrow_index(ts_ns)
            if reserve.accrued_ns:
                held = balances.get(reserve.spec.a_token, 0.0)
                if held:
                    changes[reserve.spec.a_token] = held * (liquidity / reserve.liquidity_index - 1.0)
                debt_token = reserve.spec.debt_token
                owed = balances.get(debt_token, 0.0) if debt_token else 0.0
                if debt_token and owed:
                    changes[debt_token] = owed * (borrow / reserve.borrow_index - 1.0)
            reserve.accrued_ns, reserve.liquidity_index, reserve.borrow_index = ts_ns, liquidity, borrow
        return changes

    # -- position ----------------------------------------------------------------------------

    def reserve_of(self, token: str) -> AaveReserveSpec | None:
        reserve = self._by_token.get(token)
        return reserve.spec if reserve is not None else None

    def token_of(self, asset: str, *, debt: bool) -> str:
        """The wallet currency of ``asset``'s aToken (or debt token)."""
        spec = self._reserves[asset].spec
        token = spec.debt_token if debt else spec.a_token
        if token is None:
            raise ValueError(f"reserve {asset} has no debt token configured")
        return token

    def position(self, balances: dict[str, float]) -> Position:
        collateral, debt = {}, {}
        for reserve in self._reserves.values():
            supplied = balances.get(reserve.spec.a_token, 0.0)
            if supplied > 0:
                collateral[reserve.spec.asset] = supplied
            if reserve.spec.debt_token and (owed := -balances.get(reserve.spec.debt_token, 0.0)) > 0:
                debt[reserve.spec.asset] = owed
        return Position(collateral, debt)

    def emode_for(self, position: Position) -> EModeParams | None:
        """E-mode applies when every asset of the position is in its category (the modes enable it)."""
        assets = set(position.collateral) | set(position.debt)
        return self.emode if assets and assets <= set(self.emode.assets) else None

    def health_factor(self, position: Position, prices: dict[str, float]) -> float:
        return health_factor(
            position.collateral, position.debt, prices, self.params, self.emode_for(position)
        )

    def loan_to_value(self, position: Position, prices: dict[str, float]) -> float:
        return loan_to_value(
            position.collateral, position.debt, prices, self.params, self.emode_for(position)
        )

    def borrowing_power(self, position: Position, prices: dict[str, float]) -> float:
        return borrowing_power(
            position.collateral, position.debt, prices, self.params, self.emode_for(position)
        )

    def liquidation_bonus(self, position: Position, collateral_asset: str) -> float:
        """The bonus a liquidator earns seizing ``collateral_asset`` (e-mode's inside the category)."""
        emode = self.emode_for(position)
        if emode is not None:
            return emode.liquidation_bonus
        return self.params[collateral_asset].liquidation_bonus

    def cap_check(self, token: str, held: float, amount: float) -> str | None:
        """Would supplying (aToken) or borrowing (debt token) ``amount`` more break a cap?

        The reserve totals are real history, which never contained this wallet: its own position
        (``held``, the balance before the transaction) is added to them.
        """
        reserve = self._by_token[token]
        if token == reserve.spec.a_token:
            return check_supply_cap(reserve.params, reserve.total_a_token + abs(held) + amount)
        return check_borrow_cap(reserve.params, reserve.total_debt + abs(held) + amount)


def oracle_prices(config: WalletVenueConfig, cache) -> dict[str, float]:
    """Reserve prices in ETH as Aave's oracles see them: LSTs at their rate, USDT via the pool.

    Reserves without a price in this run are left out (a position holding one fails loudly).
    """
    prices = {"WETH": 1.0}
    for lst in config.staking:
        rate = last_price(cache, wallet_instrument_id(config, lst.mint_symbol))
        if rate is not None:
            prices[lst.asset] = rate
    eth_usd = last_price(cache, wallet_instrument_id(config, config.eth_usd_pool))
    if eth_usd:
        prices["USDT"] = 1.0 / eth_usd
    return prices


def risk_figures(
    market: AaveMarket | None, balances: dict[str, float], prices: dict[str, float]
) -> dict[str, float]:
    """The Aave position's health factor and LTV (NaN without debt), for the hourly NAV rows."""
    nan = float("nan")
    if market is None:
        return {"aave_health_factor": nan, "aave_ltv": nan}
    position = market.position(balances)
    if not position.debt:
        return {"aave_health_factor": nan, "aave_ltv": 0.0}
    return {
        "aave_health_factor": market.health_factor(position, prices),
        "aave_ltv": market.loan_to_value(position, prices),
    }
