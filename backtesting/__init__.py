"""Running modes as Nautilus backtests: config loading, engine assembly, results folders."""
