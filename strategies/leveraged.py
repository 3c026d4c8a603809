"""ETH leveraged staking: an LST supplied to Aave v3 (e-mode) against a WETH borrow, via flash loans.

With equity E (ETH) and target LTV λ the book holds S = E/(1−λ) of LST value and owes
D = E·λ/(1−λ) WETH (DOMAIN.md, leverage arithmetic). Each change is one atomic transaction (an
``OrderList`` the wallet's execution client runs all-or-nothing, its ETH shortfall flash-loaned):

- lever (entry, deposits, re-lever): mint LST with the free ETH plus the new debt → supply it →
  borrow the new debt (plus the flash-loan fee);
- deleverage / unwind: repay debt with flash-loaned ETH → withdraw LST → sell it on its DEX pool
  → the proceeds repay the flash loan.

Bands (all config values): deleverage when HF < ``deleverage_health_factor`` or LTV > λ + band,
re-lever when LTV < λ − band. HF and LTV are computed from the wallet's own balances and the LST
protocol rate (Aave's e-mode oracle), as a live deployment would.

λ and the liquidation threshold come from the protocol's e-mode parameters, received as data
(:class:`~adapters.defi.data.AaveEModeParams`, the first point of a run's stream; live, from the
chain): until they arrive the strategy does not act, and parameters under which the config cannot
work stop it.
"""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.data import DataType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.defi.aave import leverage_targets, target_ltv, validate_thresholds
from adapters.defi.aave_params import EModeParams
from adapters.defi.config import load_wallet_venue
from adapters.defi.data import AaveEModeParams
from strategies.defi import DefiStrategy, StakingModeConfig
from strategies.needs import DataNeeds
from strategies.plan import Decision, Phase


class LeveragedStakingConfig(StakingModeConfig, frozen=True):
    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("ETH",)

    max_stake_spread_move: float = 0.0225
    """Largest LST/ETH oracle drop the position must absorb while staying borrowable (fraction)."""
    target_ltv: float | None = None
    """λ, debt / collateral value the loop opens at; None: the real e-mode LTV × (1 −
    ``max_stake_spread_move``) = 0.93 × 0.9775 ≈ 0.909 (DOMAIN.md decision)."""
    deleverage_health_factor: float = 1.02
    """Deleverage back to λ when the health factor falls below this."""
    deleverage_ltv_band: float = 0.01
    """Deleverage back to λ when LTV rises above λ + this."""
    relever_ltv_band: float = 0.02
    """Re-lever to λ when LTV falls below λ − this."""
    flash_loan_provider: str = "BALANCER"
    """Flash-loan provider (fees in ``configs/venues/ethereum.yaml``: BALANCER 0, MORPHO 0, AAVE 5 bps)."""
    exit_slippage_buffer: float = 0.003
    """Sell this fraction more LST than an unwind's fee-adjusted need, for price impact."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target_ltv is not None and not 0 < self.target_ltv < 1:
            raise ValueError(f"target_ltv must be in (0, 1), got {self.target_ltv}")
        if not 0 <= self.max_stake_spread_move < 0.5:
            raise ValueError(f"max_stake_spread_move must be in [0, 0.5), got {self.max_stake_spread_move}")
        if not 0 < self.relever_ltv_band < 0.5:
            raise ValueError(f"relever_ltv_band must be in (0, 0.5), got {self.relever_ltv_band}")
        if not 0 < self.deleverage_ltv_band < 0.5:
            raise ValueError(f"deleverage_ltv_band must be in (0, 0.5), got {self.deleverage_ltv_band}")
        if not 0 <= self.exit_slippage_buffer < 0.05:
            raise ValueError(f"exit_slippage_buffer must be in [0, 0.05), got {self.exit_slippage_buffer}")
        providers = load_wallet_venue().flash_loans.fees
        if self.flash_loan_provider not in providers:
            raise ValueError(
                f"flash_loan_provider {self.flash_loan_provider!r} is not configured "
                f"(known: {sorted(providers)})"
            )


def leverage_target(config: LeveragedStakingConfig, emode: EModeParams) -> float:
    """λ for ``config`` under the e-mode parameters ``emode``; ``ValueError`` when the config cannot
    work there (λ, its bands and the deleverage HF must fit between zero, the e-mode LTV and the
    liquidation threshold).

    Pure: the run's check before it starts and the strategy's handler of the parameters it
    receives are this one function.
    """
    lam = config.target_ltv or target_ltv(emode.ltv, config.max_stake_spread_move)
    validate_thresholds(lam, config.deleverage_health_factor, emode)
    if lam + config.deleverage_ltv_band >= emode.ltv:
        raise ValueError(
            f"target LTV {lam:.6f} + deleverage_ltv_band {config.deleverage_ltv_band} must stay "
            f"below the e-mode LTV {emode.ltv} (borrowing stops there)"
        )
    if lam - config.relever_ltv_band <= 0:
        raise ValueError(f"relever_ltv_band {config.relever_ltv_band} must be below the target LTV {lam}")
    return lam


class LeveragedStakingStrategy(DefiStrategy):
    def __init__(self, config: LeveragedStakingConfig) -> None:
        super().__init__(config)
        self.lev = config
        self.lst = self.staking_spec(config.lst)
        aave = self.wallet_config.aave
        collateral = next(r for r in aave.reserves if r.underlying == self.lst.token)
        borrowed = next(r for r in aave.reserves if r.underlying == "ETH")
        assert borrowed.debt_token is not None
        self.a_token, self.debt_token = collateral.a_token, borrowed.debt_token
        self.a_symbol, self.debt_symbol = f"{collateral.a_token}-AAVE", f"{borrowed.debt_token}-AAVE"
        self.weth_reserve_symbol = f"{borrowed.a_token}-AAVE"
        self.flash_fee = self.wallet_config.flash_loans.fees[config.flash_loan_provider]
        self.market_id = self.wallet_id(self.lst.market_pool)
        self.emode: AaveEModeParams | None = None
        """The e-mode parameters in force, once received: the strategy acts only with them."""
        self.target = 0.0
        """λ, from ``emode`` and the config (:func:`leverage_target`)."""
        self.liquidation_threshold = 0.0

    # -- setup -------------------------------------------------------------------------------

    def legs(self) -> list[InstrumentId]:
        """The LST rate (health factor) and ETH/USD; the LST's DEX price, which unwinds sell at,
        is optional: an unwind waits for an hour that has it."""
        return [self.wallet_id(self.lst.mint_symbol), self.pool_id]

    def data_needs(self) -> DataNeeds:
        rewards = self.rewards_credited(self.lev)
        return DataNeeds(
            required=tuple(self.legs()),
            optional=(self.market_id, *(self.reward_pools() if rewards else ())),
            aave_reserves=(self.a_symbol, self.weth_reserve_symbol),
            rewards=rewards,
            trades=(self.wallet_id(self.a_symbol), self.wallet_id(self.debt_symbol)),
        )

    def check_protocol_params(self, emode: EModeParams) -> None:
        leverage_target(self.lev, emode)

    def position_tokens(self) -> set[str]:
        return {self.a_token, self.debt_token, self.lst.token}

    # -- the protocol's parameters ------------------------------------------------------------

    def on_start(self) -> None:
        super().on_start()
        self.msgbus.subscribe(f"data.{DataType(AaveEModeParams).topic}", self._on_emode_params)

    def _on_emode_params(self, params: AaveEModeParams) -> None:
        """Lever to the λ these parameters allow; stop when the config cannot work under them."""
        if params.category != self.wallet_config.aave.emode_category:
            return  # another e-mode category of the market
        try:
            self._use_emode(params)
        except ValueError as e:
            self.log.error(
                f"Aave e-mode {params.category} parameters (LTV {params.ltv}, liquidation threshold "
                f"{params.liquidation_threshold}, bonus {params.liquidation_bonus}) make the config "
                f"impossible: {e}; stopping"
            )
            self.stop()
            return
        self.log.info(f"Aave e-mode {params.category}: target LTV {self.target:.6f}")

    def _use_emode(self, params: AaveEModeParams) -> None:
        emode = params.params()
        self.target = leverage_target(self.lev, emode)
        self.liquidation_threshold = emode.liquidation_threshold
        self.emode = params

    def on_tick(self) -> None:
        if self.emode is None:
            self.log.warning("no Aave e-mode parameters received yet: not acting until they arrive")
            return
        super().on_tick()

    def on_save(self) -> dict[str, bytes]:
        """Also the e-mode parameters: a resumed run does not see the stream's first point again."""
        state = super().on_save()
        if self.emode is not None:
            state["aave_emode"] = self.emode.to_bytes()
        return state

    def on_load(self, state: dict[str, bytes]) -> None:
        super().on_load(state)
        saved = state.get("aave_emode")
        if saved is not None:
            self._use_emode(AaveEModeParams.from_bytes(saved))

    # -- the book ----------------------------------------------------------------------------

    def book(self) -> tuple[float, float, float]:
        """(LST supplied, its ETH value at the protocol rate, ETH owed)."""
        supplied = self.wallet_balance(self.a_token)
        return supplied, supplied * self.lst_rate(self.lst), -self.wallet_balance(self.debt_token)

    def health(self) -> tuple[float, float]:
        """(health factor, LTV) of the position; (inf, 0) without debt."""
        _, value, debt = self.book()
        if debt <= 0 or value <= 0:
            return float("inf"), 0.0
        return value * self.liquidation_threshold / debt, debt / value

    # -- plans -------------------------------------------------------------------------------

    def deploy_phases(self) -> list[Phase]:
        return [self._lever]

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        return [lambda: self._unwind(amount)]

    def rebalance_phases(self) -> list[Phase] | None:
        return self.idle_phases()

    def rebalance_plan(self) -> Decision | None:
        """Keep the loop inside its bands first (deleverage / re-lever), else deploy idle ETH."""
        if self.book()[2] > 0:
            hf, ltv = self.health()
            target = self.target
            why = f"HF {hf:.4f}, LTV {ltv:.4f}"
            if hf < self.lev.deleverage_health_factor or ltv > target + self.lev.deleverage_ltv_band:
                if not self.priced_this_hour(self.market_id):
                    self.log.warning(f"{why}: no {self.market_id} price to deleverage at")
                    return None
                return Decision("deleverage", [self._deleverage], why)
            if ltv < target - self.lev.relever_ltv_band:
                return Decision("relever", [self._lever], why)
        return super().rebalance_plan()

    # -- the atomic transactions ------------------------------------------------------------

    def _lever(self) -> None:
        """Mint LST with free ETH plus new debt, supply it, borrow the new debt (one transaction)."""
        _, value, debt = self.book()
        free = max(0.0, self.free_eth())
        _, target_debt = leverage_targets(value - debt + free, self.target)  # D = E·λ/(1−λ)
        extra_debt = max(0.0, target_debt - debt)
        if free + extra_debt <= 0:
            return
        quantity = (free + extra_debt) / self.lst_rate(self.lst)
        self.submit_transaction(
            [
                (self.wallet_instrument(self.lst.mint_symbol), OrderSide.BUY, quantity),
                (self.wallet_instrument(self.a_symbol), OrderSide.BUY, quantity),
                (self.wallet_instrument(self.debt_symbol), OrderSide.SELL, extra_debt * (1 + self.flash_fee)),
            ]
        )

    def _exit_price(self) -> float:
        """ETH received per LST sold on the pool now (fee and buffer included)."""
        pool = self.cache.instrument(self.market_id)
        return self.price(pool.id) * (1 - float(pool.taker_fee)) / (1 + self.lev.exit_slippage_buffer)

    def _repay_and_sell(self, repay: float, withdraw: float) -> None:
        """Repay ``repay`` WETH, withdraw ``withdraw`` LST and sell it (one transaction)."""
        self.submit_transaction(
            [
                (self.wallet_instrument(self.debt_symbol), OrderSide.BUY, repay),
                (self.wallet_instrument(self.a_symbol), OrderSide.SELL, withdraw),
                (self.wallet_instrument(self.lst.market_pool), OrderSide.SELL, withdraw),
            ]
        )

    def _deleverage(self) -> None:
        """Repay debt down to LTV λ after the sale: D' = λ(V − kD) / (1 − λk), k = LST sold per ETH repaid."""
        supplied, value, debt = self.book()
        exit_price = self._exit_price()
        if debt <= 0:
            return
        rate = self.lst_rate(self.lst)
        k = rate * (1 + self.flash_fee) / exit_price
        lam = self.target
        target_debt = max(0.0, lam * (value - k * debt) / (1 - lam * k))
        repay = debt - target_debt
        withdraw = min(supplied, repay * (1 + self.flash_fee) / exit_price)
        self._repay_and_sell(repay, withdraw)

    def _unwind(self, amount: float) -> None:
        """Free ``amount`` ETH (``inf`` = all) by unwinding that fraction of the loop."""
        shortfall = float("inf") if amount == float("inf") else amount - self.free_eth()
        supplied, _, debt = self.book()
        if shortfall <= 0 or supplied <= 0:
            return
        if not self.priced_this_hour(self.market_id):
            self.log.warning(f"no {self.market_id} price this hour: the unwind waits for one")
            self.plans.retry(
                lambda: self._unwind(amount), until=lambda: self.priced_this_hour(self.market_id)
            )
            return
        exit_price = self._exit_price()
        released = supplied * exit_price - debt * (1 + self.flash_fee)
        fraction = 1.0 if shortfall == float("inf") or released <= 0 else min(1.0, shortfall / released)
        self._repay_and_sell(debt * fraction, supplied * fraction)
