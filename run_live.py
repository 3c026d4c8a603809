#!/usr/bin/env python3
"""Live trading entry point (not available yet).

The strategies are Nautilus ``Strategy`` classes written to run unchanged on a ``TradingNode``
with the Binance, Bybit and OKX adapters; wiring the node, the key handling and the safety
switches (read-only default, notional caps, kill switch) is a later work item.
"""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_live.py", description=__doc__)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--env", choices=("sandbox", "testnet", "mainnet"), default="sandbox")
    args = parser.parse_args(argv)
    print(
        f"run_live.py: live trading is not available yet (asked for mode {args.mode!r} on {args.env}).\n"
        "Backtest the same strategy with: python run_backtest.py --mode " + args.mode,
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
