"""Custom Nautilus data types stored in the catalog beside bars and funding rates.

This module must not use ``from __future__ import annotations``: ``customdataclass`` reads the
real annotation types to build the Arrow schema.
"""

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass


@customdataclass
class GasPrice(Data):
    """Ethereum gas price sampled at ``ts_event`` (gwei); on-chain actions pay units × gwei × 1e-9 ETH."""

    gwei: float = 0.0
    base_fee_gwei: float = 0.0
    priority_fee_gwei: float = 0.0
