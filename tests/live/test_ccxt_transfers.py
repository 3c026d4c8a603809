"""The live CEX transfer service on ccxt, against fake Binance, Bybit and OKX wallet routes on 127.0.0.1.

Real ccxt clients (keys from the environment, REST hosts pointed at the fake) make real HTTP
calls; the fake counts them by route, so "nothing reached the venue" and "exactly one
withdrawal" are counted, not inferred. A kill is a cancelled service task (nothing after the
cancelled await runs) followed by a fresh service on the same state file.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.config import ConfigError
from adapters.events import TransferEvent, TransferKind, TransferRequest, TransferStatus, VenueLedger
from live.environments import LiveEnv
from live.transfers.config import load_transfers_config
from live.transfers.exchanges import MissingCredentials, build_exchange
from live.transfers.lifecycle import LegStatus, RequestRecord
from live.transfers.service import CcxtTransferService
from live.transfers.store import LifecycleStore
from tests.live.ccxt_fake import FakeCcxtVenues, Hold, prime_markets

PROJECT = Path(__file__).resolve().parents[2]
WALLET = "0x1111111111111111111111111111111111111111"
STRANGER = "0x2222222222222222222222222222222222222222"
KEYS = {
    "BINANCE_API_KEY": "fake-binance-key-7Q1",
    "BINANCE_API_SECRET": "fake-binance-secret-9Z4",
    "BYBIT_API_KEY": "fake-bybit-key-3K8",
    "BYBIT_API_SECRET": "fake-bybit-secret-5M2",
    "OKX_API_KEY": "fake-okx-key-6T0",
    "OKX_API_SECRET": "fake-okx-secret-2W7",
    "OKX_API_PASSPHRASE": "fake-okx-pass-8R3",
}


@pytest.fixture
def keys(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return KEYS


class Harness:
    """A service on fake venues with the events it published, rebuilt on the same store to restart."""

    def __init__(self, fake: FakeCcxtVenues, state: Path, config, wallet: str | None) -> None:
        self.fake, self.state, self.config, self.wallet = fake, state, config, wallet
        self.events: list[TransferEvent] = []
        self.service: CcxtTransferService | None = None
        self.clients = []

    def start(self, sender=None) -> CcxtTransferService:
        self.clients = {
            name: build_exchange(name, LiveEnv.MAINNET, base_url=self.fake.base_url)
            for name in ("BINANCE", "BYBIT", "OKX")
        }
        for name, client in self.clients.items():
            prime_markets(client, name)
        self.service = CcxtTransferService(
            self.config,
            self.clients,
            LifecycleStore(self.state),
            self.events.append,
            wallet_address=self.wallet,
            deposit_sender=sender,
            fee_estimate=lambda exchange, asset: 1.0,
        )
        return self.service

    async def kill(self) -> None:
        for client in self.clients.values():
            await client.close()
        self.service.store.close()

    def statuses(self, request_id: str) -> list[str]:
        return [str(e.status) for e in self.events if e.request_id == request_id]


def _config(allow: dict[str, str] | None = None, bybit_classic: bool = False):
    """The shipped config with the fake's allow-list (exchange → address) and Bybit's account mode."""
    shipped = load_transfers_config()
    exchanges = {}
    for name, settings in shipped.exchanges.items():
        allow_list = {"USDT": {settings.network("USDT"): (allow[name],)}} if allow and name in allow else {}
        accounts = settings.accounts
        if name == "BYBIT" and bybit_classic:
            accounts = type(accounts)(spot="spot", futures={"USDT": "contract"}, funding="spot")
        exchanges[name] = type(settings)(accounts, settings.networks, allow_list)
    return type(shipped)(exchanges, poll_interval_s=0.01, lookup_window_minutes=1)


@pytest.fixture
def venues(tmp_path, keys):
    """Runs ``body(harness, fake)`` on a fresh event loop with the fake venues up (pytest here
    has no asyncio plugin: each test is one ``asyncio.run``)."""

    def run(body, config=None, wallet: str | None = WALLET) -> None:
        config = config or _config({n: WALLET for n in ("BINANCE", "BYBIT", "OKX")})

        async def main() -> None:
            fake = FakeCcxtVenues()
            await fake.start()
            harness = Harness(fake, tmp_path / "transfers.sqlite", config, wallet)
            try:
                await body(harness, fake)
            finally:
                if harness.service is not None:
                    await harness.kill()
                await fake.stop()

        asyncio.run(main())

    return run


async def _settle(harness: Harness, request_id: str, polls: int = 10) -> None:
    for _ in range(polls):
        await harness.service.advance(request_id)


# -- internal transfers ----------------------------------------------------------------------


def test_binance_spot_to_usdt_futures_is_one_universal_transfer(venues):
    async def body(harness, fake):
        service = harness.start()
        record = service.accept(TransferRequest("S-T1", TransferKind.TO_FUTURES, "BINANCE", 250.75))
        await service.advance(record.request_id)
        assert harness.statuses("S-T1") == ["requested", "arrived"]
        assert fake.wallets.hits["POST /sapi/v1/asset/transfer"] == 1
        (sent,) = fake.wallets.transfers
        assert (sent["from"], sent["to"], sent["coin"], float(sent["amount"])) == (
            "MAIN",
            "UMFUTURE",
            "USDT",
            250.75,
        )
        arrived = harness.events[-1]
        assert arrived.ledger == VenueLedger(0.0, 250.75)
        assert set(fake.wallets.api_keys) == {KEYS["BINANCE_API_KEY"]}

    venues(body)


def test_binance_futures_to_spot_moves_the_ledger_back(venues):
    async def body(harness, fake):
        service = harness.start()
        for rid, kind, amount in (
            ("S-T1", TransferKind.TO_FUTURES, 300.0),
            ("S-T2", TransferKind.TO_SPOT, 120.5),
        ):
            await service.advance(service.accept(TransferRequest(rid, kind, "BINANCE", amount)).request_id)
        assert [(t["from"], t["to"]) for t in fake.wallets.transfers] == [
            ("MAIN", "UMFUTURE"),
            ("UMFUTURE", "MAIN"),
        ]
        assert harness.events[-1].ledger == VenueLedger(0.0, 300.0 - 120.5)

    venues(body)


def test_bybit_classic_transfer_carries_our_transfer_id(venues):
    async def body(harness, fake):
        service = harness.start()
        record = service.accept(TransferRequest("S-T1", TransferKind.TO_FUTURES, "BYBIT", 99.5))
        await service.advance(record.request_id)
        assert harness.statuses("S-T1") == ["requested", "arrived"]
        (sent,) = fake.wallets.transfers
        assert (sent["from"], sent["to"], float(sent["amount"])) == ("SPOT", "CONTRACT", 99.5)
        hex_id = record.legs[0].client_id
        assert sent["transfer_id"].replace("-", "") == hex_id  # Bybit files it under our id
        assert set(fake.wallets.api_keys) == {KEYS["BYBIT_API_KEY"]}

    venues(body, config=_config(bybit_classic=True))


def test_unified_account_transfer_moves_only_the_ledger(venues):
    async def body(harness, fake):
        service = harness.start()
        for venue in ("BYBIT", "OKX"):
            record = service.accept(TransferRequest(f"{venue}-T1", TransferKind.TO_FUTURES, venue, 500.0))
            await service.advance(record.request_id)
            assert harness.statuses(f"{venue}-T1") == ["requested", "arrived"]
            assert harness.events[-1].ledger == VenueLedger(0.0, 500.0)
        assert sum(fake.wallets.hits.values()) == 0

    venues(body)


def test_okx_withdrawal_moves_cash_to_funding_then_withdraws(venues):
    async def body(harness, fake):
        service = harness.start()
        record = service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "OKX", 1000.0))
        await _settle(harness, record.request_id)
        (moved,) = fake.wallets.transfers
        assert (moved["from"], moved["to"], float(moved["amount"])) == (
            "18",
            "6",
            1001.0,
        )  # amount + modelled fee
        assert moved["client_id"] == record.legs[0].client_id
        (sent,) = fake.wallets.withdrawals
        assert (sent["address"], float(sent["amount"]), sent["network"]) == (WALLET, 1000.0, "USDT-ERC20")
        assert sent["client_id"] == record.legs[1].client_id
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]
        submitted = next(e for e in harness.events if e.status == TransferStatus.SUBMITTED)
        assert (submitted.fee, submitted.fee_usdt) == (1.2, 1.2)  # as the fake's history lists it
        assert submitted.ledger == VenueLedger(-1001.2, 0.0)
        assert set(fake.wallets.api_keys) == {KEYS["OKX_API_KEY"]}

    venues(body)


# -- withdrawals and the allow-list ----------------------------------------------------------


def test_binance_withdrawal_to_allow_listed_address_completes(venues):
    async def body(harness, fake):
        service = harness.start()
        record = service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 2500.0))
        await service.advance(record.request_id)
        assert harness.statuses("S-W1") == ["requested", "submitted"]  # listed, still processing
        await _settle(harness, record.request_id)
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]
        (sent,) = fake.wallets.withdrawals
        assert (sent["address"], float(sent["amount"]), sent["client_id"]) == (
            WALLET,
            2500.0,
            record.legs[0].client_id,
        )
        assert fake.wallets.hits["POST /sapi/v1/capital/withdraw/apply"] == 1
        assert harness.events[1].fee == 1.5 and harness.events[1].ledger == VenueLedger(-2501.5, 0.0)

    venues(body)


def test_withdrawal_to_an_address_off_the_allow_list_never_reaches_the_venue(venues):
    async def body(harness, fake):
        service = harness.start()
        for venue in ("BINANCE", "OKX", "BYBIT"):
            assert (
                service.accept(TransferRequest(f"{venue}-W", TransferKind.WITHDRAWAL, venue, 100.0)) is None
            )
            failed = harness.events[-1]
            assert failed.status == TransferStatus.FAILED
            assert STRANGER in failed.reason and "allow-list" in failed.reason and venue in failed.reason
        await service.poll_open()
        assert sum(fake.wallets.hits.values()) == 0

    venues(body, config=_config({"BINANCE": WALLET, "OKX": WALLET}), wallet=STRANGER)


def test_allow_list_compares_evm_addresses_case_insensitively(venues):
    async def body(harness, fake):
        assert (
            harness.start().accept(TransferRequest("W", TransferKind.WITHDRAWAL, "BINANCE", 10.0)) is not None
        )

    venues(body, config=_config({"BINANCE": "0x" + WALLET[2:].upper()}))


def test_a_reused_request_id_is_refused_without_touching_the_first(venues):
    async def body(harness, fake):
        service = harness.start()
        first = service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 10.0))
        assert service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 99.0)) is None
        assert "used before" in harness.events[-1].reason
        assert RequestRecord.from_json(service.store.load("S-W1")).amount == first.amount == 10.0

    venues(body)


def test_a_venue_refusal_fails_the_request(venues):
    async def body(harness, fake):
        service = harness.start()
        record = service.accept(TransferRequest("S-T9", TransferKind.TO_FUTURES, "BINANCE", 10.0))
        record.legs[0].to_account = "margin"  # a direction the fake rejects (HTTP 400, code -1100)
        service._save(record)
        await service.advance("S-T9")
        failed = harness.events[-1]
        assert failed.status == TransferStatus.FAILED and "refused by BINANCE" in failed.reason

    venues(body)


# -- deposits --------------------------------------------------------------------------------


class ChainSender:
    """The wallet's side: records the send and has the fake venue see the deposit on chain."""

    def __init__(self, fake: FakeCcxtVenues) -> None:
        self.fake, self.sent = fake, []

    async def send(self, exchange, code, amount, address, network):
        txid = f"0xdeposit{len(self.sent) + 1:04d}"
        self.sent.append((exchange, code, amount, address, network))
        self.fake.wallets.credit_deposit(exchange, code, amount, txid, "ETH")
        return txid


def test_deposit_arrives_after_the_venue_credits_it(venues):
    async def body(harness, fake):
        fake.wallets.polls_to_complete = 3
        sender = ChainSender(fake)
        service = harness.start(sender)
        record = service.accept(TransferRequest("S-D1", TransferKind.DEPOSIT, "BINANCE", 5000.0))
        await service.advance(record.request_id)
        assert sender.sent == [("BINANCE", "USDT", 5000.0, "0xdepositusdt", "ERC20")]
        assert harness.statuses("S-D1") == ["requested", "submitted"]
        for poll in range(1, 4):
            await service.advance(record.request_id)
            assert harness.statuses("S-D1")[-1] == ("arrived" if poll == 3 else "submitted"), poll
        # one lookup right after the send, then one per poll: credited on the 4th (> 3 polls pending)
        assert fake.wallets.hits["GET /sapi/v1/capital/deposit/hisrec"] == 4
        assert harness.events[-1].ledger == VenueLedger(5000.0, 0.0)

    venues(body)


def test_deposit_without_a_chain_sender_is_refused(venues):
    async def body(harness, fake):
        service = harness.start()
        assert service.accept(TransferRequest("S-D1", TransferKind.DEPOSIT, "BINANCE", 10.0)) is None
        assert "sender" in harness.events[-1].reason

    venues(body)


# -- restarts --------------------------------------------------------------------------------


async def _kill_at(harness: Harness, hold: Hold, request: TransferRequest) -> None:
    """Start ``request`` and kill the service while the venue holds the call named by ``hold``."""
    harness.fake.wallets.hold = hold
    service = harness.start()
    record = service.accept(request)
    task = asyncio.create_task(service.advance(record.request_id))
    await asyncio.wait_for(hold.reached.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await harness.kill()


@pytest.mark.parametrize("executed", [False, True], ids=["before-venue-got-it", "venue-executed-it"])
def test_kill_between_requested_and_sent_withdraws_once(venues, executed):
    async def body(harness, fake):
        request = TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 750.0)
        await _kill_at(harness, Hold("POST /sapi/v1/capital/withdraw/apply", execute=executed), request)
        stored = RequestRecord.from_json(LifecycleStore(harness.state).load("S-W1"))
        assert stored.legs[0].status is LegStatus.REQUESTED  # written before the call, never marked sent
        assert len(fake.wallets.withdrawals) == int(executed)

        service = harness.start()  # the restart
        await service.resume()
        await _settle(harness, "S-W1")
        assert len(fake.wallets.withdrawals) == 1
        assert fake.wallets.hits["POST /sapi/v1/capital/withdraw/apply"] == 1 + int(
            not executed
        )  # the held one + a send only if it never landed
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]

    venues(body)


def test_kill_between_sent_and_confirmed_resumes_without_resending(venues):
    async def body(harness, fake):
        fake.wallets.polls_to_complete = 5
        service = harness.start()
        record = service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 750.0))
        await service.advance(record.request_id)
        await service.advance(record.request_id)
        assert RequestRecord.from_json(service.store.load("S-W1")).legs[0].status is LegStatus.SENT
        await harness.kill()

        service = harness.start()
        await service.resume()
        await _settle(harness, "S-W1")
        assert fake.wallets.hits["POST /sapi/v1/capital/withdraw/apply"] == 1
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]  # nothing published twice

    venues(body)


def test_kill_during_an_internal_transfer_transfers_once(venues):
    """Binance universal transfers carry no client id: the lookup matches amount, direction and time."""

    async def body(harness, fake):
        request = TransferRequest("S-T1", TransferKind.TO_FUTURES, "BINANCE", 321.5)
        await _kill_at(harness, Hold("POST /sapi/v1/asset/transfer", execute=True), request)
        service = harness.start()
        await service.resume()
        assert len(fake.wallets.transfers) == 1
        assert fake.wallets.hits["POST /sapi/v1/asset/transfer"] == 1
        assert harness.statuses("S-T1") == ["requested", "arrived"]
        assert harness.events[-1].ledger == VenueLedger(0.0, 321.5)

    venues(body)


def test_okx_kill_after_the_withdrawal_landed_finds_it_by_client_id(venues):
    async def body(harness, fake):
        request = TransferRequest("S-W1", TransferKind.WITHDRAWAL, "OKX", 400.0)
        await _kill_at(harness, Hold("POST /api/v5/asset/withdrawal", execute=True), request)
        service = harness.start()
        await service.resume()
        await _settle(harness, "S-W1")
        assert fake.wallets.hits["POST /api/v5/asset/transfer"] == 1
        assert fake.wallets.hits["POST /api/v5/asset/withdrawal"] == 1
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]

    venues(body)


# -- credentials -----------------------------------------------------------------------------


def test_missing_keys_are_named_by_variable(monkeypatch):
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingCredentials, match="OKX_API_KEY, OKX_API_SECRET, OKX_API_PASSPHRASE"):
        build_exchange("OKX", LiveEnv.MAINNET)
    with pytest.raises(ValueError, match="sandbox"):
        build_exchange("OKX", LiveEnv.SANDBOX)


def test_kill_after_a_deposit_was_sent_resumes_by_its_hash(venues):
    async def body(harness, fake):
        fake.wallets.polls_to_complete = 4
        sender = ChainSender(fake)
        service = harness.start(sender)
        record = service.accept(TransferRequest("S-D1", TransferKind.DEPOSIT, "BINANCE", 800.0))
        await service.advance(record.request_id)
        assert harness.statuses("S-D1") == ["requested", "submitted"]
        await harness.kill()

        service = harness.start(sender)  # the restart: the sender is never asked again
        await service.resume()
        await _settle(harness, "S-D1")
        assert len(sender.sent) == 1
        assert harness.statuses("S-D1") == ["requested", "submitted", "arrived"]
        assert RequestRecord.from_json(service.store.load("S-D1")).legs[0].venue_id == "0xdeposit0001"

    venues(body)


def test_bybit_withdrawal_killed_after_it_landed_is_found_by_amount_and_address(venues):
    """Bybit lists no client id of ours on withdrawals: the restart finds it by amount, address, time."""

    async def body(harness, fake):
        request = TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BYBIT", 640.0)
        await _kill_at(harness, Hold("POST /v5/asset/withdraw/create", execute=True), request)
        service = harness.start()
        await service.resume()
        await _settle(harness, "S-W1")
        (moved,) = fake.wallets.transfers
        assert (moved["from"], moved["to"], float(moved["amount"])) == ("UNIFIED", "FUND", 641.0)
        (sent,) = fake.wallets.withdrawals
        assert (sent["address"], float(sent["amount"]), sent["network"]) == (WALLET, 640.0, "ETH")
        assert sent["client_id"] == RequestRecord.from_json(service.store.load("S-W1")).legs[1].client_id
        assert fake.wallets.hits["POST /v5/asset/withdraw/create"] == 1
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]
        assert harness.events[1].fee == 1.0

    venues(body)


def test_an_answer_lost_after_the_venue_executed_is_looked_up_not_resent(venues):
    async def body(harness, fake):
        fake.wallets.lose_answer = "POST /sapi/v1/capital/withdraw/apply"
        logged = []
        service = harness.start()
        service._log = logged.append
        record = service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 90.0))
        await _settle(harness, record.request_id)
        assert fake.wallets.hits["POST /sapi/v1/capital/withdraw/apply"] == 1
        assert harness.statuses("S-W1") == ["requested", "submitted", "arrived"]
        assert any("answer lost" in line for line in logged)

    venues(body)


def test_a_withdrawal_the_venue_never_completes_times_out_and_is_still_watched(venues):
    async def body(harness, fake):
        fake.wallets.polls_to_complete = 3
        service = harness.start()
        clock = [1_000_000]
        service._now_ms = lambda: clock[0]
        record = service.accept(TransferRequest("S-W1", TransferKind.WITHDRAWAL, "BINANCE", 90.0))
        await service.advance(record.request_id)
        clock[0] += int(harness.config.withdrawal_timeout_minutes * 60_000) + 1
        await service.advance(record.request_id)
        assert harness.statuses("S-W1") == ["requested", "submitted", "timed_out"]
        assert "240 minutes" in harness.events[-1].reason
        await _settle(harness, record.request_id)
        assert harness.statuses("S-W1") == ["requested", "submitted", "timed_out", "arrived"]

    venues(body)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "exchanges: {KRAKEN: {accounts: {spot: a, futures: {}, funding: a}, networks: {}}}",
            r"unknown \['KRAKEN'\]",
        ),
        (
            "exchanges: {OKX: {accounts: {spot: a, futures: {}, funding: a}, networks: {}, allow_list: {USDT: {ERC20: ['']}}}}",
            "allow_list.USDT.ERC20",
        ),
        ("exchanges: {}\npoll_interval_s: 0", "poll_interval_s"),
        ("exchanges: {OKX: {accounts: {spot: a, futures: {}, funding: a}}}", "networks"),
    ],
)
def test_bad_transfer_config_is_refused_naming_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "transfers.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as raised:
        load_transfers_config(path)
    assert str(path) in str(raised.value)


def test_the_shipped_config_allows_no_withdrawal():
    config = load_transfers_config()
    assert sorted(config.exchanges) == ["BINANCE", "BYBIT", "OKX"]
    assert all(not settings.allow_list for settings in config.exchanges.values())
    assert config.exchange("BINANCE").accounts.futures_account("BTC") == "inverse"
    with pytest.raises(ValueError, match="no futures account for SOL"):
        config.exchange("BINANCE").accounts.futures_account("SOL")


def test_a_deposit_whose_send_answer_was_lost_is_matched_by_amount(venues):
    """The wallet sent it but the service never got the hash: the venue's deposit of that amount
    since the request is adopted (its hash recorded), and nothing is sent again."""

    class LostAnswer(ChainSender):
        async def send(self, exchange, code, amount, address, network):
            await super().send(exchange, code, amount, address, network)
            raise ConnectionError("wallet RPC dropped the answer")

    async def body(harness, fake):
        fake.wallets.polls_to_complete = 1
        sender = LostAnswer(fake)
        service = harness.start(sender)
        logged = []
        service._log = logged.append
        record = service.accept(TransferRequest("S-D1", TransferKind.DEPOSIT, "BINANCE", 1234.5))
        await service.advance(record.request_id)
        assert harness.statuses("S-D1") == ["requested"]
        assert any("ConnectionError" in line for line in logged)
        await _settle(harness, "S-D1")
        assert len(sender.sent) == 1
        assert harness.statuses("S-D1") == ["requested", "submitted", "arrived"]
        assert RequestRecord.from_json(service.store.load("S-D1")).legs[0].venue_id == "0xdeposit0001"

    venues(body)


class FakeInThread:
    """The fake venues on their own event loop in a thread, for a test whose client is another process."""

    def __init__(self) -> None:
        self.fake = FakeCcxtVenues()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _wait_for(condition, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("stage", ["requested", "sent"])
def test_sigkilled_service_process_resumes_and_withdraws_once(tmp_path, keys, stage):
    """A real process, killed with SIGKILL (no cleanup, the SQLite file as the kill left it):
    while the venue holds the executed withdrawal unanswered (REQUESTED on disk), or after the
    venue acknowledged it (SENT on disk) while it is still pending."""
    server = FakeInThread()
    fake, state = server.fake, tmp_path / "state.sqlite"
    route = "POST /sapi/v1/capital/withdraw/apply"
    if stage == "requested":
        fake.wallets.hold = Hold(route, execute=True)
    else:
        fake.wallets.polls_to_complete = 10_000  # pending for as long as the child lives
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.live.ccxt_service_child",
            fake.base_url,
            str(state),
            WALLET,
            "withdrawal",
            "BINANCE",
            "777.25",
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        if stage == "requested":
            _wait_for(lambda: fake.wallets.withdrawals, "the withdrawal to reach the fake")
        else:
            _wait_for(lambda: fake.wallets.hits["GET /sapi/v1/capital/withdraw/history"] >= 2, "two polls")
        child.send_signal(signal.SIGKILL)
        output, _ = child.communicate(timeout=10)
        stored = RequestRecord.from_json(LifecycleStore(state).load("S-W1"))
        assert stored.legs[0].status is (LegStatus.REQUESTED if stage == "requested" else LegStatus.SENT), (
            output
        )
        fake.wallets.polls_to_complete = 1
        config = _config({"BINANCE": WALLET})

        async def restart() -> list[str]:
            harness = Harness(fake, state, config, WALLET)
            service = harness.start()
            await service.resume()
            await _settle(harness, "S-W1")
            await harness.kill()
            return harness.statuses("S-W1")

        published_after = asyncio.run(restart())
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()
    assert fake.wallets.hits[route] == 1
    assert len(fake.wallets.withdrawals) == 1 and float(fake.wallets.withdrawals[0]["amount"]) == 777.25
    before = ["requested"] if stage == "requested" else ["requested", "submitted"]
    assert [line.split()[-1] for line in output.splitlines() if line.startswith("event S-W1")] == before
    assert published_after == (["submitted", "arrived"] if stage == "requested" else ["arrived"])
