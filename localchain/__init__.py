"""A local EVM (anvil) running the real Aave v3 contracts, for testing on-chain execution offline.

The node tools and contract artifacts are npm packages installed into ``localchain/node_modules``
by ``scripts/install_chain_tools.sh``; our own contracts are Solidity sources in
``localchain/contracts`` compiled with solc-js at deploy time (no compiled blob is committed).
"""
