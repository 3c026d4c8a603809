// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/// @title Stand-ins for Lido and EtherFi, which are not published as npm artifacts: the real
/// interface subset the project calls (Lido `submit`, wstETH `wrap`/`unwrap`/`stEthPerToken`, the
/// withdrawal queue's `requestWithdrawals`/`claimWithdrawals`, EtherFi `deposit`, weETH
/// `wrap`/`unwrap`/`getRate`) over one share model. Staking mints shares
/// at the current ETH-per-share rate; the rebasing token (stETH, eETH) shows shares × rate; the
/// wrapped token (wstETH, weETH) is a plain ERC-20 of shares, so its rate is ETH per share. The
/// owner (the test) sets the rate, standing in for staking rewards and slashing.

/// @notice Minimal ERC-20 (returns bool, as OpenZeppelin's) over internal share balances.
abstract contract ShareToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => uint256) internal shares;
    uint256 internal totalShares;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
    }

    /// @dev Token amount ↔ shares (identity for a wrapped token, the rate for a rebasing one).
    function _toShares(uint256 amount) internal view virtual returns (uint256);
    function _toAmount(uint256 share) internal view virtual returns (uint256);

    function balanceOf(address holder) public view returns (uint256) {
        return _toAmount(shares[holder]);
    }

    function totalSupply() external view returns (uint256) {
        return _toAmount(totalShares);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _moveShares(msg.sender, to, _toShares(amount));
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spendAllowance(from, msg.sender, amount);
        _moveShares(from, to, _toShares(amount));
        emit Transfer(from, to, amount);
        return true;
    }

    function _spendAllowance(address holder, address spender, uint256 amount) internal {
        uint256 allowed = allowance[holder][spender];
        require(allowed >= amount, "allowance");
        if (allowed != type(uint256).max) allowance[holder][spender] = allowed - amount;
    }

    function _moveShares(address from, address to, uint256 share) internal {
        require(shares[from] >= share, "balance");
        shares[from] -= share;
        shares[to] += share;
    }

    function _mintShares(address to, uint256 share) internal {
        shares[to] += share;
        totalShares += share;
        emit Transfer(address(0), to, _toAmount(share));
    }

    function _burnShares(address from, uint256 share) internal {
        require(shares[from] >= share, "balance");
        shares[from] -= share;
        totalShares -= share;
        emit Transfer(from, address(0), _toAmount(share));
    }
}

/// @notice A rebasing staking token (stETH, eETH): balances are shares × ETH-per-share, with a
/// withdrawal queue (Lido's WithdrawalQueue calls, served by the same contract): a request locks
/// the tokens, the owner finalizes requests in order (the protocol's delay, steered by the test),
/// and a finalized request pays the ETH it was worth when requested, or less if the rate fell since
/// (Lido's discount). Rewards raise the rate; the owner sends the ETH that backs them.
contract StakingPool is ShareToken {
    struct WithdrawalRequest {
        address owner;
        uint256 shares;
        uint256 amount;
        bool claimed;
    }

    address public immutable owner;
    uint256 public ethPerShare = 1e18;
    WithdrawalRequest[] public requests;
    uint256 public lastFinalizedRequestId;

    event WithdrawalRequested(uint256 indexed requestId, address indexed owner, uint256 amount);
    event WithdrawalClaimed(uint256 indexed requestId, address indexed owner, uint256 amount);

    constructor(string memory name_, string memory symbol_) ShareToken(name_, symbol_) {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "only owner");
        _;
    }

    /// @notice ETH backing staking rewards (the test sends it along with a rate increase).
    receive() external payable {}

    function setEthPerShare(uint256 rate) external onlyOwner {
        require(rate > 0, "rate must be positive");
        ethPerShare = rate;
    }

    function sharesOf(address holder) external view returns (uint256) {
        return shares[holder];
    }

    /// @notice Move shares (the wrapper's `wrap`/`unwrap`); spends a token allowance of their value.
    function transferSharesFrom(address from, address to, uint256 share) external returns (uint256 amount) {
        amount = _toAmount(share);
        if (msg.sender != from) _spendAllowance(from, msg.sender, amount);
        _moveShares(from, to, share);
        emit Transfer(from, to, amount);
    }

    /// @notice Queue `amounts` of the caller's tokens for ETH; ids start at 1, as Lido's.
    function requestWithdrawals(uint256[] calldata amounts, address owner_) external returns (uint256[] memory ids) {
        address holder = owner_ == address(0) ? msg.sender : owner_;
        ids = new uint256[](amounts.length);
        for (uint256 i = 0; i < amounts.length; i++) {
            uint256 share = _toShares(amounts[i]);
            _moveShares(msg.sender, address(this), share);
            requests.push(WithdrawalRequest(holder, share, amounts[i], false));
            ids[i] = requests.length;
            emit WithdrawalRequested(ids[i], holder, amounts[i]);
        }
    }

    /// @notice Finalize requests up to `lastId`; each is paid at most what its shares are worth now.
    function finalize(uint256 lastId) external onlyOwner {
        require(lastId > lastFinalizedRequestId && lastId <= requests.length, "bad request id");
        for (uint256 id = lastFinalizedRequestId + 1; id <= lastId; id++) {
            WithdrawalRequest storage request = requests[id - 1];
            uint256 worth = _toAmount(request.shares);
            if (worth < request.amount) request.amount = worth;
        }
        lastFinalizedRequestId = lastId;
    }

    /// @notice Pay finalized requests to their owner (the hints of Lido's call are not needed here).
    function claimWithdrawals(uint256[] calldata ids, uint256[] calldata) external {
        for (uint256 i = 0; i < ids.length; i++) {
            require(ids[i] >= 1 && ids[i] <= lastFinalizedRequestId, "request not finalized");
            WithdrawalRequest storage request = requests[ids[i] - 1];
            require(request.owner == msg.sender, "not the request owner");
            require(!request.claimed, "already claimed");
            request.claimed = true;
            shares[address(this)] -= request.shares;
            totalShares -= request.shares;
            (bool paid, ) = msg.sender.call{value: request.amount}("");
            require(paid, "ETH transfer failed");
            emit WithdrawalClaimed(ids[i], msg.sender, request.amount);
        }
    }

    function _toShares(uint256 amount) internal view override returns (uint256) {
        return (amount * 1e18) / ethPerShare;
    }

    function _toAmount(uint256 share) internal view override returns (uint256) {
        return (share * ethPerShare) / 1e18;
    }

    function _stake() internal returns (uint256 minted) {
        require(msg.value > 0, "zero deposit");
        minted = _toShares(msg.value);
        _mintShares(msg.sender, minted);
    }
}

/// @notice Lido's stETH: `submit` stakes ETH and returns the shares minted.
contract LidoStETH is StakingPool("Liquid staked Ether 2.0", "stETH") {
    function submit(address) external payable returns (uint256) {
        return _stake();
    }
}

/// @notice EtherFi's LiquidityPool and eETH in one contract: `deposit` stakes ETH into eETH.
contract EtherFiEETH is StakingPool("ether.fi ETH", "eETH") {
    function deposit() external payable returns (uint256) {
        return _stake();
    }
}

/// @notice A non-rebasing wrapper (wstETH, weETH): one token per share of its staking pool.
contract WrappedStake is ShareToken {
    StakingPool public immutable pool;

    constructor(StakingPool pool_, string memory name_, string memory symbol_) ShareToken(name_, symbol_) {
        pool = pool_;
    }

    /// @notice Wrap `amount` of the rebasing token (approved to this contract) into shares.
    function wrap(uint256 amount) external returns (uint256 minted) {
        minted = _toPoolShares(amount);
        pool.transferSharesFrom(msg.sender, address(this), minted);
        _mintShares(msg.sender, minted);
    }

    /// @notice Burn `amount` wrapped tokens for the rebasing tokens they are worth now.
    function unwrap(uint256 amount) external returns (uint256) {
        _burnShares(msg.sender, amount);
        return pool.transferSharesFrom(address(this), msg.sender, amount);
    }

    function _rate() internal view returns (uint256) {
        return pool.ethPerShare();
    }

    function _toPoolShares(uint256 amount) internal view returns (uint256) {
        return (amount * 1e18) / _rate();
    }

    function _toShares(uint256 amount) internal pure override returns (uint256) {
        return amount;
    }

    function _toAmount(uint256 share) internal pure override returns (uint256) {
        return share;
    }
}

/// @notice Lido's wstETH: `stEthPerToken` is stETH (≈ ETH) per wstETH.
contract WstETH is WrappedStake {
    constructor(StakingPool steth) WrappedStake(steth, "Wrapped liquid staked Ether 2.0", "wstETH") {}

    function stEthPerToken() external view returns (uint256) {
        return _rate();
    }
}

/// @notice EtherFi's weETH: `getRate` is eETH (≈ ETH) per weETH.
contract WeETH is WrappedStake {
    constructor(StakingPool eeth) WrappedStake(eeth, "Wrapped eETH", "weETH") {}

    function getRate() external view returns (uint256) {
        return _rate();
    }
}

/// @notice Aave's LST price source on mainnet multiplies ETH/USD by the token's exchange rate, so an
/// LST's USD price moves with ETH and with its staking rate, not with its DEX market price.
contract ExchangeRateAggregator {
    uint8 public constant decimals = 8;
    IAnswer public immutable ethUsd;
    StakingPool public immutable pool;

    constructor(IAnswer ethUsd_, StakingPool pool_) {
        ethUsd = ethUsd_;
        pool = pool_;
    }

    function latestAnswer() external view returns (int256) {
        return (ethUsd.latestAnswer() * int256(pool.ethPerShare())) / 1e18;
    }
}

interface IAnswer {
    function latestAnswer() external view returns (int256);
}
