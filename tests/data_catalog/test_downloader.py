"""The downloader against a local fake of the Binance/Bybit/OKX REST APIs.

Real ccxt clients (built by the production factory) talk HTTP to 127.0.0.1; only their base URLs
and market lists are swapped, so the requests, pagination and parsing are the ones users run.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ccxt
import pandas as pd
import pytest
from fake_exchange_server import (
    FUNDING_MS,
    HOUR_MS,
    LISTED_MS,
    FakeExchangeServer,
    Request,
    bar,
    funding_rate,
)

from data_catalog.downloader import (
    DownloadError,
    ExchangeFactory,
    RetryPolicy,
    _write_csv_atomically,
    default_exchange_factory,
    download,
    register_cli,
)
from data_catalog.raw_files import bar_file, funding_file

START, END = "2024-03-01", "2024-03-14"
HOURS = 13 * 24
PAGE = 100
"""Rows per request in these tests: a window of HOURS bars needs four pages."""
FAST = RetryPolicy(attempts=3, backoff_s=0.0)
EXCHANGES = ("binance", "bybit", "okx")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
BAR_HEADER = "timestamp,open,high,low,close,volume,source,symbol,data_type"
FUNDING_HEADER = "funding_timestamp,funding_rate,symbol,source"
BAR_SOURCES = {
    ("binance", "spot"): "binance_spot",
    ("binance", "perp"): "binance_futures",
    ("bybit", "spot"): "bybit",
    ("bybit", "perp"): "bybit",
    ("okx", "spot"): "okx",
    ("okx", "perp"): "okx",
}
FUNDING_SOURCES = {"binance": "binance_futures", "bybit": "bybit", "okx": "okx"}
MARKET_IDS = {"binance": ("{}USDT",) * 2, "bybit": ("{}USDT",) * 2, "okx": ("{}-USDT", "{}-USDT-SWAP")}
NOT_A = {"spot": False, "swap": False, "future": False, "option": False, "contract": False}
"""ccxt reads these market flags unguarded, so every market needs all of them."""


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) * 1000


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _markets(exchange: str) -> list[dict[str, object]]:
    """Just enough of ccxt's market structure for the spot and USDT-linear pairs we fetch.

    Set directly so ``load_markets`` never runs: its instrument endpoints are not what is under test.
    """
    spot_id, perp_id = MARKET_IDS[exchange]
    markets: list[dict[str, object]] = []
    for base in ("BTC", "ETH"):
        common: dict[str, object] = {
            "base": base,
            "quote": "USDT",
            "baseId": base,
            "quoteId": "USDT",
            "info": {},
        }
        spot = {"id": spot_id.format(base), "symbol": f"{base}/USDT", "type": "spot", "spot": True}
        perp = {
            "id": perp_id.format(base),
            "symbol": f"{base}/USDT:USDT",
            "settle": "USDT",
            "settleId": "USDT",
            "type": "swap",
            "swap": True,
            "contract": True,
            "linear": True,
            "inverse": False,
        }
        markets += [{**common, **NOT_A, **spot}, {**common, **NOT_A, **perp}]
    return markets


def fake_factory(server: FakeExchangeServer) -> ExchangeFactory:
    """The production factory, with every REST base URL pointed at the fake."""

    def build(name: str) -> ccxt.Exchange:
        exchange = default_exchange_factory(name)
        exchange.urls["api"] = {
            key: re.sub(r"^https://[^/]+", server.base_url, url) for key, url in exchange.urls["api"].items()
        }
        exchange.set_markets(_markets(name))
        exchange.rateLimit = 1  # keep ccxt's throttle in the loop, without real-venue pauses
        return exchange

    return build


def _download(server: FakeExchangeServer, out: Path, **overrides: object) -> list[Path]:
    arguments: dict[str, object] = {
        "exchanges": EXCHANGES,
        "symbols": SYMBOLS,
        "start": START,
        "end": END,
        "exchange_factory": fake_factory(server),
        "page_limit": PAGE,
        "retry": FAST,
    } | overrides
    return download(out, **arguments)  # type: ignore[arg-type]


def _path(exchange: str, symbol: str, kind: str) -> Path:
    """Where the raw-files layout puts a series, relative to the data dir."""
    if kind == "funding":
        return funding_file(exchange, symbol, START, END)
    return bar_file(exchange, symbol, kind, START, END)


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def server() -> Iterator[FakeExchangeServer]:
    with FakeExchangeServer() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeExchangeServer) -> Iterator[FakeExchangeServer]:
    """The shared server with a clean request log and no failures switched on."""
    server.reset()
    yield server
    server.reset()


@dataclass(frozen=True)
class FullDownload:
    out: Path
    paths: list[Path]
    progress: list[str]
    requests: list[Request]


@pytest.fixture(scope="module")
def everything(server: FakeExchangeServer, tmp_path_factory: pytest.TempPathFactory) -> FullDownload:
    """One full download (3 exchanges x 2 symbols x 3 kinds), shared by the file-shape tests."""
    server.reset()
    out = tmp_path_factory.mktemp("data")
    progress: list[str] = []
    paths = _download(server, out, progress=progress.append)
    return FullDownload(out, paths, progress, list(server.requests))


def test_writes_one_file_per_series_at_the_raw_files_paths(everything: FullDownload) -> None:
    expected = [
        everything.out / _path(exchange, symbol, kind)
        for exchange in EXCHANGES
        for symbol in SYMBOLS
        for kind in ("spot", "perp", "funding")
    ]
    assert everything.paths == expected
    assert _files(everything.out) == sorted(expected)


def test_progress_reports_one_line_per_file(everything: FullDownload) -> None:
    assert len(everything.progress) == len(everything.paths)
    for line, path in zip(everything.progress, everything.paths, strict=True):
        rows = HOURS // 8 if "funding" in path.name else HOURS
        assert line.startswith(f"{path}: {rows} rows, {START}T00:00:00Z .. ")


def test_every_request_is_a_bounded_page(everything: FullDownload) -> None:
    assert len(everything.requests) >= 18 * (HOURS // PAGE + 1)
    assert all(int(request.query["limit"]) <= PAGE for request in everything.requests)


@pytest.mark.parametrize("market", ["spot", "perp"])
@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize("exchange", EXCHANGES)
def test_bar_file_holds_every_hour_as_served(
    everything: FullDownload, exchange: str, symbol: str, market: str
) -> None:
    path = everything.out / _path(exchange, symbol, market)
    lines = path.read_text().splitlines()
    assert lines[0] == BAR_HEADER
    assert lines[1].startswith(f"{START}T00:00:00Z,")

    frame = pd.read_csv(path)
    hours = [_ms(START) + i * HOUR_MS for i in range(HOURS)]
    assert list(frame["timestamp"]) == [_iso(t) for t in hours]
    stamps = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%SZ", utc=True)
    assert stamps.diff().dropna().eq(pd.Timedelta(hours=1)).all()
    assert stamps.iloc[-1] < pd.Timestamp(END, tz="UTC")
    values = frame[["open", "high", "low", "close", "volume"]].itertuples(index=False, name=None)
    assert list(values) == [bar(exchange, market, symbol, t) for t in hours]
    assert set(frame["source"]) == {BAR_SOURCES[exchange, market]}
    assert set(frame["symbol"]) == {symbol}
    assert set(frame["data_type"]) == {"spot" if market == "spot" else "futures"}


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize("exchange", EXCHANGES)
def test_funding_file_holds_every_8h_print_as_served(
    everything: FullDownload, exchange: str, symbol: str
) -> None:
    path = everything.out / _path(exchange, symbol, "funding")
    assert path.read_text().splitlines()[0] == FUNDING_HEADER

    frame = pd.read_csv(path)
    prints = list(range(_ms(START), _ms(END), FUNDING_MS))
    assert len(prints) == HOURS // 8
    assert list(frame["funding_timestamp"]) == [_iso(t) for t in prints]
    assert list(frame["funding_rate"]) == [funding_rate(exchange, symbol, t) for t in prints]
    assert set(frame["symbol"]) == {symbol}
    assert set(frame["source"]) == {FUNDING_SOURCES[exchange]}


def test_empty_windows_before_a_listing_do_not_end_the_download(
    fake: FakeExchangeServer, tmp_path: Path
) -> None:
    listed = datetime.fromtimestamp(LISTED_MS / 1000, UTC).date()
    start, end = (listed - timedelta(days=7)).isoformat(), (listed + timedelta(days=2)).isoformat()

    paths = _download(
        fake, tmp_path, start=start, end=end, symbols=["BTCUSDT"], kinds=["perp", "funding"], page_limit=24
    )

    for path in paths:
        frame = pd.read_csv(path)
        first = frame.iloc[0, 0]
        assert first == _iso(LISTED_MS)
        assert len(frame) == (6 if "funding" in path.name else 48)


def test_a_window_without_data_is_an_error_not_an_empty_file(
    fake: FakeExchangeServer, tmp_path: Path
) -> None:
    listed = datetime.fromtimestamp(LISTED_MS / 1000, UTC).date()
    before = {
        "start": (listed - timedelta(days=9)).isoformat(),
        "end": (listed - timedelta(days=1)).isoformat(),
    }

    with pytest.raises(DownloadError, match=r"bybit BTCUSDT perp .*returned no rows"):
        _download(fake, tmp_path, exchanges=["bybit"], symbols=["BTCUSDT"], kinds=["perp"], **before)

    assert _files(tmp_path) == []


def test_rows_past_the_requested_window_are_dropped(fake: FakeExchangeServer, tmp_path: Path) -> None:
    fake.ignore_end_bounds = True

    paths = _download(fake, tmp_path, exchanges=["binance"], symbols=["BTCUSDT"], kinds=["spot", "funding"])

    for path in paths:
        frame = pd.read_csv(path)
        assert len(frame) == (HOURS // 8 if "funding" in path.name else HOURS)
        assert frame.iloc[-1, 0] < END


def test_page_limit_above_a_venue_maximum_is_capped(fake: FakeExchangeServer, tmp_path: Path) -> None:
    only = {"exchanges": ["okx"], "symbols": ["BTCUSDT"], "kinds": ["spot"]}
    [path] = _download(fake, tmp_path, **only, page_limit=10_000)

    assert len(pd.read_csv(path)) == HOURS
    assert {request.query["limit"] for request in fake.requests} == {"100"}


def test_transient_server_errors_are_retried(fake: FakeExchangeServer, tmp_path: Path) -> None:
    series = {"exchanges": ["bybit"], "symbols": ["ETHUSDT"], "kinds": ["perp"]}
    _download(fake, tmp_path / "clean", **series)
    clean_requests = len(fake.requests)
    fake.reset()
    fake.fail("ETHUSDT", after=1, times=2)

    [path] = _download(fake, tmp_path / "flaky", **series)

    assert len(fake.requests) == clean_requests + 2
    assert (tmp_path / "clean" / path.relative_to(tmp_path / "flaky")).read_text() == path.read_text()


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_persistent_server_error_names_the_series_and_leaves_its_file_alone(
    fake: FakeExchangeServer, tmp_path: Path, exchange: str
) -> None:
    failing = tmp_path / _path(exchange, "ETHUSDT", "spot")
    failing.parent.mkdir(parents=True)
    failing.write_text("previous download\n")
    fake.fail("ETHUSDT", after=2)  # two pages succeed, then every request fails

    with pytest.raises(DownloadError, match=rf"{exchange} ETHUSDT spot \[{START}, {END}\).*3 attempts"):
        _download(fake, tmp_path, exchanges=[exchange], kinds=["spot"])

    assert len(fake.requests_for("ETHUSDT")) == 2 + FAST.attempts
    assert failing.read_text() == "previous download\n"
    assert _files(tmp_path) == sorted([failing, tmp_path / _path(exchange, "BTCUSDT", "spot")])


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_exchange_rejections_are_not_retried(fake: FakeExchangeServer, tmp_path: Path, exchange: str) -> None:
    fake.delist("BTCUSDT")

    with pytest.raises(DownloadError, match=rf"{exchange} BTCUSDT funding .*(?i:invalid|not exist)"):
        _download(fake, tmp_path, exchanges=[exchange], symbols=["BTCUSDT"], kinds=["funding"])

    assert len(fake.requests_for("BTCUSDT")) == 1
    assert _files(tmp_path) == []


def test_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    def rows() -> Iterator[tuple[object, ...]]:
        yield ("2024-01-01T00:00:00Z", 1.0)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _write_csv_atomically(tmp_path / "cex" / "x.csv", ("a", "b"), rows())

    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exchanges": ["kraken"]}, "unknown exchange 'kraken'"),
        ({"exchanges": "binance"}, "exchanges must be a non-empty list"),
        ({"symbols": ["BTC/USDT"]}, "unknown symbol 'BTC/USDT'"),
        ({"symbols": []}, "symbols must be a non-empty list"),
        ({"kinds": ["options"]}, "unknown kind 'options'"),
        ({"start": END, "end": START}, "must be before end"),
        ({"start": START, "end": START}, "must be before end"),
        ({"start": "2024-13-01"}, "start must be a date like"),
        ({"end": "2024-3-14"}, "end must be a date like"),
        ({"start": "yesterday"}, "start must be a date like"),
        ({"end": "2999-01-01"}, "is after today"),
        ({"page_limit": 0}, "page_limit must be at least 1"),
        ({"retry": RetryPolicy(attempts=0)}, "attempts >= 1"),
    ],
)
def test_bad_inputs_are_rejected_before_any_request(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    def no_exchange(name: str) -> ccxt.Exchange:
        raise AssertionError(f"no exchange should be built, got {name}")

    arguments: dict[str, object] = {
        "exchanges": EXCHANGES,
        "symbols": SYMBOLS,
        "start": START,
        "end": END,
        "exchange_factory": no_exchange,
    } | overrides
    with pytest.raises(ValueError, match=re.escape(message)):
        download(tmp_path, **arguments)  # type: ignore[arg-type]
    assert _files(tmp_path) == []


@pytest.mark.parametrize("name", EXCHANGES)
def test_default_factory_builds_rate_limited_public_clients(name: str) -> None:
    exchange = default_exchange_factory(name)

    assert exchange.id == name
    assert exchange.enableRateLimit
    assert not exchange.apiKey
    assert "spot" in exchange.options["fetchMarkets"]["types"]


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="data_catalog")
    register_cli(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["download", *argv])


def test_cli_defaults() -> None:
    args = _cli("--start", START, "--end", END)

    assert args.out == Path("data")
    assert (args.exchanges, args.symbols, args.kinds) == (
        ["binance", "bybit", "okx"],
        ["BTCUSDT", "ETHUSDT"],
        ["spot", "perp", "funding"],
    )


def test_cli_downloads_and_prints_a_line_per_file(
    fake: FakeExchangeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli(
        "--exchanges", "okx", "--symbols", "ETHUSDT", "--kinds", "perp,funding",
        "--start", START, "--end", END, "--out", str(tmp_path),
    )  # fmt: skip

    assert args.func(args, exchange_factory=fake_factory(fake)) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{tmp_path / _path('okx', 'ETHUSDT', 'perp')}: {HOURS} rows, "
        f"{START}T00:00:00Z .. 2024-03-13T23:00:00Z",
        f"{tmp_path / _path('okx', 'ETHUSDT', 'funding')}: {HOURS // 8} rows, "
        f"{START}T00:00:00Z .. 2024-03-13T16:00:00Z",
    ]


@pytest.mark.parametrize(
    ("argv", "fail", "code", "message"),
    [
        (("--exchanges", "kraken"), False, 2, "unknown exchange 'kraken'"),
        (("--exchanges", "okx", "--symbols", "ETHUSDT"), True, 1, "okx ETHUSDT spot"),
    ],
)
def test_cli_reports_failures_with_exit_code(
    fake: FakeExchangeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    fail: bool,
    code: int,
    message: str,
) -> None:
    if fail:
        fake.delist("ETHUSDT")
    args = _cli(*argv, "--start", START, "--end", END, "--out", str(tmp_path))

    assert args.func(args, exchange_factory=fake_factory(fake)) == code
    assert message in capsys.readouterr().err
