"""Funding actually paid, read with ccxt from fake Binance, Bybit and OKX income routes on 127.0.0.1,
becomes the accounting's FundingSettled events: amounts as the venue lists them (in the
accounting's sign: negative = paid), each payment once across polls and restarts. Also: the
assembled services with distinctive keys leave them in no output, log or state file."""

from __future__ import annotations

import asyncio
import math

import pytest

from adapters.events import FundingSettled, TransferKind, TransferRequest
from live.environments import LiveEnv
from live.transfers.config import load_transfers_config
from live.transfers.exchanges import build_exchange
from live.transfers.funding_history import FundingHistoryPoller, perp_markets
from live.transfers.services import build_live_cex_services
from live.transfers.store import LifecycleStore
from tests.live.ccxt_fake import FakeCcxtVenues, prime_markets
from tests.live.test_ccxt_transfers import KEYS, WALLET

H8 = 8 * 3_600_000
T0 = 1_717_200_000_000  # 2024-06-01 00:00 UTC


def _binance_rows(count: int, start: int = 0) -> list[dict]:
    return [
        {
            "symbol": "BTCUSDT",
            "incomeType": "FUNDING_FEE",
            "income": f"{-1.25 - 0.5 * i:.2f}",
            "asset": "USDT",
            "info": "FUNDING_FEE",
            "time": T0 + i * H8,
            "tranId": str(9000 + i),
            "tradeId": "",
        }
        for i in range(start, count)
    ]


def _bybit_rows(count: int) -> list[dict]:
    return [
        {
            "symbol": "ETHUSDT",
            "execType": "Funding",
            "execFee": f"{0.75 * (i + 1):.2f}",
            "feeRate": "0.0001",
            "execTime": str(T0 + i * H8),
            "execId": f"bybit-{i}",
            "category": "linear",
        }
        for i in range(count)
    ]


def _okx_rows(count: int) -> list[dict]:
    return [
        {
            "billId": f"okx-{i}",
            "instId": "BTC-USDT-SWAP",
            "ccy": "USDT",
            "balChg": f"{2.5 - i:.1f}",
            "posBalChg": "0",
            "ts": str(T0 + i * H8),
            "type": "8",
        }
        for i in range(count)
    ]


def _run(body) -> None:
    async def main() -> None:
        fake = FakeCcxtVenues()
        await fake.start()
        try:
            await body(fake)
        finally:
            await fake.stop()

    asyncio.run(main())


@pytest.fixture
def keys(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def _pollers(fake, state, events):
    store = LifecycleStore(state)
    clients, pollers = [], []
    for exchange, symbol in (
        ("BINANCE", "BTC/USDT:USDT"),
        ("BYBIT", "ETH/USDT:USDT"),
        ("OKX", "BTC/USDT:USDT"),
    ):
        client = build_exchange(exchange, LiveEnv.MAINNET, keys_of=exchange, base_url=fake.base_url)
        prime_markets(client, exchange)
        markets = [m for m in perp_markets(exchange) if m.symbol == symbol]
        pollers.append(
            FundingHistoryPoller(exchange, client, markets, store, events.append, start_ms=T0 - H8)
        )
        clients.append(client)
    return store, clients, pollers


async def _close(store, clients) -> None:
    for client in clients:
        await client.close()
    store.close()


def test_funding_paid_becomes_funding_events_once(tmp_path, keys):
    events: list[FundingSettled] = []

    async def body(fake):
        fake.wallets.funding = {"BINANCE": _binance_rows(3), "BYBIT": _bybit_rows(2), "OKX": _okx_rows(2)}
        store, clients, pollers = _pollers(fake, tmp_path / "s.sqlite", events)
        assert [await p.poll() for p in pollers] == [3, 2, 2]
        assert [await p.poll() for p in pollers] == [0, 0, 0]  # the same rows again: nothing new
        fake.wallets.funding["BINANCE"] += _binance_rows(5, start=3)
        await _close(store, clients)

        store, clients, pollers = _pollers(fake, tmp_path / "s.sqlite", events)  # a restart
        assert [await p.poll() for p in pollers] == [2, 0, 0]
        await _close(store, clients)

    _run(body)
    by_venue = {v: [e for e in events if e.venue == v] for v in ("BINANCE", "BYBIT", "OKX")}
    assert [e.payment for e in by_venue["BINANCE"]] == [-1.25, -1.75, -2.25, -2.75, -3.25]
    assert [e.ts_event for e in by_venue["BINANCE"]] == [(T0 + i * H8) * 1_000_000 for i in range(5)]
    assert {e.instrument_id for e in by_venue["BINANCE"]} == {"BTCUSDT-PERP.BINANCE"}
    assert [e.payment for e in by_venue["BYBIT"]] == [
        -0.75,
        -1.5,
    ]  # Bybit lists paid funding as a positive fee
    assert {e.instrument_id for e in by_venue["BYBIT"]} == {"ETHUSDT-LINEAR.BYBIT"}
    assert [e.payment for e in by_venue["OKX"]] == [2.5, 1.5]
    assert {e.instrument_id for e in by_venue["OKX"]} == {"BTC-USDT-SWAP.OKX"}
    assert all(e.payment_usdt == e.payment and math.isnan(e.rate) for e in events)


def test_coin_margined_payment_waits_for_a_price(tmp_path, keys):
    events: list[FundingSettled] = []
    prices: dict[str, float] = {}

    async def body(fake):
        fake.wallets.funding = {
            "BINANCE": [{**_binance_rows(1)[0], "symbol": "BTCUSD_PERP", "income": "-0.0001", "asset": "BTC"}]
        }
        client = build_exchange("BINANCE", LiveEnv.MAINNET, keys_of="BINANCE", base_url=fake.base_url)
        prime_markets(client, "BINANCE")
        (inverse,) = [m for m in perp_markets("BINANCE") if m.settlement == "BTC"]
        store = LifecycleStore(tmp_path / "s.sqlite")
        poller = FundingHistoryPoller(
            "BINANCE", client, [inverse], store, events.append, start_ms=T0, usdt_price=prices.get
        )
        assert await poller.poll() == 0  # no BTC price yet: not booked, read again next poll
        prices["BTC"] = 67_000.0
        assert await poller.poll() == 1
        await _close(store, [client])

    _run(body)
    (event,) = events
    assert event.instrument_id == "BTCUSD-PERP.BINANCE"
    assert event.payment == -0.0001 and event.payment_usdt == pytest.approx(-6.7)


def test_assembled_services_never_expose_the_keys(tmp_path, keys, capfd):
    log_file = tmp_path / "services.log"
    config = load_transfers_config()

    async def body(fake):
        fake.wallets.funding = {"BINANCE": _binance_rows(2), "BYBIT": _bybit_rows(1), "OKX": _okx_rows(1)}
        fake.wallets.polls_to_complete = 0
        live_config = type(config)(
            {
                name: type(s)(
                    s.accounts, s.networks, {"USDT": {s.network("USDT"): (WALLET,)}}, base_url=fake.base_url
                )
                for name, s in config.exchanges.items()
            },
            poll_interval_s=0.01,
        )
        transfers, funding = [], []
        with log_file.open("w") as log:
            services = build_live_cex_services(
                ["BINANCE", "BYBIT", "OKX"],
                LiveEnv.MAINNET,
                tmp_path / "state.sqlite",
                publish_transfer=transfers.append,
                publish_funding=funding.append,
                funding_start_ms=T0,
                wallet_address=WALLET,
                config=live_config,
                log=lambda line: print(line, file=log),
            )
            for client in services.clients:
                prime_markets(client, client.id.upper())
            handler = services.service_endpoints()["Transfers.request"]
            handler(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 100.0))
            task = asyncio.create_task(services.run())
            for _ in range(200):
                await asyncio.sleep(0.02)
                if len(funding) == 4 and [str(e.status) for e in transfers][-1:] == ["arrived"]:
                    break
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await services.close()
        assert [str(e.status) for e in transfers] == ["requested", "submitted", "arrived"]
        assert len(funding) == 4
        assert set(fake.wallets.api_keys) == {
            KEYS["BINANCE_API_KEY"],
            KEYS["BYBIT_API_KEY"],
            KEYS["OKX_API_KEY"],
        }

    _run(body)
    out, err = capfd.readouterr()
    written = [out, err] + [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    for secret in KEYS.values():
        assert all(secret not in text for text in written), secret
