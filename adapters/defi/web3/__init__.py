"""The wallet venue's on-chain backend: the same orders as :class:`~adapters.defi.backend.SimulatedBackend`
takes, sent as transactions through web3.py (``connection`` → ``sender`` → ``backend``)."""
