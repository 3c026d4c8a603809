#!/usr/bin/env python3
"""Run a mode on a live Nautilus ``TradingNode``: ``python run_live.py --mode btc_basis --env paper``.

See ``python run_live.py --help`` and README.md.
"""

import sys

from live.cli import main

if __name__ == "__main__":
    sys.exit(main())
