#!/usr/bin/env python3
"""Backtest a mode on real history: ``python run_backtest.py --mode btc_basis --out results/btc``.

See ``python run_backtest.py --help`` and README.md.
"""

import sys

from backtesting.cli import main

if __name__ == "__main__":
    sys.exit(main())
