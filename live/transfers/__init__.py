"""Live CEX services on ccxt: the transfer service (spot ↔ futures, allow-listed withdrawals,
deposits) with a persisted lifecycle, and the funding actually paid read from the venues.
:func:`live.transfers.services.build_live_cex_services` assembles them for a node."""
