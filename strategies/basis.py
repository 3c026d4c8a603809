"""BTC / ETH basis: long spot and short the same quantity of the linear perp on each venue.

Capital starts as USDT in the on-chain wallet and is sent to the venues by ``hedge_allocation``.
On a venue with capital C the hedge notional is N = C / (1 + m) (m = ``perp_margin_fraction``):
N buys spot in the spot wallet, m·N sits in the futures wallet as margin for the short. The book
is only touched when the net delta drifts beyond ``delta_tolerance`` of gross exposure or a
venue's margin leaves the [``margin_floor``, ``margin_ceiling``] band (a fraction of perp
notional). Rebalancing resizes both legs of the venue (never close-and-reopen) and moves USDT
between its spot and futures wallets.

The venue's wallets say how its account works (``VenueWallets.unified``). A classic account
needs the internal transfers above. A unified account (one wallet, spot coins as collateral) needs
none: the m·N stays as the account's cash and the resize trades both legs within the one wallet.
The band is judged on the same quantity in both modes, the hedge margin (futures wallet or
unified cash, plus unrealized P&L): with the legs matched, equity ≈ N (1 + hedge margin / N), so
the band keeps N between equity / (1 + ceiling) and equity / (1 + floor), the sizing C = N(1 + m)
allows, whatever the account. On a unified account the coins' collateral keeps the venue's own
margin balance far above maintenance meanwhile (its liquidation is a price many times today's).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from adapters.cex.instruments import cex_instrument_id
from adapters.cex.margin import VenueWallets
from adapters.events import TransferKind
from strategies.base import VENUES_CAPITAL, WALLET_CAPITAL, YieldStrategy, YieldStrategyConfig
from strategies.plan import Decision, Phase
from strategies.sizing import basis_target_qty, common_step, hedge_drift, round_down, split_by_weights

DEFAULT_ALLOCATION = {"BINANCE": 0.4, "BYBIT": 0.3, "OKX": 0.3}
CENT_BUFFER = 0.02
"""USDT moved on top of a computed need, as transfers are rounded down to the cent."""


class BasisStrategyConfig(YieldStrategyConfig, frozen=True):
    """Basis mode settings. Fractions are of the quantity named; amounts in USDT."""

    asset: str = "BTC"
    """Base asset of the spot pair and perp on every venue (BTC or ETH)."""
    hedge_allocation: dict[str, float] = msgspec.field(default_factory=lambda: dict(DEFAULT_ALLOCATION))
    """Share of capital sent to each CEX venue; must sum to 1."""
    perp_margin_fraction: float = 0.25
    """m: perp margin per unit of hedge notional, in the futures wallet (or a unified account's
    cash): capital per venue C = N·(1 + m)."""
    delta_tolerance: float = 0.005
    """Rebalance when |net delta| exceeds this fraction of gross exposure."""
    margin_floor: float = 0.10
    """Rebalance a venue when its hedge margin (``VenueWallets.hedge_margin``: the futures wallet,
    or a unified account's cash, plus unrealized P&L) falls below this fraction of perp notional."""
    margin_ceiling: float = 0.50
    """Rebalance a venue (grow both legs) when its hedge margin exceeds this fraction of perp notional."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.asset not in ("BTC", "ETH"):
            raise ValueError(f"asset must be 'BTC' or 'ETH', got {self.asset!r}")
        validate_allocation(self.hedge_allocation)
        if not 0 < self.perp_margin_fraction <= 1:
            raise ValueError(f"perp_margin_fraction must be in (0, 1], got {self.perp_margin_fraction}")
        if not 0 < self.delta_tolerance <= 0.1:
            raise ValueError(f"delta_tolerance must be in (0, 0.1], got {self.delta_tolerance}")
        if not 0 < self.margin_floor < self.perp_margin_fraction < self.margin_ceiling:
            raise ValueError(
                "need 0 < margin_floor < perp_margin_fraction < margin_ceiling, got "
                f"{self.margin_floor}, {self.perp_margin_fraction}, {self.margin_ceiling}",
            )

    @property
    def venues(self) -> list[str]:
        return allocated_venues(self.hedge_allocation)

    def capital_sources(self) -> tuple[str, ...]:
        return (WALLET_CAPITAL, VENUES_CAPITAL)


def validate_allocation(allocation: dict[str, float]) -> None:
    """A ``hedge_allocation``: known CEX venues, non-negative weights summing to 1."""
    if not allocation:
        raise ValueError("hedge_allocation must name at least one venue")
    for venue, weight in allocation.items():
        if venue not in DEFAULT_ALLOCATION:
            known = sorted(DEFAULT_ALLOCATION)
            raise ValueError(f"hedge_allocation: unknown venue {venue!r} (known: {known})")
        if weight < 0:
            raise ValueError(f"hedge_allocation[{venue}] must be >= 0, got {weight}")
    total = sum(allocation.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"hedge_allocation must sum to 1, got {total:.6f} ({allocation})")


def allocated_venues(allocation: dict[str, float]) -> list[str]:
    return [v for v, w in allocation.items() if w > 0]


class BasisStrategy(YieldStrategy):
    """Long spot / short perp on each venue, sized and rebalanced as the module docstring says."""

    def __init__(self, config: BasisStrategyConfig) -> None:
        super().__init__(config)
        self.basis = config
        self.spot_ids = {v: cex_instrument_id(v, config.asset, "spot") for v in config.venues}
        self.perp_ids = {v: cex_instrument_id(v, config.asset, "perp") for v in config.venues}

    def legs(self) -> list[InstrumentId]:
        return [*self.spot_ids.values(), *self.perp_ids.values()]

    # -- deploy / raise / rebalance ----------------------------------------------------------

    def capital_venues(self) -> dict[str, float]:
        return {v: self.basis.hedge_allocation[v] for v in self.basis.venues} if self.cfg.prefunded else {}

    def deploy_phases(self) -> list[Phase]:
        resize = self._venue_phases(dict.fromkeys(self.basis.venues, 0.0))
        return resize if self.cfg.prefunded else [self._deposit_wallet_usdt, *resize]

    def raise_cash_phases(self, amount: float) -> list[Phase]:
        if amount == float("inf"):
            withdrawals = dict.fromkeys(self.basis.venues, float("inf"))
        else:
            shortfall = max(0.0, amount - self.wallet_balance("USDT"))
            equities = {v: max(0.0, self.venue_wallets(v).equity) for v in self.basis.venues}
            withdrawals = split_by_weights(shortfall, equities)
        return self._venue_phases(withdrawals)

    def rebalance_plan(self) -> Decision | None:
        """Resize the venues whose margin left its band (all of them when the net delta is out of
        tolerance); the reason names each trigger, for the action log."""
        wallets = {v: self.venue_wallets(v) for v in self.basis.venues}
        reasons = {v: why for v, w in wallets.items() if (why := self._margin_out_of_band(w))}
        if drift := self._delta_out_of_tolerance(wallets):
            reasons = {"all venues": drift, **reasons}
            venues = list(self.basis.venues)
        else:
            venues = list(reasons)
        venues = [v for v in venues if _VenueResize(self, v, 0.0).changes_anything()]
        if not venues:
            return None
        self.log.info(f"rebalance: venues {venues}")
        why = "; ".join(f"{where}: {reason}" for where, reason in reasons.items())
        return Decision("rebalance", self._venue_phases(dict.fromkeys(venues, 0.0)), why)

    def _margin_out_of_band(self, wallets: VenueWallets) -> str:
        """Why the venue's futures margin needs a resize, or "" when it is inside its band."""
        if not wallets.perps:
            # a liquidated short left the spot leg unhedged, or an interrupted entry left idle cash
            if wallets.equity > self.cfg.dust_threshold_usd:
                return f"no perp short against {wallets.equity:,.2f} USDT of equity"
            return ""
        ratio = wallets.hedge_margin / wallets.perp_notional
        if ratio < self.basis.margin_floor:
            return f"margin {ratio:.2%} of perp notional < margin_floor {self.basis.margin_floor:.2%}"
        if ratio > self.basis.margin_ceiling:
            return f"margin {ratio:.2%} of perp notional > margin_ceiling {self.basis.margin_ceiling:.2%}"
        return ""

    def _delta_out_of_tolerance(self, wallets: dict[str, VenueWallets]) -> str:
        """Why the legs need re-matching on every venue, or "" when the net delta is in tolerance."""
        net = sum(s.qty for w in wallets.values() for s in w.spots) + sum(
            p.signed_qty for w in wallets.values() for p in w.perps
        )
        gross = sum(w.spot_value + w.perp_notional for w in wallets.values())
        price = self.price(next(iter(self.spot_ids.values())))
        drift = hedge_drift(net, price, gross)
        tolerance = self.basis.delta_tolerance
        if drift > tolerance:
            return f"|net delta| {drift:.2%} of gross exposure > delta_tolerance {tolerance:.2%}"
        return ""

    # -- the per-venue resize ----------------------------------------------------------------

    def _deposit_wallet_usdt(self) -> None:
        amounts = split_by_weights(self.wallet_balance("USDT"), self.basis.hedge_allocation)
        for venue, amount in amounts.items():
            self.request_transfer(TransferKind.DEPOSIT, venue, amount)

    def _venue_phases(self, withdrawals: dict[str, float]) -> list[Phase]:
        """Resize each venue to its target, releasing ``withdrawals[venue]`` USDT to the wallet.

        Phases run venue-parallel: (1) cut legs that shrink, (2) move futures cash to spot where
        spot buys or the withdrawal need it, (3) buy spot, (4) withdraw, then sweep spot cash into
        the futures wallet, (5) grow the short on the margin just swept in.
        """
        resizes = [_VenueResize(self, venue, amount) for venue, amount in withdrawals.items()]
        steps = (
            _VenueResize.cut,
            _VenueResize.fund,
            _VenueResize.grow_spot,
            _VenueResize.withdraw_and_sweep,
            _VenueResize.grow_short,
        )
        return [_on_every_venue(resizes, step) for step in steps]


def _on_every_venue(resizes: list[_VenueResize], step: Callable[[_VenueResize], None]) -> Phase:
    def phase() -> None:
        for resize in resizes:
            step(resize)

    return phase


class _VenueResize:
    """One venue's resize within a plan; the target is fixed when the plan's first phase runs."""

    def __init__(self, strategy: BasisStrategy, venue: str, withdrawal: float) -> None:
        self.s = strategy
        self.venue = venue
        self.withdrawal = withdrawal
        self.spot = strategy.cache.instrument(strategy.spot_ids[venue])
        self.perp = strategy.cache.instrument(strategy.perp_ids[venue])
        self.fee = strategy.withdrawal_fee(venue) if withdrawal > 0 else 0.0
        self.step = common_step(
            self.spot.size_increment.as_double(),
            self.perp.size_increment.as_double() * self.perp.multiplier.as_double(),
        )
        self.target = 0.0

    @property
    def _exiting(self) -> bool:
        return self.withdrawal == float("inf")

    def _legs(self) -> tuple[float, float, VenueWallets]:
        wallets = self.s.venue_wallets(self.venue)
        spot = next((x.qty for x in wallets.spots), 0.0)
        short = -next((p.signed_qty for p in wallets.perps), 0.0)
        return spot, short, wallets

    def compute_target(self) -> float:
        """Base quantity for both legs: equity after the withdrawal, sized C = N(1 + m).

        Growing the spot leg needs spot cash, and only realised futures cash can move there
        (unrealized profit stays; a unified account spends the cash its margin does not need), so
        growth is capped by what the wallets can actually fund.
        """
        spot, _, wallets = self._legs()
        price = self.s.price(self.spot.id)
        spot_fee = float(self.spot.taker_fee)
        if self._exiting:
            return 0.0
        keep = wallets.equity - self.withdrawal - self.fee
        target = basis_target_qty(keep, price, self.s.basis.perp_margin_fraction, spot_fee, self.step)
        if target > spot:
            cash = wallets.free_cash + wallets.transferable_from_futures - self.withdrawal - self.fee
            affordable = spot + max(0.0, cash - CENT_BUFFER) / (price * (1 + spot_fee))
            target = min(target, round_down(affordable, self.step))
        return target

    def changes_anything(self) -> bool:
        """Whether resizing to the target would trade at least one venue-acceptable order."""
        spot, short, _ = self._legs()
        target = self.compute_target()
        price = self.s.price(self.spot.id)
        for instrument, held in ((self.spot, spot), (self.perp, short)):
            change = abs(target - held)
            minimum = instrument.min_notional.as_double() if instrument.min_notional is not None else 0.0
            if change >= self.step and change * price >= minimum:
                return True
        return False

    def cut(self) -> None:
        spot, short, _ = self._legs()
        self.target = self.compute_target()
        if spot > self.target:
            self.s.submit_market(self.spot, OrderSide.SELL, spot - self.target)
        if short > self.target:
            self.s.submit_market(self.perp, OrderSide.BUY, short - self.target, reduce_only=True)

    def fund(self) -> None:
        spot, _, wallets = self._legs()
        buy_cost = (
            max(0.0, self.target - spot) * self.s.price(self.spot.id) * (1 + float(self.spot.taker_fee))
        )
        need = buy_cost + (float("inf") if self._exiting else self.withdrawal + self.fee)
        missing = need - wallets.spot_cash + CENT_BUFFER
        if missing > CENT_BUFFER and not wallets.unified:  # a unified account's cash is spot cash
            self.s.request_transfer(
                TransferKind.TO_SPOT, self.venue, min(missing, wallets.transferable_from_futures)
            )

    def grow_spot(self) -> None:
        spot, _, _ = self._legs()
        if self.target > spot:
            self.s.submit_market(self.spot, OrderSide.BUY, self.target - spot)

    def withdraw_and_sweep(self) -> None:
        if self.withdrawal > 0:
            cash = self.s.venue_wallets(self.venue).free_cash
            amount = cash - self.fee if self._exiting else min(self.withdrawal, cash - self.fee)
            self.s.request_transfer(TransferKind.WITHDRAWAL, self.venue, amount)
        if not self._exiting:
            self.s.sweep_to_futures([self.venue])

    def grow_short(self) -> None:
        _, short, _ = self._legs()
        if self.target > short:
            self.s.submit_market(self.perp, OrderSide.SELL, self.target - short)
