"""The ``TradingNode`` configuration of a live plan: its venue clients, and the funding feed that
makes every perp's funding arrive as in a backtest."""

from __future__ import annotations

from nautilus_trader.common.config import ImportableActorConfig
from nautilus_trader.config import (
    LiveExecEngineConfig,
    LiveRiskEngineConfig,
    LoggingConfig,
    TradingNodeConfig,
)
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import TraderId

from live.funding import FundingFeed, FundingFeedConfig
from live.venues import LivePlan
from strategies.order_rate import DEFAULT_MAX_ORDERS_PER_MINUTE, OrderRateCap


def funding_feed_config(plan: LivePlan) -> ImportableActorConfig | None:
    """The funding feed for the plan's perps (None: the mode reads no perp)."""
    perps = [str(i) for v in plan.venues for i in v.perps]
    if not perps:
        return None
    return ImportableActorConfig(
        actor_path=f"{FundingFeed.__module__}:{FundingFeed.__name__}",
        config_path=f"{FundingFeedConfig.__module__}:{FundingFeedConfig.__name__}",
        config={"instrument_ids": perps},
    )


def risk_engine_config(
    plan: LivePlan, max_order_usd: float, max_orders_per_minute: int = DEFAULT_MAX_ORDERS_PER_MINUTE
) -> LiveRiskEngineConfig:
    """Nautilus' pre-trade risk checks with the mode's per-order notional cap on every CEX
    instrument (in its quote currency, USDT or USD) and its order-rate cap (the strategy checks
    both itself too).

    Nautilus values an inverse perp's order at its quantity in the quote currency
    (``Instrument.notional_value(..., use_quote_for_inverse=True)``), i.e. in contracts whatever
    their size: the cap of a perp of 100 USD contracts is the USD cap ÷ 100."""
    caps = {
        str(i): max_order_usd / v.inverse_contract_usd.get(i, 1.0) for v in plan.venues for i in v.instruments
    }
    return LiveRiskEngineConfig(
        max_notional_per_order=caps,
        max_order_submit_rate=OrderRateCap(max_orders_per_minute).risk_engine_rate(),
    )


def node_config(
    plan: LivePlan,
    max_order_usd: float,
    trader_id: str = "LIVE-001",
    log_level: str = "INFO",
    max_orders_per_minute: int = DEFAULT_MAX_ORDERS_PER_MINUTE,
) -> TradingNodeConfig:
    """One data client per venue, one execution client per traded venue (each named after its
    venue), the funding feed, the risk engine's notional and order-rate caps, and reconciliation
    with the venues at start."""
    feed = funding_feed_config(plan)
    return TradingNodeConfig(
        trader_id=TraderId(trader_id),
        logging=LoggingConfig(log_level=log_level),
        data_clients={v.venue: v.data_config for v in plan.venues},
        exec_clients={v.venue: v.exec_config for v in plan.venues if v.exec_config is not None},
        risk_engine=risk_engine_config(plan, max_order_usd, max_orders_per_minute),
        exec_engine=LiveExecEngineConfig(reconciliation=True),
        actors=[feed] if feed is not None else [],
    )


def add_client_factories(node: TradingNode, plan: LivePlan) -> None:
    """Register the adapters' factories under the names ``node_config`` gave the clients."""
    for venue in plan.venues:
        node.add_data_client_factory(venue.venue, venue.data_factory)
        if venue.exec_config is not None:
            node.add_exec_client_factory(venue.venue, venue.exec_factory)
