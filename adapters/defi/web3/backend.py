"""The wallet venue's orders sent on chain: :class:`Web3Backend`, a :class:`ProtocolBackend`.

Each order resolves to the same protocol action as in the simulation
(:class:`~adapters.defi.actions.WalletActions`) and becomes the contract calls that do it: Uniswap
v3 swaps through the SwapRouter, Lido ``submit`` / EtherFi ``deposit`` then the wrapper's ``wrap``,
the wrapper's ``unwrap`` then a withdrawal-queue request, Aave v3 Pool ``supply`` / ``withdraw`` /
``borrow`` / ``repay``. Fills are priced from what the wallet's balances actually moved and gas is
the ETH the receipts charged. ETH and WETH count as one ETH balance, as in the model: the backend
wraps or unwraps what an action needs.

An atomic order list is one transaction of the wallet's own executor contract
(:mod:`adapters.defi.web3.executor`), once :mod:`adapters.defi.web3.loops` has recognised which
call it is: open loop, deleverage, or a full unwind (``unwind`` repays the debt as it is when
mined, which has grown past the strategy's cached figure). Its fills are priced from the amounts
in the executor's event.

Before anything is sent: what the action moves against the mode's ``max_tx_value_usd`` (at the Aave
oracle's prices), a swap's quote against the mark and the slippage tolerance, and a borrow or
withdrawal's health factor against the floor (the executor enforces the floor itself, and a sale's
``minWethOut``); then each transaction's own checks
(:class:`~adapters.defi.web3.sender.TransactionSender`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, replace
from decimal import Decimal
from math import ceil
from typing import Any

from nautilus_trader.model.orders import Order
from web3 import Web3
from web3.contract import Contract

from adapters.defi.actions import AaveAction, Action, ActionError, QueueRequest, Stake, Swap, WalletActions
from adapters.defi.backend import Execution, ExecutionRejected, PlannedFill
from adapters.defi.config import PoolSpec, StakingSpec, WalletVenueConfig
from adapters.defi.web3.config import ChainLiveConfig
from adapters.defi.web3.connection import WalletConnection
from adapters.defi.web3.executor import ExecutorCall, ExecutorResult, LoopExecutor, Route, from_wad
from adapters.defi.web3.limits import DEFAULT_LIMITS, SendLimits
from adapters.defi.web3.loops import OpenLoop, RepayAndSell, loop_list
from adapters.defi.web3.sender import TransactionSender
from adapters.hours import HOUR_NS
from localchain.solidity import compile_contracts
from localchain.tools import AAVE, UNISWAP_PERIPHERY, artifact

ETH = "ETH"
WEI = 10**18
BPS = 10_000
FEE_UNITS = 1_000_000
"""Uniswap fees are in millionths."""
VARIABLE_RATE = 2
SWAP_DEADLINE_SECONDS = 600
ZERO = "0x0000000000000000000000000000000000000000"
FLASH_PROVIDER = "AAVE"
"""The executor's flash loans are the Aave Pool's (``flashLoanSimple``)."""
UNWIND_DEBT_LAG = 1e-4
"""A repay-and-sell list whose repayment and withdrawal come this close (relative) to the account's
whole debt and collateral is a full unwind: the strategy's cached balances lag the chain's by the
interest since they were booked (about a day of it at a few % a year)."""


@dataclass(frozen=True)
class LstProtocol:
    """An LST protocol's contract names (our stand-ins' ABIs: the real interface subset), its rate
    call and its staking call."""

    staking: str
    wrapper: str
    rate: str
    """The wrapper's view of ETH per wrapped token (wstETH ``stEthPerToken``, weETH ``getRate``)."""
    stake: str
    stake_args: tuple[str, ...] = ()

    def stake_call(self, contract: Contract) -> Any:
        return getattr(contract.functions, self.stake)(*self.stake_args)


PROTOCOLS = {
    "LIDO": LstProtocol("LidoStETH", "WstETH", "stEthPerToken", "submit", (ZERO,)),  # no referral
    "ETHERFI": LstProtocol("EtherFiEETH", "WeETH", "getRate", "deposit"),
}


@dataclass(frozen=True)
class Lst:
    spec: StakingSpec
    protocol: LstProtocol
    deposit: Contract
    rebasing: Contract
    queue: Contract
    wrapper: Contract


@dataclass(frozen=True)
class Claimed:
    """What :meth:`Web3Backend.claim_withdrawals` collected."""

    eth: float
    gas_eth: float
    requests: int


class Web3Backend:
    """Sends wallet-venue orders as transactions from ``connection``'s account (module docstring).

    ``marks`` gives an instrument's current price (quote per base) as the strategy sees it (the
    cache's last price, as the simulation reads it); a swap's slippage bound is set from it.
    ``limits`` are the mode YAML's (:mod:`adapters.defi.web3.limits`).
    """

    def __init__(
        self,
        venue: WalletVenueConfig,
        live: ChainLiveConfig,
        connection: WalletConnection,
        marks: Callable[[str], float | None],
        limits: SendLimits = DEFAULT_LIMITS,
    ) -> None:
        self.live = live
        self.limits = limits
        self.actions = WalletActions(venue)
        self._gas_units = venue.gas_units_for
        self.sender = TransactionSender(connection, live, limits)
        self.marks = marks
        self.w3 = connection.w3
        self.me = connection.address
        self.pool = self._contract(live.aave_pool, artifact(AAVE, "Pool")["abi"])
        provider_abi = artifact(AAVE, "IPoolAddressesProvider")["abi"]
        provider = self._contract(self.pool.functions.ADDRESSES_PROVIDER().call(), provider_abi)
        oracle_abi = artifact(AAVE, "AaveOracle")["abi"]
        self.oracle = self._contract(provider.functions.getPriceOracle().call(), oracle_abi)
        self._oracle_unit = self.oracle.functions.BASE_CURRENCY_UNIT().call()
        self.router = self._contract(live.swap_router, artifact(UNISWAP_PERIPHERY, "SwapRouter")["abi"])
        self.quoter = self._contract(live.quoter, artifact(UNISWAP_PERIPHERY, "QuoterV2")["abi"])
        erc20 = artifact(AAVE, "IERC20Detailed")["abi"]
        self.weth = self._contract(live.tokens[ETH], artifact(AAVE, "WETH9")["abi"])
        self.tokens = {code: self._contract(address, erc20) for code, address in live.tokens.items()}
        self.tokens[ETH] = self.weth
        for reserve in venue.aave.reserves:  # the pool knows its aTokens and debt tokens
            data = self.pool.functions.getReserveData(self.tokens[reserve.underlying].address).call()
            self.tokens[reserve.a_token] = self._contract(data[8], erc20)
            if reserve.debt_token:
                self.tokens[reserve.debt_token] = self._contract(data[10], erc20)
        self._decimals = {ETH: 18}
        compiled = compile_contracts()
        self.lsts: dict[str, Lst] = {}
        for spec in venue.staking:
            protocol, addresses = PROTOCOLS[spec.protocol], live.staking[spec.token]
            abi = compiled[protocol.staking].abi
            self.lsts[spec.token] = Lst(
                spec,
                protocol,
                self._contract(addresses.deposit, abi),
                self._contract(addresses.rebasing, abi),
                self._contract(addresses.queue, abi),
                self._contract(live.tokens[spec.token], compiled[protocol.wrapper].abi),
            )
        self.pending_requests: list[tuple[str, int]] = []
        """(LST, withdrawal request id) requested by this backend and not yet claimed."""
        self.executor = LoopExecutor(self.w3, live.executor) if live.executor else None
        if self.executor is not None and self.executor.owner != self.me:
            raise ValueError(f"executor {live.executor} belongs to {self.executor.owner}, not this wallet")

    def _contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    # -- the backend interface -------------------------------------------------------------------

    def execute(self, orders: Sequence[Order], atomic: bool) -> Execution:
        if atomic:
            return self._atomic(orders)
        if len(orders) != 1:
            raise ExecutionRejected(f"one order per transaction without atomic, got {len(orders)}")
        order = orders[0]
        try:
            action = self.actions.of(order)
        except ActionError as e:
            raise ExecutionRejected(str(e)) from None
        (price, queued), gas_eth = self._spending(action.gas_operation, lambda: self._perform(order, action))
        return Execution((PlannedFill(order, price),), action.gas_operation, queued=queued, gas_eth=gas_eth)

    def set_emode(self) -> Execution:
        """Enter the configured Aave e-mode category (the model prices the position in it)."""
        call = self.pool.functions.setUserEMode(self.live.emode_category)
        _, gas_eth = self._spending("set_emode", lambda: self.sender.send(call))
        return Execution((), "set_emode", gas_eth=gas_eth)

    def _spending[T](self, gas_operation: str, act: Callable[[], T]) -> tuple[T, float]:
        """``act()`` and the ETH its transactions paid in gas; a rejection after something was
        mined carries that gas, which is gone whatever else happened."""
        paid = self.sender.gas_paid_wei
        try:
            result = act()
        except ExecutionRejected as e:
            if spent := self.sender.gas_paid_wei - paid:
                raise ExecutionRejected(e.reason, gas_operation, spent / WEI) from None
            raise
        return result, (self.sender.gas_paid_wei - paid) / WEI

    def _perform(self, order: Order, action: Action) -> tuple[float, tuple[tuple[str, float, int], ...]]:
        """The action's transactions: the fill price and any withdrawal queued."""
        match action:
            case Swap():
                return self._swap(order, action), ()
            case Stake():
                return self._stake(order, action.lst), ()
            case QueueRequest():
                price, request = self._request_withdrawal(order, action.lst)
                return price, (request,)
            case AaveAction():
                return self._aave(order, action), ()

    def claim_withdrawals(self) -> Claimed:
        """Claim every finalised withdrawal request. A claim that does not simulate (not finalised
        yet) or is refused before sending stays pending, and nothing is spent on it."""
        paid, before, claimed = self.sender.gas_paid_wei, self._held(ETH), 0
        for token, request_id in list(self.pending_requests):
            try:
                self.sender.send(self.lsts[token].queue.functions.claimWithdrawals([request_id], [0]))
            except ExecutionRejected:
                continue
            self.pending_requests.remove((token, request_id))
            claimed += 1
        return Claimed((self._held(ETH) - before) / WEI, (self.sender.gas_paid_wei - paid) / WEI, claimed)

    # -- balances --------------------------------------------------------------------------------

    def _held(self, code: str) -> int:
        """Raw balance of ``code``; ETH is native + WETH + the gas paid so far, so that gas does not
        move it (fills are priced without gas, which is booked separately)."""
        if code == ETH:
            native = self.w3.eth.get_balance(self.me)
            return native + self.weth.functions.balanceOf(self.me).call() + self.sender.gas_paid_wei
        return self.tokens[code].functions.balanceOf(self.me).call()

    def holdings(self) -> dict[str, tuple[int, int]]:
        """Every wallet currency's raw balance on chain with its decimal places: each token's
        ``balanceOf`` (aTokens and debt tokens included), ETH as native ether + WETH (the model's
        one ETH balance; the backend wraps and unwraps as an action needs)."""
        held = {
            code: (token.functions.balanceOf(self.me).call(), self._decimal_places(code))
            for code, token in self.tokens.items()
        }
        weth, places = held[ETH]
        held[ETH] = (weth + self.w3.eth.get_balance(self.me), places)
        return held

    def _decimal_places(self, code: str) -> int:
        if code not in self._decimals:
            self._decimals[code] = self.tokens[code].functions.decimals().call()
        return self._decimals[code]

    def check_value(self, what: str, code: str, raw: int) -> None:
        """Refuse a transaction moving ``raw`` of ``code`` worth more than ``max_tx_value_usd``
        (the Aave oracle's price: USD, the market's base currency)."""
        price = self.oracle.functions.getAssetPrice(self.tokens[code].address).call() / self._oracle_unit
        self.limits.check_value(what, self._amount(code, raw) * price)

    def _raw(self, code: str, amount: float | Decimal) -> int:
        return int(Decimal(amount) * 10 ** self._decimal_places(code))

    def _amount(self, code: str, raw: int) -> float:
        return raw / 10 ** self._decimal_places(code)

    def _fund(self, code: str, raw: int) -> None:
        """Make sure ``raw`` of the ERC-20 standing for ``code`` is held (wrapping ETH into WETH)."""
        token = self.tokens[code]
        held = token.functions.balanceOf(self.me).call()
        if held >= raw:
            return
        if code == ETH and self.w3.eth.get_balance(self.me) >= raw - held:
            self.sender.send(self.weth.functions.deposit(), value=raw - held)
            return
        need = self._amount(code, raw)
        raise ExecutionRejected(f"INSUFFICIENT_BALANCE: {need:.8f} {code} needed, the wallet holds less")

    def _native(self, raw: int, operation: str) -> None:
        """Make sure ``raw`` wei of native ETH is held (unwrapping WETH), plus what ``operation``'s
        transactions may pay in gas (its modelled units at the fee cap a send offers now), where
        the WETH allows: native ETH also pays the gas, and a wallet whose ETH is all WETH (bought
        on a pool) could not send even a 0-value call."""
        native = self.w3.eth.get_balance(self.me)
        gas = self._gas_units(operation) * self.sender.max_fee_per_gas()
        if native >= raw + gas:
            return
        weth = self.weth.functions.balanceOf(self.me).call()
        if weth < raw - native:
            raise ExecutionRejected(
                f"INSUFFICIENT_BALANCE: {raw / WEI:.8f} ETH needed, the wallet holds less"
            )
        if weth:
            self.sender.send(self.weth.functions.withdraw(min(weth, raw + gas - native)))

    # -- actions ---------------------------------------------------------------------------------

    def _swap(self, order: Order, swap: Swap) -> float:
        """A Uniswap v3 single-pool swap: sell exactly the order's base (``exactInputSingle``) or buy
        exactly it (``exactOutputSingle``), bounded by the mark ± fee ± the slippage tolerance."""
        pool, qty = swap.pool, order.quantity.as_decimal()
        mark = self.marks(pool.symbol)
        if mark is None:
            raise ExecutionRejected(f"no price yet for {pool.symbol}")
        fee, tolerance = float(pool.fee), self.live.slippage_tolerance
        sold, bought = (pool.quote, pool.base) if swap.buy else (pool.base, pool.quote)
        token_in, token_out = self.tokens[sold].address, self.tokens[bought].address
        fee_units = round(fee * FEE_UNITS)
        deadline = self.w3.eth.get_block("latest")["timestamp"] + SWAP_DEADLINE_SECONDS
        before = {code: self._held(code) for code in (pool.base, pool.quote)}
        if swap.buy:
            amount_out = self._raw(pool.base, qty)
            limit = ceil(self._raw(pool.quote, qty) * mark * (1 + fee) * (1 + tolerance))
            quote = self.quoter.functions.quoteExactOutputSingle(
                (token_in, token_out, amount_out, fee_units, 0)
            ).call()[0]
            if quote > limit:
                raise self._slippage(pool.symbol, sold, quote, limit, "pay")
            spend = limit
            call = self.router.functions.exactOutputSingle(
                (token_in, token_out, fee_units, self.me, deadline, amount_out, limit, 0)
            )
        else:
            spend = self._raw(pool.base, qty)
            limit = int(self._raw(pool.quote, qty) * mark * (1 - fee) * (1 - tolerance))
            quoter = self.quoter.functions.quoteExactInputSingle
            quote = quoter((token_in, token_out, spend, fee_units, 0)).call()[0]
            if quote < limit:
                raise self._slippage(pool.symbol, bought, quote, limit, "get")
            call = self.router.functions.exactInputSingle(
                (token_in, token_out, fee_units, self.me, deadline, spend, limit, 0)
            )
        self.check_value(f"{pool.symbol} swap", sold, spend)
        self._fund(sold, spend)
        self.sender.approve(self.tokens[sold], self.router.address, spend)
        self.sender.send(call)
        base = self._amount(pool.base, abs(self._held(pool.base) - before[pool.base]))
        quote_moved = self._amount(pool.quote, abs(self._held(pool.quote) - before[pool.quote]))
        # the pool's fee is booked as the fill's commission: price × (1 ± fee) is what moved
        return quote_moved / (base * (1 + fee if swap.buy else 1 - fee))

    def _slippage(self, symbol: str, code: str, quote: int, bound: int, verb: str) -> ExecutionRejected:
        quoted, limit = self._amount(code, quote), self._amount(code, bound)
        return ExecutionRejected(
            f"SLIPPAGE: {symbol} would {verb} {quoted:.8f} {code}, beyond the bound {limit:.8f} "
            f"(mark ± fee ± {self.live.slippage_tolerance:.2%})"
        )

    def _stake(self, order: Order, lst: StakingSpec) -> float:
        """ETH → the rebasing token (Lido ``submit`` / EtherFi ``deposit``) → the wrapper's ``wrap``."""
        c = self.lsts[lst.token]
        eth = self._stake_eth(c, order)
        self.check_value(f"{lst.token} stake", ETH, eth)
        self._native(eth, "stake")
        before = {code: self._held(code) for code in (ETH, lst.token)}
        rebasing = c.rebasing.functions.balanceOf(self.me).call()
        self.sender.send(c.protocol.stake_call(c.deposit), value=eth)
        minted = c.rebasing.functions.balanceOf(self.me).call() - rebasing
        self.sender.approve(c.rebasing, c.wrapper.address, minted)
        self.sender.send(c.wrapper.functions.wrap(minted))
        paid = before[ETH] - self._held(ETH)
        return paid / (self._held(lst.token) - before[lst.token])

    def _stake_eth(self, c: Lst, order: Order) -> int:
        """Wei of ETH that mints the order's quantity of the LST at the protocol's rate now."""
        rate = getattr(c.wrapper.functions, c.protocol.rate)().call()
        # shares round down at the stake and again at the wrap: one wei more covers both
        return ceil(self._raw(c.spec.token, order.quantity.as_decimal()) * rate / WEI) + 1

    def _request_withdrawal(self, order: Order, lst: StakingSpec) -> tuple[float, tuple[str, float, int]]:
        """The wrapper's ``unwrap``, then the rebasing tokens into the withdrawal queue; the queued
        ETH is due after the protocol's configured delay."""
        c, wrapped = self.lsts[lst.token], self._raw(lst.token, order.quantity.as_decimal())
        if self._held(lst.token) < wrapped:
            raise ExecutionRejected(f"INSUFFICIENT_BALANCE: {order.quantity} {lst.token} needed")
        self.check_value(f"{lst.token} withdrawal request", lst.token, wrapped)
        rebasing = c.rebasing.functions.balanceOf(self.me).call()
        self.sender.send(c.wrapper.functions.unwrap(wrapped))
        amount = c.rebasing.functions.balanceOf(self.me).call() - rebasing
        self.sender.approve(c.rebasing, c.queue.address, amount)
        receipt = self.sender.send(c.queue.functions.requestWithdrawals([amount], self.me))
        for event in c.queue.events.WithdrawalRequested().process_receipt(receipt):
            self.pending_requests.append((lst.token, event["args"]["requestId"]))
        mined_ns = self.w3.eth.get_block(receipt["blockNumber"])["timestamp"] * 10**9
        due = mined_ns + int(lst.withdrawal_delay_hours * HOUR_NS)
        eth = amount / WEI
        return eth / self._amount(lst.token, wrapped), (lst.token, eth, due)

    def _aave(self, order: Order, action: AaveAction) -> float:
        asset = self.tokens[action.underlying]
        raw = self._raw(action.underlying, order.quantity.as_decimal())
        self.check_value(f"{action.kind} {action.underlying}", action.underlying, raw)
        before = {code: self._held(code) for code in (action.token, action.underlying)}
        pool = self.pool.functions
        if action.kind in ("supply", "repay"):
            self._fund(action.underlying, raw)
            self.sender.approve(asset, self.pool.address, raw)
            if action.kind == "supply":
                self.sender.send(pool.supply(asset.address, raw, self.me, 0))
            else:
                self.sender.send(pool.repay(asset.address, raw, VARIABLE_RATE, self.me))
        else:
            self._check_health(action, asset.address, raw)
            if action.kind == "borrow":
                self.sender.send(pool.borrow(asset.address, raw, VARIABLE_RATE, 0, self.me))
            else:
                self.sender.send(pool.withdraw(asset.address, raw, self.me))
        moved = abs(self._held(action.underlying) - before[action.underlying])
        return moved / abs(self._held(action.token) - before[action.token])

    def _check_health(self, action: AaveAction, asset: str, raw: int) -> None:
        """Refuse a borrow or withdrawal that would leave the health factor under the floor:
        HF = Σ collateral × liquidation threshold / debt, from the account's data and the oracle."""
        collateral, debt, _, threshold_bps, _, _ = self.pool.functions.getUserAccountData(self.me).call()
        value = (
            raw * self.oracle.functions.getAssetPrice(asset).call() / 10 ** self._decimal_places(action.token)
        )
        weighted = collateral * threshold_bps / BPS
        if action.kind == "borrow":
            debt += value
        else:
            weighted -= value * self._liquidation_threshold(asset)
        if debt == 0:
            return
        health = weighted / debt
        if health < self.live.min_health_factor:
            raise ExecutionRejected(
                f"HEALTH_FLOOR: {action.kind} would leave the health factor at {health:.4f}, "
                f"below the floor {self.live.min_health_factor}"
            )

    def _liquidation_threshold(self, asset: str) -> float:
        """The asset's threshold for this account: its e-mode category's when both are in it."""
        category = self.pool.functions.getUserEMode(self.me).call()
        word = self.pool.functions.getConfiguration(asset).call()[0]
        if category and (word >> 168) & 0xFF == category:
            return self.pool.functions.getEModeCategoryData(category).call()[1] / BPS
        return ((word >> 16) & 0xFFFF) / BPS

    # -- atomic order lists: one executor transaction ------------------------------------------

    def _atomic(self, orders: Sequence[Order]) -> Execution:
        executor = self.executor
        if executor is None:
            raise ExecutionRejected("atomic order lists need the executor: `executor` in the chain config")
        plan = loop_list(self.actions, orders)
        if isinstance(plan, OpenLoop):
            execution, gas_eth = self._spending("atomic_leverage", lambda: self._open_loop(executor, plan))
        else:
            execution, gas_eth = self._spending(
                "atomic_deleverage", lambda: self._repay_and_sell(executor, plan)
            )
        return replace(execution, gas_eth=gas_eth)

    def _route(self, executor: LoopExecutor, lst: Lst, pool: PoolSpec, a_token: str) -> str:
        """The LST's address, its executor route registered first if it is not yet (owner-only)."""
        route = Route(
            lst.wrapper.address,
            lst.deposit.address,
            lst.rebasing.address,
            lst.spec.protocol == "LIDO",
            round(float(pool.fee) * FEE_UNITS),
            self.tokens[a_token].address,
        )
        if tuple(executor.contract.functions.routes(route.lst).call()) != astuple(route)[1:]:
            self.sender.send(executor.set_route(route).call)
        return route.lst

    def _send_executor(self, executor: LoopExecutor, call: ExecutorCall) -> ExecutorResult:
        """The owner's grants for this call (exactly what it uses), then the call itself; when the
        call is refused or reverts, the grants are set back to 0 (nothing stays granted)."""
        for grant in call.grants:
            self.sender.send(grant)
        try:
            receipt = self.sender.send(call.call, value=call.value)
        except ExecutionRejected:
            for grant in call.grants:  # approve / approveDelegation(spender, amount)
                self.sender.send(grant(grant.args[0], 0))
            raise
        result = executor.decode(receipt)
        assert result is not None  # a mined openLoop / deleverage / unwind always emits its event
        return result

    @staticmethod
    def _fills(*moved: tuple[Order, float]) -> tuple[PlannedFill, ...]:
        """Each order filled at what the chain moved of its quote (wei) per unit of the order's
        quantity, so the books' ETH moves exactly as the wallet's. The orders' quantities are the
        strategy's (an unwind's cached debt and collateral): what the chain moved beyond them,
        interest since they were booked, is in the prices."""
        return tuple(PlannedFill(order, wei / WEI / order.quantity.as_double()) for order, wei in moved)

    def _open_loop(self, executor: LoopExecutor, plan: OpenLoop) -> Execution:
        """Flash-borrow the borrow order's quantity less the premium it adds, stake it with the
        wallet's own ETH (what minting the order's LST needs beyond the flash loan), supply and
        borrow as the wallet: the debt grows by the borrow order's quantity."""
        lst = self.lsts[plan.lst.token]
        stake = self._stake_eth(lst, plan.mint)
        self.check_value("open loop (flash + own ETH)", ETH, stake)
        address = self._route(executor, lst, self.actions.pools[plan.lst.market_pool], plan.a_token)
        flash = float(plan.borrow.quantity) / (1 + executor.premium_bps / BPS)
        own = from_wad(stake) - flash
        if -self._mint_rounding(plan.mint, stake) <= own < 0:
            # a loop without ETH of the wallet's own (a re-lever of a book whose free ETH is spent):
            # the mint's quantity, rounded down to its step, stakes a hair less than the borrow
            # brings; the flash loan is what the mint stakes, the debt grows by that plus premium
            flash, own = from_wad(stake), 0.0
        if own < 0:
            raise ExecutionRejected(
                f"ATOMIC_SHAPE: the borrow ({plan.borrow.quantity} ETH) exceeds the ETH the mint "
                f"stakes ({from_wad(stake):.8f}): the loop would not supply all it borrows"
            )
        self._native(ceil(own * WEI), "atomic_leverage")
        call = executor.open_loop(address, flash, own, self.live.min_health_factor)
        event = self._send_executor(executor, call).raw
        fills = self._fills(
            (plan.mint, event["flashAmount"] + event["ownEth"]),
            (plan.supply, event["supplied"]),
            (plan.borrow, event["borrowed"]),
        )
        loan, premium = from_wad(event["flashAmount"]), from_wad(event["premium"])
        return Execution(fills, "atomic_leverage", loan, premium, FLASH_PROVIDER)

    @staticmethod
    def _mint_rounding(mint: Order, stake: int) -> float:
        """ETH one step of the mint order's quantity stakes (the strategy rounds it down to it)."""
        return from_wad(stake) / mint.quantity.as_double() * 10.0**-mint.quantity.precision

    def _repay_and_sell(self, executor: LoopExecutor, plan: RepayAndSell) -> Execution:
        """Repay with flash-borrowed WETH, withdraw the LST and sell it for at least the mark less
        the pool's fee and the slippage tolerance; a full unwind repays the debt as mined."""
        withdrawn = self._raw(plan.lst.token, plan.withdraw.quantity.as_decimal())
        self.check_value("deleverage (collateral withdrawn)", plan.lst.token, withdrawn)
        address = self._route(executor, self.lsts[plan.lst.token], plan.pool, plan.a_token)
        mark = self.marks(plan.pool.symbol)
        if mark is None:
            raise ExecutionRejected(f"no price yet for {plan.pool.symbol}")
        withdraw, repay = float(plan.withdraw.quantity), float(plan.repay.quantity)
        min_out = withdraw * mark * (1 - float(plan.pool.fee)) * (1 - self.live.slippage_tolerance)
        before = {code: self._held(code) for code in (plan.a_token, plan.debt_token)}
        lag = 1 - UNWIND_DEBT_LAG
        if self._raw(ETH, repay) >= before[plan.debt_token] * lag and (
            self._raw(plan.lst.token, withdraw) >= before[plan.a_token] * lag
        ):
            call = executor.unwind(address, min_out)
        else:
            call = executor.deleverage(address, repay, withdraw, min_out, self.live.min_health_factor)
        event = self._send_executor(executor, call).raw
        fills = self._fills(
            (plan.repay, event["repaid"]),
            (plan.withdraw, event["withdrawn"]),
            # as a single sale: the pool's fee is the fill's commission
            (plan.sell, event["proceeds"] / (1 - float(plan.pool.fee))),
        )
        loan, premium = from_wad(event["repaid"]), from_wad(event["premium"])
        return Execution(fills, "atomic_deleverage", loan, premium, FLASH_PROVIDER)
