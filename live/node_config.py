"""The ``TradingNode`` configuration of a live plan: its venue clients, and the funding bridge
where the Binance adapter streams no ``FundingRateUpdate``."""

from __future__ import annotations

from nautilus_trader.common.config import ImportableActorConfig
from nautilus_trader.config import LiveExecEngineConfig, LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import TraderId

from live.funding_bridge import BinanceFundingBridge, BinanceFundingBridgeConfig
from live.venues import LivePlan

FUNDING_BRIDGE_VENUE = "BINANCE"
"""The venue whose perps' funding comes from the bridge (Binance futures)."""


def funding_bridge_config(plan: LivePlan) -> ImportableActorConfig | None:
    """The bridge for the plan's Binance perps (None: the mode reads no Binance perp)."""
    perps = next((v.instruments for v in plan.venues if v.venue == FUNDING_BRIDGE_VENUE), ())
    if not perps:
        return None
    return ImportableActorConfig(
        actor_path=f"{BinanceFundingBridge.__module__}:{BinanceFundingBridge.__name__}",
        config_path=f"{BinanceFundingBridgeConfig.__module__}:{BinanceFundingBridgeConfig.__name__}",
        config={"instrument_ids": [str(i) for i in perps], "client_id": FUNDING_BRIDGE_VENUE},
    )


def node_config(plan: LivePlan, trader_id: str = "LIVE-001", log_level: str = "INFO") -> TradingNodeConfig:
    """One data client per venue, one execution client per traded venue (each named after its
    venue), the funding bridge, and reconciliation with the venues at start."""
    bridge = funding_bridge_config(plan)
    return TradingNodeConfig(
        trader_id=TraderId(trader_id),
        logging=LoggingConfig(log_level=log_level),
        data_clients={v.venue: v.data_config for v in plan.venues},
        exec_clients={v.venue: v.exec_config for v in plan.venues if v.exec_config is not None},
        exec_engine=LiveExecEngineConfig(reconciliation=True),
        actors=[bridge] if bridge is not None else [],
    )


def add_client_factories(node: TradingNode, plan: LivePlan) -> None:
    """Register the adapters' factories under the names ``node_config`` gave the clients."""
    for venue in plan.venues:
        node.add_data_client_factory(venue.venue, venue.data_factory)
        if venue.exec_config is not None:
            node.add_exec_client_factory(venue.venue, venue.exec_factory)
