"""The live CEX services assembled for a trading node: transfers and funding paid, on ccxt.

How it plugs into ``run_live.py`` (for ``--env testnet|demo|mainnet``; sandbox and paper keep
the wallet simulation)::

    services = build_live_cex_services(
        ["BINANCE", "BYBIT", "OKX"], env, run_dir / "cex_services.sqlite",
        publish_transfer=lambda e: msgbus.publish(TRANSFER_TOPIC, e),
        publish_funding=lambda e: msgbus.publish(FUNDING_TOPIC, e),
        wallet_address=os.environ.get("BASIS_WALLET_ADDRESS"), funding_start_ms=run_start_ms)
    for endpoint, handler in services.service_endpoints().items():
        msgbus.register(endpoint, handler)        # in place of the wallet module's
    task = loop.create_task(services.run())       # resume, then poll until cancelled
    ...
    task.cancel(); await services.close()

The handler must be called on the node's event loop (the message bus is). State lives in one
SQLite file per run folder: keep it across restarts, that is what makes a restart resume.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async

from adapters.cex.config import load_cex_venue
from adapters.events import TRANSFER_ENDPOINT, FundingSettled, TransferEvent
from live.environments import LiveEnv
from live.transfers.config import TRANSFERS_CONFIG, TransferServiceConfig, load_transfers_config
from live.transfers.exchanges import build_exchange
from live.transfers.funding_history import FundingHistoryPoller, perp_markets
from live.transfers.service import CcxtTransferService, DepositSender
from live.transfers.store import LifecycleStore


class LiveCexServices:
    """The transfer service and the funding pollers of a node, run on one poll schedule."""

    def __init__(
        self,
        transfers: CcxtTransferService,
        pollers: list[FundingHistoryPoller],
        clients: list[ccxt_async.Exchange],
        store: LifecycleStore,
        log: Callable[[str], None],
    ) -> None:
        self.transfers = transfers
        self.pollers = pollers
        self.clients = clients
        self._store = store
        self._log = log

    def service_endpoints(self) -> dict[str, Callable[[Any], None]]:
        """The message-bus endpoints strategies send to (the same the wallet simulation serves)."""
        return {TRANSFER_ENDPOINT: self.transfers.on_request}

    async def poll_once(self) -> None:
        await self.transfers.poll_open()
        for poller in self.pollers:
            try:
                await poller.poll()
            except ccxt_async.BaseError as e:  # unreachable, or refused: the next poll reads again
                self._log(f"{poller.exchange} funding history: {type(e).__name__}: {e}; next poll retries")

    async def run(self) -> None:
        """Resume what a previous run left open, then poll every ``poll_interval_s`` until cancelled."""
        while True:
            await self.poll_once()
            await asyncio.sleep(self.transfers.config.poll_interval_s)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self._store.close()


def build_live_cex_services(
    exchanges: list[str],
    env: LiveEnv,
    state_path: Path,
    *,
    publish_transfer: Callable[[TransferEvent], None],
    publish_funding: Callable[[FundingSettled], None],
    funding_start_ms: int,
    wallet_address: str | None = None,
    deposit_sender: DepositSender | None = None,
    usdt_price: Callable[[str, str], float | None] = lambda exchange, asset: None,
    config: TransferServiceConfig | None = None,
    config_path: Path = TRANSFERS_CONFIG,
    log: Callable[[str], None] = lambda message: None,
) -> LiveCexServices:
    """Clients keyed from the environment (a :class:`~live.transfers.exchanges.MissingCredentials`
    names any missing variable), the store at ``state_path``, and the services on them.

    ``usdt_price(exchange, asset)`` values a coin (an ETH withdrawal fee, a COIN-M funding
    payment) in USDT; the node gives its latest spot price.
    """
    config = config or load_transfers_config(config_path)
    store = LifecycleStore(state_path)
    wallet_clients = {
        name: build_exchange(name, env, base_url=config.exchange(name).base_url) for name in exchanges
    }
    futures_clients = {  # Binance's futures income is read with its futures venue's keys
        name: build_exchange(name, env, keys_of=name, base_url=config.exchange(name).base_url)
        if name == "BINANCE"
        else wallet_clients[name]
        for name in exchanges
    }
    transfers = CcxtTransferService(
        config,
        wallet_clients,
        store,
        publish_transfer,
        wallet_address=wallet_address,
        deposit_sender=deposit_sender,
        fee_estimate=_modelled_withdrawal_fee,
        usdt_price=usdt_price,
        log=log,
    )
    pollers = [
        FundingHistoryPoller(
            name,
            futures_clients[name],
            perp_markets(name),
            store,
            publish_funding,
            start_ms=funding_start_ms,
            usdt_price=lambda coin, name=name: usdt_price(name, coin),
        )
        for name in exchanges
    ]
    clients = list({id(c): c for c in (*wallet_clients.values(), *futures_clients.values())}.values())
    return LiveCexServices(transfers, pollers, clients, store, log)


def _modelled_withdrawal_fee(exchange: str, asset: str) -> float:
    """The venue config's withdrawal fee (what strategies keep aside for it, too)."""
    terms = load_cex_venue(exchange).transfers
    return terms.withdrawal_fee_usdt if asset == "USDT" else terms.withdrawal_fee_eth
