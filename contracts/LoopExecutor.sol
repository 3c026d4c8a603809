// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/// @title The wallet venue's atomic order lists as one transaction each: the leveraged-staking loop
/// (flash-borrow WETH → stake into an LST → supply it to Aave for the owner → borrow WETH as the
/// owner → repay the flash loan) and its reverse (flash-borrow WETH → repay the owner's debt →
/// withdraw the LST → sell it on Uniswap v3 → repay the flash loan → the rest to the owner).
///
/// Positions stay the owner's own: the executor supplies and borrows *on behalf of* the owner and
/// holds nothing between transactions. The owner grants it, once:
///   - `setUserEMode(category)` on the Pool (e-mode is per account; the executor cannot set it);
///   - `approveDelegation(executor, amount)` on the WETH variable-debt token (Aave's credit
///     delegation, so the executor may borrow as the owner);
///   - `approve(executor, amount)` on each LST's aToken (so it may move the collateral to withdraw);
///   - `approve(executor, amount)` on WETH when paying in WETH instead of ETH.
/// Every step reverts with its protocol's own reason and the whole transaction with it: all or
/// nothing. A final health-factor floor refuses a position the owner did not ask for.

interface IERC20 {
    function balanceOf(address holder) external view returns (uint256);
    function approve(address spender, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

interface IWETH is IERC20 {
    function deposit() external payable;
    function withdraw(uint256 amount) external;
}

interface IAavePool {
    function flashLoanSimple(address receiver, address asset, uint256 amount, bytes calldata params, uint16 referral)
        external;
    function supply(address asset, uint256 amount, address onBehalfOf, uint16 referral) external;
    function borrow(address asset, uint256 amount, uint256 rateMode, uint16 referral, address onBehalfOf) external;
    function repay(address asset, uint256 amount, uint256 rateMode, address onBehalfOf) external returns (uint256);
    function withdraw(address asset, uint256 amount, address to) external returns (uint256);
    function getUserAccountData(address user)
        external
        view
        returns (uint256, uint256, uint256, uint256, uint256, uint256 healthFactor);
}

/// @dev Lido stETH's `submit` and EtherFi's LiquidityPool `deposit` (mint the rebasing token).
interface ILido {
    function submit(address referral) external payable returns (uint256);
}

interface IEtherFiPool {
    function deposit() external payable returns (uint256);
}

/// @dev wstETH / weETH: wrap the rebasing token into the non-rebasing one Aave holds.
interface IWrapped {
    function wrap(uint256 amount) external returns (uint256);
}

/// @dev Uniswap v3 periphery SwapRouter (v1, with a deadline).
interface ISwapRouter {
    struct ExactInputSingleParams {
        address tokenIn;
        address tokenOut;
        uint24 fee;
        address recipient;
        uint256 deadline;
        uint256 amountIn;
        uint256 amountOutMinimum;
        uint160 sqrtPriceLimitX96;
    }

    function exactInputSingle(ExactInputSingleParams calldata params) external payable returns (uint256);
}

contract LoopExecutor {
    /// @notice How an LST is minted and sold: the contract that stakes ETH (Lido stETH, EtherFi's
    /// LiquidityPool), the rebasing token it mints (stETH, eETH: the same contract for Lido, another
    /// for EtherFi), the Uniswap pool's fee tier and the LST's Aave aToken.
    struct Route {
        address staking;
        address rebasing;
        bool lido;
        uint24 poolFee;
        address aToken;
    }

    uint256 private constant VARIABLE_RATE = 2;

    address public immutable owner;
    IAavePool public immutable pool;
    IWETH public immutable weth;
    IERC20 public immutable wethDebt;
    ISwapRouter public immutable router;
    mapping(address => Route) public routes;

    event LoopOpened(
        address indexed lst, uint256 flashAmount, uint256 ownEth, uint256 premium, uint256 supplied, uint256 borrowed
    );
    event Deleveraged(
        address indexed lst, uint256 repaid, uint256 withdrawn, uint256 proceeds, uint256 premium, uint256 returned
    );

    enum Op {
        Open,
        Close
    }

    /// @dev What the flash-loan callback does, encoded through Aave's `params`.
    struct Plan {
        Op op;
        address lst;
        uint256 ownWeth;
        uint256 ownEth;
        uint256 withdrawLst;
        uint256 minWethOut;
    }

    /// @param wethDebt_ The WETH reserve's variable-debt token (an unwind repays all of it).
    constructor(IAavePool pool_, IWETH weth_, IERC20 wethDebt_, ISwapRouter router_) {
        owner = msg.sender;
        pool = pool_;
        weth = weth_;
        wethDebt = wethDebt_;
        router = router_;
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "LoopExecutor: only owner");
        _;
    }

    /// @notice ETH arrives only from unwrapping WETH (to stake it, or to pay the owner out).
    receive() external payable {
        require(msg.sender == address(weth), "LoopExecutor: ETH only from WETH");
    }

    /// @notice Register an LST (`lido`: Lido `submit` → wstETH, else EtherFi `deposit` → weETH).
    function setRoute(address lst, address staking, address rebasing, bool lido, uint24 poolFee, address aToken)
        external
        onlyOwner
    {
        routes[lst] = Route(staking, rebasing, lido, poolFee, aToken);
    }

    /// @notice Lever: stake the owner's `ownerWethIn` WETH plus the ETH sent plus `flashAmountWeth` of
    /// flash-borrowed WETH into `lst`, supply all of it for the owner and borrow the flash loan and
    /// its premium as the owner. The owner's health factor must end at least `minHealthFactor` (1e18 = 1).
    function openLoop(address lst, uint256 flashAmountWeth, uint256 ownerWethIn, uint256 minHealthFactor)
        external
        payable
        onlyOwner
    {
        if (ownerWethIn > 0) _pay(weth.transferFrom(owner, address(this), ownerWethIn));
        _flash(flashAmountWeth, Plan(Op.Open, lst, ownerWethIn, msg.value, 0, 0));
        _checkHealth(minHealthFactor);
    }

    /// @notice Deleverage: repay `repayWeth` of the owner's WETH debt with flash-borrowed WETH,
    /// withdraw `withdrawLst` of its collateral, sell it for at least `minWethOut` WETH, repay the
    /// flash loan and send the rest to the owner as ETH.
    function deleverage(address lst, uint256 repayWeth, uint256 withdrawLst, uint256 minWethOut, uint256 minHealthFactor)
        external
        onlyOwner
    {
        _flash(repayWeth, Plan(Op.Close, lst, 0, 0, withdrawLst, minWethOut));
        _checkHealth(minHealthFactor);
    }

    /// @notice Unwind: deleverage all of the owner's WETH debt and all of its `lst` collateral.
    function unwind(address lst, uint256 minWethOut) external onlyOwner {
        uint256 collateral = IERC20(_route(lst).aToken).balanceOf(owner);
        _flash(wethDebt.balanceOf(owner), Plan(Op.Close, lst, 0, 0, collateral, minWethOut));
    }

    /// @notice Aave's IFlashLoanSimpleReceiver callback: run the plan, approve the repayment.
    function executeOperation(address, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool)
    {
        require(msg.sender == address(pool) && initiator == address(this), "LoopExecutor: not our flash loan");
        Plan memory plan = abi.decode(params, (Plan));
        if (plan.op == Op.Open) _open(plan, amount, premium);
        else _close(plan, amount, premium);
        _pay(weth.approve(address(pool), amount + premium));
        return true;
    }

    function _open(Plan memory plan, uint256 amount, uint256 premium) private {
        Route memory route = _route(plan.lst);
        uint256 wrapped = amount + plan.ownWeth;
        weth.withdraw(wrapped);
        uint256 supplied = _stake(route, plan.lst, wrapped + plan.ownEth);
        _pay(IERC20(plan.lst).approve(address(pool), supplied));
        pool.supply(plan.lst, supplied, owner, 0);
        pool.borrow(address(weth), amount + premium, VARIABLE_RATE, 0, owner);
        emit LoopOpened(plan.lst, amount, plan.ownWeth + plan.ownEth, premium, supplied, amount + premium);
    }

    function _close(Plan memory plan, uint256 amount, uint256 premium) private {
        Route memory route = _route(plan.lst);
        _pay(weth.approve(address(pool), amount));
        // Aave repays at most the debt; more would strand flash-borrowed WETH here (the model rejects it too)
        require(pool.repay(address(weth), amount, VARIABLE_RATE, owner) == amount, "LoopExecutor: repay exceeds debt");
        _pay(IERC20(route.aToken).transferFrom(owner, address(this), plan.withdrawLst));
        uint256 withdrawn = pool.withdraw(plan.lst, plan.withdrawLst, address(this));
        _pay(IERC20(plan.lst).approve(address(router), withdrawn));
        uint256 proceeds = router.exactInputSingle(
            ISwapRouter.ExactInputSingleParams(
                plan.lst, address(weth), route.poolFee, address(this), block.timestamp, withdrawn, plan.minWethOut, 0
            )
        );
        uint256 owed = amount + premium;
        require(proceeds >= owed, "LoopExecutor: sale does not repay the flash loan");
        uint256 rest = proceeds - owed;
        if (rest > 0) {
            weth.withdraw(rest);
            (bool sent,) = owner.call{value: rest}("");
            require(sent, "LoopExecutor: ETH transfer failed");
        }
        emit Deleveraged(plan.lst, amount, withdrawn, proceeds, premium, rest);
    }

    /// @dev ETH → the rebasing token → the wrapped LST; returns the LST minted to this contract.
    function _stake(Route memory route, address lst, uint256 eth) private returns (uint256) {
        if (route.lido) ILido(route.staking).submit{value: eth}(address(0));
        else IEtherFiPool(route.staking).deposit{value: eth}();
        uint256 rebasing = IERC20(route.rebasing).balanceOf(address(this));
        _pay(IERC20(route.rebasing).approve(lst, rebasing));
        return IWrapped(lst).wrap(rebasing);
    }

    function _flash(uint256 amount, Plan memory plan) private {
        pool.flashLoanSimple(address(this), address(weth), amount, abi.encode(plan), 0);
    }

    function _checkHealth(uint256 minHealthFactor) private view {
        (,,,,, uint256 healthFactor) = pool.getUserAccountData(owner);
        require(healthFactor >= minHealthFactor, "LoopExecutor: health factor below the floor");
    }

    function _route(address lst) private view returns (Route memory route) {
        route = routes[lst];
        require(route.staking != address(0), "LoopExecutor: unknown LST");
    }

    function _pay(bool ok) private pure {
        require(ok, "LoopExecutor: token call failed");
    }
}
