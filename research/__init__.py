"""Research at scale on the backtests: sweeps over parameters, windows and scenarios, and the
report a quant reads (``python -m research report DIR``)."""
