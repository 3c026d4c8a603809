"""A live CEX services process for the SIGKILL test: ``python -m tests.live.ccxt_service_child
BASE_URL STATE WALLET KIND VENUE AMOUNT``.

It assembles the services as a node would (:func:`~live.transfers.services.build_live_cex_services`,
keys from the environment), every exchange pointed at the fake venue at BASE_URL with WALLET on
its allow-list, sends one transfer request to the service's endpoint and polls until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from adapters.events import TRANSFER_ENDPOINT, TransferKind, TransferRequest
from live.environments import LiveEnv
from live.transfers.config import load_transfers_config
from live.transfers.services import build_live_cex_services
from tests.live.ccxt_fake import prime_markets


def fake_venue_config(base_url: str, wallet: str):
    """The shipped transfer config with every exchange at ``base_url`` and ``wallet`` allowed."""
    shipped = load_transfers_config()
    exchanges = {
        name: type(s)(s.accounts, s.networks, {"USDT": {s.network("USDT"): (wallet,)}}, base_url=base_url)
        for name, s in shipped.exchanges.items()
    }
    return type(shipped)(exchanges, poll_interval_s=0.05, lookup_window_minutes=1)


async def main(base_url: str, state: str, wallet: str, kind: str, venue: str, amount: str) -> None:
    services = build_live_cex_services(
        [venue],
        LiveEnv.MAINNET,
        Path(state),
        publish_transfer=lambda event: print(f"event {event.request_id} {event.status}", flush=True),
        publish_funding=lambda event: None,
        funding_start_ms=0,
        wallet_address=wallet,
        config=fake_venue_config(base_url, wallet),
    )
    services.pollers.clear()  # transfers only: the fake holds no funding for this test
    for client in services.clients:
        prime_markets(client, client.id.upper())
    services.service_endpoints()[TRANSFER_ENDPOINT](
        TransferRequest("S-W1", TransferKind(kind), venue, float(amount))
    )
    await services.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
