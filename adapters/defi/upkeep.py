"""What the simulated chain does to the wallet between its own actions.

At every timestamp, before the strategy acts at it (and before any action), the wallet's Aave
balances accrue with their reserve indices; LST withdrawal requests that have matured pay out;
EtherFi rewards due are credited in proportion to the eETH held over their period. After every
price update, an Aave position whose health factor fell below 1 is liquidated (close factor
50 %, 100 % below 0.95, collateral seized with the bonus). Each of these
changes the wallet's account and is published on ``WALLET_TOPIC`` for the accounting actor.

On a real chain the protocol liquidates, not this model: a wallet trading on chain turns
``model_liquidations`` off and books the liquidations read back from the chain
(:mod:`adapters.defi.web3.liquidations`) through the same :meth:`ProtocolUpkeep.book_liquidation`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from adapters.defi.aave import liquidation
from adapters.defi.aave_market import AaveMarket
from adapters.defi.config import WalletVenueConfig
from adapters.defi.currencies import PRECISION, WITHDRAWAL_QUEUE
from adapters.defi.data import AaveReserveSnapshot, RewardDistribution
from adapters.defi.rewards import HoldingsIntegral
from adapters.events import (
    AaveLiquidated,
    InterestAccrued,
    RewardCredited,
    WithdrawalFinalised,
)

Adjust = Callable[[str, float], None]
Publish = Callable[[object], None]


class ProtocolUpkeep:
    """Accrual, withdrawal queues, rewards and Aave liquidations of one wallet (see module doc)."""

    def __init__(
        self,
        config: WalletVenueConfig,
        aave: AaveMarket | None,
        *,
        balances: Callable[[], dict[str, float]],
        adjust: Adjust,
        publish: Publish,
        health_prices: Callable[[], dict[str, float]],
        eeth_rate: Callable[[], float | None],
        credit_rewards: bool,
    ) -> None:
        self.aave = aave
        self.model_liquidations = True
        """Liquidate by the model (a simulated chain); off when the chain's own are booked."""
        self._balances = balances
        self._adjust = adjust
        self._publish = publish
        self._health_prices = health_prices
        self._eeth_rate = eeth_rate
        self._credit_rewards = credit_rewards
        weeth = next((s for s in config.staking if s.protocol == "ETHERFI"), None)
        self._eeth_tokens: tuple[str, ...] = ()
        if weeth is not None:
            a_tokens = tuple(r.a_token for r in config.aave.reserves if r.underlying == weeth.token)
            self._eeth_tokens = (weeth.token, *a_tokens)
        self.holdings = HoldingsIntegral()
        self._queue: list[tuple[int, int, str, float]] = []
        self._seq = itertools.count()
        self._rewards: list[RewardDistribution] = []
        self._accrued_ns = 0
        self._carry: dict[str, float] = {}
        self.liquidations: list[AaveLiquidated] = []

    # -- inputs ------------------------------------------------------------------------------

    def queue_withdrawal(self, token: str, amount: float, due_ns: int) -> None:
        heapq.heappush(self._queue, (due_ns, next(self._seq), token, amount))

    def on_reward(self, reward: RewardDistribution) -> None:
        self._rewards.append(reward)

    # -- the hourly (and pre-action) upkeep --------------------------------------------------

    def accrue(self, ts_ns: int) -> None:
        """Book index growth of Aave balances up to ``ts_ns`` (idempotent within a timestamp)."""
        if self.aave is None or ts_ns <= self._accrued_ns:
            return
        self._accrued_ns = ts_ns
        self._book_accrual(ts_ns)

    def on_snapshot(self, snapshot: AaveReserveSnapshot) -> None:
        """A new daily snapshot: close the interval at the old rate, then book the snapshot's own
        correction (the real index vs the rate-extrapolated one) at once."""
        if self.aave is None:
            return
        self.accrue(snapshot.ts_event)
        self.aave.on_snapshot(snapshot)
        self._book_accrual(snapshot.ts_event)

    def _book_accrual(self, ts_ns: int) -> None:
        assert self.aave is not None
        for token, exact in self.aave.accrue(ts_ns, self._balances()).items():
            # balances hold 8 decimals: carry what rounding drops into the next booking, so
            # thousands of hourly accruals add up to the index ratio instead of drifting from it
            unbooked = exact + self._carry.get(token, 0.0)
            amount = round(unbooked, PRECISION)
            self._carry[token] = unbooked - amount
            if amount:
                self._adjust(token, amount)
                reserve = self.aave.reserve_of(token)
                borrowed = reserve is not None and reserve.debt_token == token
                self._publish(InterestAccrued(token, amount, ts_ns, borrowed))

    def run(self, ts_ns: int) -> None:
        """What time alone does, once per timestamp before anyone acts at it."""
        self.accrue(ts_ns)
        self._finalise_withdrawals(ts_ns)
        self.record_holdings(ts_ns)
        self._pay_rewards(ts_ns)

    def check_health(self, ts_ns: int) -> None:
        """Liquidate an unhealthy position (after every price update: liquidators do not wait)."""
        if self.model_liquidations:
            self._liquidate_if_unhealthy(ts_ns)

    def _finalise_withdrawals(self, ts_ns: int) -> None:
        while self._queue and self._queue[0][0] <= ts_ns:
            _, _, token, amount = heapq.heappop(self._queue)
            self._adjust(WITHDRAWAL_QUEUE, -amount)
            self._adjust("ETH", amount)
            self._publish(WithdrawalFinalised(token, amount, ts_ns))

    def record_holdings(self, ts_ns: int) -> None:
        """Sample the eETH held from ``ts_ns`` on (a later sample at the same time replaces it, so
        trades and rate prints at ``ts_ns`` count from ``ts_ns``)."""
        if not self._eeth_tokens or not self._credit_rewards:
            return
        rate = self._eeth_rate()
        if rate is None:
            return
        balances = self._balances()
        self.holdings.record(ts_ns, max(0.0, sum(balances.get(t, 0.0) for t in self._eeth_tokens)) * rate)

    def _pay_rewards(self, ts_ns: int) -> None:
        due = [r for r in self._rewards if r.ts_event <= ts_ns]
        if not due:
            return
        self._rewards = [r for r in self._rewards if r.ts_event > ts_ns]
        for reward in due:
            if not self._credit_rewards or reward.period_end_ns <= reward.period_start_ns:
                continue
            amount = reward.per_eeth * self.holdings.average(reward.period_start_ns, reward.period_end_ns)
            if amount > 0:
                self._adjust(reward.token, amount)
                self._publish(RewardCredited(reward.token, amount, reward.program, reward.estimated, ts_ns))

    def _liquidate_if_unhealthy(self, ts_ns: int) -> None:
        if self.aave is None:
            return
        balances = self._balances()
        position = self.aave.position(balances)
        if not position.debt or not position.collateral:
            return
        prices = self._health_prices()
        hf = self.aave.health_factor(position, prices)
        if hf >= 1.0:
            return
        debt_asset = max(position.debt, key=lambda a: position.debt[a] * prices[a])
        collateral_asset = max(position.collateral, key=lambda a: position.collateral[a] * prices[a])
        bonus = self.aave.liquidation_bonus(position, collateral_asset)
        repaid, seized = liquidation(
            hf,
            position.debt[debt_asset],
            position.collateral[collateral_asset],
            prices[debt_asset],
            prices[collateral_asset],
            bonus,
        )
        debt_token = self.aave.token_of(debt_asset, debt=True)
        collateral_token = self.aave.token_of(collateral_asset, debt=False)
        self.book_liquidation(AaveLiquidated(debt_token, repaid, collateral_token, seized, hf, ts_ns))

    def book_liquidation(self, event: AaveLiquidated) -> None:
        """The wallet's books after a liquidation, modelled or seen on chain: the debt shrinks by
        what the liquidator repaid, the collateral by what it seized (bonus included)."""
        self._adjust(event.debt_token, event.repaid)
        self._adjust(event.collateral_token, -event.seized)
        self.liquidations.append(event)
        self._publish(event)
