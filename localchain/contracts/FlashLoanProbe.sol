// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

interface IERC20Approve {
    function approve(address spender, uint256 amount) external returns (bool);
}

interface IPoolFlashLoanSimple {
    function flashLoanSimple(address receiver, address asset, uint256 amount, bytes calldata params, uint16 referral)
        external;
}

/// @title The smallest Aave flash-loan receiver: borrows and repays in one transaction, paying the
/// premium from its own balance, and records the premium the Pool charged. It shows the local Pool
/// charges the model's fee before the project's executor contract builds on the same callback.
contract FlashLoanProbe {
    address public immutable pool;
    uint256 public lastPremium;

    constructor(address pool_) {
        pool = pool_;
    }

    function borrow(address asset, uint256 amount) external {
        IPoolFlashLoanSimple(pool).flashLoanSimple(address(this), asset, amount, "", 0);
    }

    /// @notice Aave's IFlashLoanSimpleReceiver callback: approve the repayment, note the premium.
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata)
        external
        returns (bool)
    {
        require(msg.sender == pool && initiator == address(this), "not our flash loan");
        lastPremium = premium;
        IERC20Approve(asset).approve(pool, amount + premium);
        return true;
    }
}
