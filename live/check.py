"""``run_live.py --check``: what a live run would connect to, shown without connecting.

The plan names venues, clients, environments, endpoints, the account ids the execution clients
will report, the instruments and the key variables: names only, a key's value is never read here.
"""

from __future__ import annotations

from nautilus_trader.config import TradingNodeConfig

from live.environments import LiveEnv, required_variables
from live.funding import BRIDGED_VENUE
from live.venues import LivePlan, LiveVenue


def _venue_lines(venue: LiveVenue, env: LiveEnv) -> list[str]:
    clients = "data + execution" if venue.exec_config is not None else "data only"
    lines = [
        f"{venue.venue}: {venue.account_type} account, environment {venue.environment}, clients: {clients}",
        f"  account id: {venue.account_id}",
        f"  instruments: {', '.join(map(str, venue.instruments))}",
        *(f"  {role}: {url}" for role, url in venue.endpoints.items()),
    ]
    if required_variables(venue.venue, env):
        lines.append(
            f"  keys from: {', '.join(required_variables(venue.venue, env))} (set; values not shown)"
        )
    return lines


def describe(mode: str, plan: LivePlan, config: TradingNodeConfig, chain_id: int | None = None) -> list[str]:
    """The lines ``--check`` prints for ``mode``'s plan and the node ``config`` built from it
    (``chain_id``: the chain YAML's, for a mode trading on chain)."""
    lines = [
        f"{mode} on {plan.env.value}: plan checked, nothing connected",
        f"node {config.trader_id}: data clients {', '.join(config.data_clients) or 'none'}; "
        f"execution clients {', '.join(config.exec_clients) or 'none'}",
    ]
    for venue in plan.venues:
        lines += _venue_lines(venue, plan.env)
    if not plan.venues:
        lines.append("no CEX venue: the mode trades on chain only")
    streamed = [str(i) for v in plan.venues if v.venue != BRIDGED_VENUE for i in v.perps]
    bridged = [str(i) for v in plan.venues if v.venue == BRIDGED_VENUE for i in v.perps]
    if streamed:
        lines.append(f"funding: {', '.join(streamed)} from the venues' funding streams")
    if bridged:
        lines.append(f"funding: {', '.join(bridged)} from Binance's mark-price stream (the funding bridge)")
    if not plan.env.trades_on_venues and plan.venues:
        lines.append("orders: the project's venue simulations (sandbox: no venue keys used)")
    if plan.wallet_instruments:
        lines.append(
            f"on-chain wallet {plan.wallet_venue} ({', '.join(map(str, plan.wallet_instruments))}): "
            + (
                f"the web3 backend and chain data feed on chain {chain_id} (RPC URL and key from "
                "BASIS_RPC_URL and BASIS_WALLET_KEY or a keystore; values not shown)"
                if chain_id is not None
                else "needs --chain CHAIN.yaml to trade live"
            )
        )
    return lines
