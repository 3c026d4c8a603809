// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/// @title A Chainlink-style price feed whose answer the test sets: AaveOracle reads `latestAnswer`
/// (USD, 8 decimals), and a replay moves it to the recorded oracle price each hour.
contract SettableAggregator {
    uint8 public constant decimals = 8;
    address public immutable owner;
    int256 public latestAnswer;
    uint256 public latestTimestamp;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(int256 answer) {
        owner = msg.sender;
        _set(answer);
    }

    function setLatestAnswer(int256 answer) external {
        require(msg.sender == owner, "only owner");
        _set(answer);
    }

    function _set(int256 answer) private {
        require(answer > 0, "price must be positive");
        latestAnswer = answer;
        latestTimestamp = block.timestamp;
        emit AnswerUpdated(answer, 0, block.timestamp);
    }
}
