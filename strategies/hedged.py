"""USDT market-neutral: staked ETH hedged with short ETH perps on the CEXs (DOMAIN.md modes 7, 8).

Capital is USDT in the on-chain wallet. ``stake_allocation`` of it buys ETH on the wallet's
ETH/USDT pool and goes into the staking sleeve — an LST (``usdt_eth_staking_hedged_simple``) or
the flash-loan loop of ``eth_leveraged`` (``…_leveraged``); the rest is sent to the CEXs by
``hedge_allocation`` as USDT margin for ETH perp shorts. The short is sized to the wallet's
realised net long ETH (LST × LST/ETH rate, minus debt for the loop, plus the ETH held), not to
the allocation, split by ``hedge_allocation``, and re-hedged when |net delta| exceeds
``delta_tolerance`` of NAV. The same trade as Ethena's sUSDe, run by the user.

Capital management, most urgent first, at each tick:

1. the sleeve's own safety: the loop deleverages atomically when its HF or LTV leaves its band
   (then the hedge follows the smaller net long);
2. margin: when a venue's margin balance falls below ``margin_floor`` × its perp notional, every
   venue under ``margin_target`` × notional is topped up to it — from wallet USDT first, then
   from venues holding margin above their target, then by releasing ETH from the staking sleeve
   (sold for USDT, the hedge shrunk to match). Every move is a transfer with its gas or venue fee
   and its delay; what cannot be restored in time is liquidated by the venue, and shows;
3. surplus margin: when a venue's margin balance exceeds ``margin_ceiling`` × its notional (ETH
   fell: the shorts' profit piles up), every venue above ``margin_release_target`` gives back down
   to it — the target counted on the shorts grown by the released USDT, which buys ETH for the staking
   sleeve. Only cash leaves a venue, so a short's unrealized profit is first realized (bought
   back and sold again at today's price). A release worth less than ``min_deploy_usd`` waits
   (every release pays withdrawal fees, gas, the pool fee and the perps' fees);
4. delta drift beyond ``delta_tolerance``: resize the shorts.

One mixin serves both modes: it sits before the staking strategy in the class's MRO, so
``super()`` reaches the sleeve's own stake / unstake / band logic, which it uses in ETH.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pandas as pd
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.config import load_cex_venue
from adapters.cex.instruments import cex_instrument_id
from adapters.cex.margin import VenueWallets
from adapters.events import TransferKind
from strategies.basis import CENT_BUFFER, DEFAULT_ALLOCATION, allocated_venues, validate_allocation
from strategies.defi import DefiStrategy
from strategies.leveraged import LeveragedStakingConfig, LeveragedStakingStrategy
from strategies.plan import Decision, Phase
from strategies.sizing import margin_release, round_down, split_by_weights
from strategies.staking import StakingStrategy, StakingStrategyConfig

RAISE_COST_BUFFER = 0.01
"""A withdrawal unwinds this much more than it pays out: the pool fees and impact of selling LST →
ETH → USDT and the perps' fees (what is left over stays in the wallet for the next deployment)."""


ETH_PURCHASE_ROUTES = ("dex", "cex")


class HedgeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The hedge sleeve of the market-neutral modes (fractions; amounts in USDT)."""

    stake_allocation: float = 0.5
    """Share of deployed capital that buys ETH for the staking sleeve; the rest is CEX margin."""
    hedge_allocation: dict[str, float] = msgspec.field(default_factory=lambda: dict(DEFAULT_ALLOCATION))
    """Share of the short (and of the margin) on each CEX venue; must sum to 1."""
    delta_tolerance: float = 0.005
    """Re-hedge when |net ETH delta| exceeds this fraction of NAV."""
    margin_floor: float = 0.25
    """Top up margin when a venue's margin balance falls below this fraction of its perp notional
    (first-tier maintenance is 0.5%: the floor leaves room for a further ETH rise of ≈ floor
    while the transfers are under way)."""
    margin_target: float = 0.5
    """Venues under this fraction of their perp notional are topped up to it."""
    margin_ceiling: float = 1.5
    """Release margin to the staking sleeve when a venue's margin balance exceeds this fraction of
    its perp notional. Above the margin the entry leaves, (1 − stake_allocation) / stake_allocation
    (1.0 by default): from there ETH must fall ≈ 20% before a release."""
    margin_release_target: float = 0.75
    """Venues above this fraction of their perp notional give back down to it when one exceeds
    ``margin_ceiling`` (counted on the shorts grown by what is released). The gap to
    ``margin_floor`` is how far ETH may rise again before the sleeve pays for a top-up: from 0.75,
    ≈ 40% (from ``margin_target``, 0.5, only ≈ 20%)."""
    eth_trade_buffer: float = 0.003
    """Fraction kept back when buying ETH with USDT (and added when selling), for pool impact."""
    eth_purchase: str = "dex"
    """Where the staking sleeve's ETH is bought: ``dex`` (the wallet's ETH/USDT pool: 0.3% fee
    plus impact, no delay) or ``cex`` (spot on ``eth_purchase_venue``: its taker fee, then an ETH
    withdrawal with the venue's fee and delay; the shorts hedge the ETH in flight)."""
    eth_purchase_venue: str = "BYBIT"
    """CEX whose spot market the ``cex`` route buys on (BYBIT has its own ETH spot history)."""

    def __post_init__(self) -> None:
        validate_allocation(self.hedge_allocation)
        if not 0 < self.stake_allocation < 1:
            raise ValueError(f"stake_allocation must be in (0, 1), got {self.stake_allocation}")
        if not 0 < self.delta_tolerance <= 0.1:
            raise ValueError(f"delta_tolerance must be in (0, 0.1], got {self.delta_tolerance}")
        if not 0.02 <= self.margin_floor < self.margin_target:
            raise ValueError(
                f"need 0.02 <= margin_floor < margin_target, got {self.margin_floor}, {self.margin_target}"
            )
        entry_margin = (1 - self.stake_allocation) / self.stake_allocation
        if self.margin_target > entry_margin:
            raise ValueError(
                f"margin_target {self.margin_target} is above the margin the entry leaves, "
                f"(1 − stake_allocation) / stake_allocation = {entry_margin:.3f}: lower "
                f"stake_allocation ({self.stake_allocation}) or margin_target"
            )
        if not entry_margin < self.margin_ceiling:
            raise ValueError(
                f"margin_ceiling {self.margin_ceiling} must be above the margin the entry leaves, "
                f"(1 − stake_allocation) / stake_allocation = {entry_margin:.3f}: raise "
                f"margin_ceiling or stake_allocation ({self.stake_allocation})"
            )
        if not self.margin_target <= self.margin_release_target < self.margin_ceiling:
            raise ValueError(
                "need margin_target <= margin_release_target < margin_ceiling, got "
                f"{self.margin_target}, {self.margin_release_target}, {self.margin_ceiling}"
            )
        if not 0 <= self.eth_trade_buffer < 0.05:
            raise ValueError(f"eth_trade_buffer must be in [0, 0.05), got {self.eth_trade_buffer}")
        if self.eth_purchase not in ETH_PURCHASE_ROUTES:
            raise ValueError(f"eth_purchase must be one of {ETH_PURCHASE_ROUTES}, got {self.eth_purchase!r}")
        if self.eth_purchase_venue not in DEFAULT_ALLOCATION:
            known = sorted(DEFAULT_ALLOCATION)
            venue = self.eth_purchase_venue
            raise ValueError(f"eth_purchase_venue: unknown venue {venue!r} (known: {known})")


class HedgedStakingConfig(StakingStrategyConfig, frozen=True):
    """``usdt_eth_staking_hedged_simple``: an LST hedged with short perps."""

    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("USDT",)
    hedge: HedgeConfig = msgspec.field(default_factory=HedgeConfig)


class HedgedLeveragedConfig(LeveragedStakingConfig, frozen=True):
    """``usdt_eth_staking_hedged_leveraged``: the flash-loan loop hedged with short perps."""

    SHARE_CLASSES: ClassVar[tuple[str, ...]] = ("USDT",)
    hedge: HedgeConfig = msgspec.field(default_factory=HedgeConfig)


class HedgeSleeve(DefiStrategy):
    """The short-perp sleeve and the cross-venue capital management (see the module docstring)."""

    def __init__(self, config: HedgedStakingConfig | HedgedLeveragedConfig) -> None:
        super().__init__(config)
        self.hedging = config.hedge
        self.hedge_venues = allocated_venues(config.hedge.hedge_allocation)
        self.weights = {v: config.hedge.hedge_allocation[v] for v in self.hedge_venues}
        self.perp_ids = {v: cex_instrument_id(v, "ETH", "perp") for v in self.hedge_venues}
        self.purchase_venue = config.hedge.eth_purchase_venue
        self.spot_id = (
            cex_instrument_id(self.purchase_venue, "ETH", "spot")
            if config.hedge.eth_purchase == "cex"
            else None
        )
        self.eth_withdrawal_fee = load_cex_venue(self.purchase_venue).transfers.withdrawal_fee_eth

    def legs(self) -> list[InstrumentId]:
        spot = [self.spot_id] if self.spot_id is not None else []
        return [*super().legs(), *self.perp_ids.values(), *spot]

    def position_tokens(self) -> set[str]:
        return {*super().position_tokens(), "ETH"}  # ETH beyond the gas reserve is staked, not dust

    # -- the book ----------------------------------------------------------------------------

    def eth_price(self) -> float:
        return self.price(self.pool_id)

    def wallet_eth(self) -> float:
        """The strategy's net long ETH: the wallet's ETH, LST and aTokens at the protocol rate minus
        debt, plus ETH bought on a CEX (still there or in flight to the wallet)."""
        held = self.valuation.eth_exposure(self.wallet_balances(), self.cache)
        return held + self._cex_spot_eth() + self.in_transit("ETH")

    def _cex_spot_eth(self) -> float:
        if self.spot_id is None:
            return 0.0
        return sum(s.qty for s in self.venue_wallets(self.purchase_venue).spots)

    def sleeve_eth(self) -> float:
        """The staking sleeve's net ETH (the wallet's, without the ETH it holds as ETH)."""
        return self.wallet_eth() - self.wallet_balance("ETH")

    def shorts(self) -> dict[str, float]:
        """ETH held short on each venue (base units, positive)."""
        return {v: -sum(p.signed_qty for p in self.venue_wallets(v).perps) for v in self.hedge_venues}

    def net_delta(self) -> float:
        """Net ETH across every venue: the wallet's long minus the shorts."""
        return self.wallet_eth() - sum(self.shorts().values())

    def report(self, nav: pd.DataFrame) -> dict[str, Any]:
        """Hedge quality and capital management beside the returns."""
        fraction = nav["net_delta_usd"].abs() / nav["nav_usdt"]
        tolerance = self.hedging.delta_tolerance
        lowest, highest = {}, {}
        for venue in self.hedge_venues:
            notional = nav[f"perp_notional_{venue.lower()}"]
            held = notional > 0
            ratio = nav[f"margin_balance_{venue.lower()}"][held] / notional[held]
            lowest[venue], highest[venue] = float(ratio.min()), float(ratio.max())
        return {
            "hedge": {
                "delta_tolerance": tolerance,
                "max_abs_delta_fraction": float(fraction.max()),
                "hours_above_tolerance": int((fraction > tolerance).sum()),
                "rehedges": self.actions.get("rehedge", 0),
                "margin_top_ups": self.actions.get("margin_top_up", 0),
                "margin_releases": self.actions.get("margin_release", 0),
                "deleverages": self.actions.get("deleverage", 0),
                "min_margin_to_notional": lowest,
                "max_margin_to_notional": highest,
                "price_pnl_wallet": float(nav["price_pnl_wallet"].iloc[1:].sum()),
                "price_pnl_cex": float(nav["price_pnl_cex"].iloc[1:].sum()),
            }
        }

    # -- the five actions --------------------------------------------------------------------

    def deploy_phases(self) -> list[Phase]:
        """Send the margin share to the venues, buy ETH with the rest, stake it, then hedge it.

        The ``cex`` route also deposits the stake share on the purchase venue, buys spot there,
        hedges it, and withdraws it to the wallet, where it is staked when it lands.
        """
        if self.spot_id is None:
            return [
                self._send_margin,
                self._buy_eth,
                *super().deploy_phases(),
                self._sweep_to_futures,
                self._resize_hedge,
            ]
        stake: dict[str, float] = {}

        def send() -> None:
            usdt = self.wallet_balance("USDT")
            stake[self.purchase_venue] = usdt * self.hedging.stake_allocation
            amounts = split_by_weights(usdt - stake[self.purchase_venue], self.weights)
            amounts[self.purchase_venue] = amounts.get(self.purchase_venue, 0.0) + stake[self.purchase_venue]
            self.deposit_to_venues(amounts)

        return [
            send,
            lambda: self._buy_spot_eth(stake[self.purchase_venue]),
            self._sweep_to_futures,
            self._resize_hedge,
            self._withdraw_spot_eth,
            *super().deploy_phases(),
            self._resize_hedge,
        ]

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        """Free ``amount`` USDT (``inf`` = all) by shrinking both sleeves by the same fraction."""
        held = self.wallet_balance("USDT")
        if amount != float("inf") and amount <= held:
            return []
        invested = self.nav_estimate() - held
        need = (amount - held + sum(map(self.withdrawal_fee, self.hedge_venues))) * (1 + RAISE_COST_BUFFER)
        fraction = 1.0 if amount == float("inf") or invested <= 0 else min(1.0, need / invested)
        release = float("inf") if fraction >= 1.0 else fraction * max(0.0, self.sleeve_eth())
        withdrawals: dict[str, float] = {}

        def size_withdrawals() -> None:
            for venue in self.hedge_venues:
                equity = max(0.0, self.venue_wallets(venue).equity)
                withdrawals[venue] = float("inf") if fraction >= 1.0 else fraction * equity

        return [
            *super().raise_cash_phases(release),
            self._sell_free_eth,
            self._close_hedge if fraction >= 1.0 else self._resize_hedge,
            size_withdrawals,
            lambda: self.move_to_spot(withdrawals),
            lambda: self.withdraw_to_wallet(withdrawals),
        ]

    def dust_phases(self) -> list[Phase]:
        """Reward tokens sold for ETH add to the long: the hedge follows in the same plan."""
        phases = super().dust_phases()
        return [*phases, self._resize_hedge] if phases else []

    def gas_top_up_phases(self) -> list[Phase]:
        """Refill the gas ETH from the staking sleeve (raising 0 free ETH refills the reserve), or
        with wallet USDT when the sleeve is empty."""
        return [*super().raise_cash_phases(0.0), *self._gas_reserve_phases(), self._resize_hedge]

    # -- rebalancing -------------------------------------------------------------------------

    def rebalance_plan(self) -> Decision | None:
        sleeve = super().rebalance_plan()  # the loop's bands, or idle capital (idle_phases below)
        if sleeve is not None:
            return Decision(sleeve.action, [*sleeve.phases, self._resize_hedge], sleeve.why)
        if (top_up := self._margin_top_up()) is not None:
            return top_up
        if (release := self._margin_release()) is not None:
            return release
        drift = self._delta_drift()
        if drift > self.hedging.delta_tolerance:
            return Decision("rehedge", [self._resize_hedge], f"|net delta| {drift:.4%} of NAV")
        return None

    def idle_phases(self) -> list[Phase] | None:
        """USDT worth more than ``min_deploy_usd`` is deployed like new capital; ETH is staked."""
        if self.wallet_balance("USDT") > self.defi.min_deploy_usd:
            return self.deploy_phases()
        if self.free_eth() * self.eth_price() > self.defi.min_deploy_usd:
            return super().deploy_phases()
        return None

    def _delta_drift(self) -> float:
        nav = self.nav_estimate()
        return abs(self.net_delta()) * self.eth_price() / nav if nav > 0 else 0.0

    def _margin_book(self) -> tuple[dict[str, VenueWallets], dict[str, float], dict[str, float]]:
        """Each venue's wallets, perp exposure and margin balance. The exposure is the short a
        venue holds or should hold (after a liquidation: should), at today's price."""
        wallets = {v: self.venue_wallets(v) for v in self.hedge_venues}
        price = self.eth_price()
        shorts = self._hedge_targets()
        exposure = {v: max(w.perp_notional, shorts[v] * price) for v, w in wallets.items()}
        return wallets, exposure, {v: w.margin_balance for v, w in wallets.items()}

    def _payable(self, venue: str, available: float) -> float:
        """What withdrawing ``available`` USDT from ``venue`` pays out after its fee and the cent
        rounding; 0 under ten fees (not worth the fee)."""
        fee = self.withdrawal_fee(venue)
        payable = available - fee - CENT_BUFFER
        return payable if payable >= 10 * fee else 0.0

    def _margin_top_up(self) -> Decision | None:
        """Top every venue under ``margin_target`` up to it once one is under ``margin_floor``."""
        wallets, exposure, margins = self._margin_book()
        floor, target = self.hedging.margin_floor, self.hedging.margin_target
        price = self.eth_price()
        if not any(margins[v] < floor * exposure[v] for v in self.hedge_venues):
            return None
        needs = {
            v: target * exposure[v] - margins[v]
            for v in self.hedge_venues
            if margins[v] < target * exposure[v]
        }
        remaining = sum(needs.values()) + CENT_BUFFER * len(needs) - self.wallet_balance("USDT")
        pulls: dict[str, float] = {}
        for venue, w in wallets.items():
            above_target = margins[venue] - target * exposure[venue]
            surplus = self._payable(venue, min(w.releasable_margin, above_target))
            if venue in needs or remaining <= 0 or surplus <= 0:
                continue
            pulls[venue] = min(surplus, remaining)
            remaining -= pulls[venue]
        release = 0.0
        if remaining > 0:
            market = self.wallet_id(self.lst.market_pool)
            if not self.priced_this_hour(market):  # the queue would take days: wait for an hour with a price
                self.log.warning(f"margin below the floor: no {market} price to release ETH at")
                return None
            pool = self.cache.instrument(self.pool_id)
            proceeds = price * (1 - float(pool.taker_fee)) / (1 + self.hedging.eth_trade_buffer)
            release = remaining / proceeds
        ratios = {v: margins[v] / exposure[v] for v in self.hedge_venues if exposure[v] > 0}
        why = (
            f"margin/notional {_fmt(ratios, 3)}; needs {_fmt(needs)} USDT; from venues {_fmt(pulls)}, "
            f"from the sleeve {release:.6f} ETH"
        )
        phases = [
            *(super().raise_cash_phases(release) if release > 0 else []),
            self._sell_free_eth,
            self._resize_hedge,
            *self._withdrawal_phases(pulls),
            lambda: self.deposit_to_venues(needs),
            self._sweep_to_futures,
            self._resize_hedge,  # grows the shorts the missing margin held back
        ]
        return Decision("margin_top_up", phases, why)

    def _margin_release(self) -> Decision | None:
        """Once a venue's margin is over ``margin_ceiling``, bring every venue above
        ``margin_release_target`` down to it and stake what comes out (``sizing.margin_release``)."""
        wallets, exposure, margins = self._margin_book()
        ceiling, target = self.hedging.margin_ceiling, self.hedging.margin_release_target
        releases = margin_release(margins, exposure, self.weights, target, ceiling)
        pulls: dict[str, float] = {}
        realize: dict[str, float] = {}
        for venue, amount in releases.items():
            w = wallets[venue]
            fee = self.withdrawal_fee(venue)
            pull = self._payable(venue, min(amount, w.releasable_margin + max(0.0, w.unrealized_perp)))
            if pull > 0:
                pulls[venue] = pull
                realize[venue] = max(0.0, pull + fee + CENT_BUFFER - w.releasable_margin)
        if sum(pulls.values()) < self.defi.min_deploy_usd:
            return None
        ratios = {v: margins[v] / exposure[v] for v in self.hedge_venues if exposure[v] > 0}
        why = (
            f"margin/notional {_fmt(ratios, 3)} > margin_ceiling {ceiling:g}; to the sleeve {_fmt(pulls)} "
            f"USDT, realizing {_fmt(realize)}"
        )
        phases = [
            lambda: self._realize_profit(realize),
            self._resize_hedge,  # sells back what the realization bought
            *self._withdrawal_phases(pulls),
            self._buy_eth,
            *super().deploy_phases(),
            self._resize_hedge,  # hedges the ETH staked
        ]
        return Decision("margin_release", phases, why)

    # -- the steps ---------------------------------------------------------------------------

    def _withdrawal_phases(self, pulls: dict[str, float]) -> list[Phase]:
        """Withdraw ``pulls`` USDT (arriving) to the wallet: the amounts and their fees made spot
        cash first (classic accounts), then sent."""
        to_spot = {v: amount + self.withdrawal_fee(v) for v, amount in pulls.items()}
        return [lambda: self.move_to_spot(to_spot), lambda: self.withdraw_to_wallet(pulls)]

    def _sweep_to_futures(self) -> None:
        self.sweep_to_futures(self.hedge_venues)

    def _send_margin(self) -> None:
        margin = self.wallet_balance("USDT") * (1 - self.hedging.stake_allocation)
        self.deposit_to_venues(split_by_weights(margin, self.weights))

    def _buy_eth(self) -> None:
        pool = self.cache.instrument(self.pool_id)
        price = self.eth_price() * (1 + float(pool.taker_fee)) * (1 + self.hedging.eth_trade_buffer)
        self.submit_market(pool, OrderSide.BUY, self.wallet_balance("USDT") / price)

    def _buy_spot_eth(self, usdt: float) -> None:
        spot = self.cache.instrument(self.spot_id)
        price = self.price(spot.id) * (1 + float(spot.taker_fee))
        cash = self.venue_wallets(self.purchase_venue).free_cash
        self.submit_market(spot, OrderSide.BUY, min(usdt, cash - CENT_BUFFER) / price)

    def _withdraw_spot_eth(self) -> None:
        """Withdraw every ETH bought on the purchase venue (the venue's ETH fee comes on top)."""
        spot = self.cache.instrument(self.spot_id)
        arriving = round_down(self._cex_spot_eth() - self.eth_withdrawal_fee, spot.size_increment.as_double())
        self.request_transfer(TransferKind.WITHDRAWAL, self.purchase_venue, arriving, asset="ETH")

    def _sell_free_eth(self) -> None:
        free = self.free_eth()
        if free * self.eth_price() > CENT_BUFFER:
            self.submit_market(self.cache.instrument(self.pool_id), OrderSide.SELL, free)

    def _realize_profit(self, amounts: dict[str, float]) -> None:
        """Buy back the part of each venue's short whose unrealized profit is ``amounts`` USDT:
        the profit becomes cash that may leave the venue (the next resize sells the part again)."""
        for venue, amount in amounts.items():
            for perp in self.venue_wallets(venue).perps:
                if amount > 0 and perp.unrealized > 0 and perp.signed_qty < 0:
                    qty = -perp.signed_qty * min(1.0, amount / perp.unrealized)
                    instrument = self.cache.instrument(perp.instrument_id)
                    self.submit_market(instrument, OrderSide.BUY, qty, reduce_only=True)

    def _close_hedge(self) -> None:
        """exit_full: buy every short back (the gas money left in the wallet stays unhedged)."""
        for venue, short in self.shorts().items():
            if short > 0:
                self.submit_market(
                    self.cache.instrument(self.perp_ids[venue]), OrderSide.BUY, short, reduce_only=True
                )

    def _hedge_targets(self) -> dict[str, float]:
        """ETH to hold short per venue: the wallet's net long split by ``hedge_allocation``."""
        return split_by_weights(max(0.0, self.wallet_eth()), self.weights)

    def _resize_hedge(self) -> None:
        """Move each venue's short to its target (cuts first). A short only grows as far as the
        venue's margin stays above ``margin_floor`` of its notional; the margin check tops the
        rest up."""
        targets, shorts = self._hedge_targets(), self.shorts()
        price = self.eth_price()
        for venue in sorted(self.hedge_venues, key=lambda v: targets[v] - shorts[v]):
            perp = self.cache.instrument(self.perp_ids[venue])
            affordable = max(0.0, self.venue_wallets(venue).margin_balance) / (
                self.hedging.margin_floor * price
            )
            change = min(targets[venue], max(shorts[venue], affordable)) - shorts[venue]
            if change > 0:
                self.submit_market(perp, OrderSide.SELL, change)
            elif change < 0:
                self.submit_market(perp, OrderSide.BUY, -change, reduce_only=True)


def _fmt(amounts: dict[str, float], decimals: int = 2) -> str:
    return "{" + ", ".join(f"{k}: {v:,.{decimals}f}" for k, v in amounts.items()) + "}"


class HedgedStakingStrategy(HedgeSleeve, StakingStrategy):
    """``usdt_eth_staking_hedged_simple``."""


class HedgedLeveragedStrategy(HedgeSleeve, LeveragedStakingStrategy):
    """``usdt_eth_staking_hedged_leveraged``."""
