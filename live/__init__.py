"""Running the strategies on a live Nautilus ``TradingNode``: paper trading on a replay today."""
