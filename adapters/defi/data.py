"""Chain data as custom Nautilus data: gas price, Aave reserve snapshots and e-mode parameters,
reward payouts.

The DeFi adapter's own data types, published beside bars and funding rates (read from the
catalog in a backtest, from the chain live).

This module must not use ``from __future__ import annotations``: ``customdataclass`` reads the
real annotation types to build the Arrow schema.
"""

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.identifiers import InstrumentId

from adapters.defi.aave_params import EModeParams, ReserveParams


@customdataclass
class GasPrice(Data):
    """Ethereum gas price sampled at ``ts_event`` (gwei); on-chain actions pay units × gwei × 1e-9 ETH."""

    gwei: float = 0.0
    base_fee_gwei: float = 0.0
    priority_fee_gwei: float = 0.0


@customdataclass
class AaveReserveSnapshot(Data):
    """A daily Aave v3 reserve snapshot: indices (normalised ≈1.0), current APRs and totals.

    Between snapshots the indices accrue at these rates (``adapters.defi.aave.ReserveIndex``);
    a later snapshot replaces the accrual, so nothing looks ahead.
    """

    instrument_id: InstrumentId = InstrumentId.from_str("AUSDT-AAVE.ETHEREUM")
    """The reserve's aToken instrument on the wallet venue (one catalog series per reserve)."""
    reserve: str = ""
    liquidity_index: float = 1.0
    variable_borrow_index: float = 1.0
    liquidity_rate: float = 0.0
    variable_borrow_rate: float = 0.0
    total_a_token: float = 0.0
    total_variable_debt: float = 0.0


@customdataclass
class AaveEModeParams(Data):
    """An Aave v3 e-mode category's risk parameters, in force from ``ts_event``.

    Strategies take their leverage from this rather than from set-up code, so a backtest, a paper
    replay and a live node hand it over the same way: the run's data stream opens with it (from the
    catalog's ``aave_params.json``; live, from the chain). The assets are one comma-separated
    string because custom data fields are scalars.
    """

    category: str = ""
    ltv: float = 0.0
    liquidation_threshold: float = 0.0
    liquidation_bonus: float = 0.0
    assets: str = ""

    @classmethod
    def of(cls, params: EModeParams, category: str, ts: int) -> "AaveEModeParams":
        return cls(
            ts_event=ts,
            ts_init=ts,
            category=category,
            ltv=params.ltv,
            liquidation_threshold=params.liquidation_threshold,
            liquidation_bonus=params.liquidation_bonus,
            assets=",".join(params.assets),
        )

    def params(self) -> EModeParams:
        """The checked parameters (``ValueError`` when the chain reports an impossible set)."""
        return EModeParams(
            self.ltv, self.liquidation_threshold, self.liquidation_bonus, tuple(self.assets.split(","))
        )


@customdataclass
class AaveReserveParams(Data):
    """An Aave v3 reserve's risk configuration, in force from ``ts_event`` (fractions; caps in
    whole tokens, 0 = no cap, as on-chain).

    A backtest takes these from the catalog's ``aave_params.json`` (a snapshot); live they come
    from the chain's reserve configuration, so a governance change of a cap or an LTV reaches the
    wallet venue's checks (``AaveMarket.on_reserve_params``).
    """

    reserve: str = ""
    ltv: float = 0.0
    liquidation_threshold: float = 0.0
    liquidation_bonus: float = 0.0
    reserve_factor: float = 0.0
    supply_cap: float = 0.0
    borrow_cap: float = 0.0
    borrowing_enabled: bool = False
    collateral_enabled: bool = False
    flashloan_enabled: bool = False

    def params(self) -> ReserveParams:
        """The checked parameters (``ValueError`` when the chain reports an impossible set)."""
        return ReserveParams(
            symbol=self.reserve,
            ltv=self.ltv,
            liquidation_threshold=self.liquidation_threshold,
            liquidation_bonus=self.liquidation_bonus,
            reserve_factor=self.reserve_factor,
            supply_cap=self.supply_cap or None,
            borrow_cap=self.borrow_cap or None,
            borrowing_enabled=self.borrowing_enabled,
            collateral_enabled=self.collateral_enabled,
            flashloan_enabled=self.flashloan_enabled,
        )


@customdataclass
class RewardDistribution(Data):
    """An EtherFi reward payout, stamped at its payout time: ``per_eeth`` tokens for each eETH
    held (time-weighted) over [period_start_ns, period_end_ns). Ranges use their midpoint and
    are flagged ``estimated``."""

    token: str = ""
    program: str = ""
    period_start_ns: int = 0
    period_end_ns: int = 0
    per_eeth: float = 0.0
    per_eeth_low: float = 0.0
    per_eeth_high: float = 0.0
    estimated: bool = False


@customdataclass
class AaveAccountHealth(Data):
    """The wallet's Aave v3 account as the chain reports it (``Pool.getUserAccountData``), live only.

    A backtest computes these figures from its own model (``adapters.defi.aave_market``); live, the
    chain's own numbers are published beside them so a divergence (a liquidation, a missed accrual)
    shows. Values are in Aave's base currency (USD on Ethereum mainnet); ``ltv`` is debt /
    collateral now, ``max_ltv`` the borrowing limit; ``health_factor`` is inf without debt.
    """

    collateral_usd: float = 0.0
    debt_usd: float = 0.0
    ltv: float = 0.0
    max_ltv: float = 0.0
    liquidation_threshold: float = 0.0
    health_factor: float = 0.0
