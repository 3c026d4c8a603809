"""Download raw 1h OHLCV and funding-rate history from CEXs into the raw-file layout.

Backtests only ever read the CSVs described in :mod:`data_catalog.raw_files`; this module is the one
place that talks to exchanges (through ccxt), so extending the history to a new window is a
``download`` call instead of a hand-run notebook.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ccxt

from data_catalog.raw_files import BAR_COLUMNS, FUNDING_COLUMNS, bar_file, funding_file

HOUR_MS = 3_600_000
KINDS = ("spot", "perp", "funding")
SYMBOLS = {"BTCUSDT": "BTC", "ETHUSDT": "ETH"}
"""Our symbol -> its base asset; the quote (and the perps' settle) asset is always ``QUOTE``."""
QUOTE = "USDT"
BAR_HEADER = (*BAR_COLUMNS, "source", "symbol", "data_type")
FUNDING_HEADER = (*FUNDING_COLUMNS, "symbol", "source")

Row = tuple[Any, ...]  # (timestamp_ms, *values) as ccxt returned them
ExchangeFactory = Callable[[str], ccxt.Exchange]
Progress = Callable[[str], None]
WindowFetcher = Callable[[int, int], list[Row]]
"""Rows with timestamps in ``[since, until]`` (ms), in any order."""


class DownloadError(RuntimeError):
    """A series could not be fetched; the message names exchange, symbol, kind and window."""


@dataclass(frozen=True)
class Venue:
    """Everything that differs between exchanges, so the fetching code itself has no per-venue branch.

    Page limits are each API's documented maximum. They matter beyond speed: Bybit and OKX answer a
    range holding more rows than ``limit`` with its NEWEST rows, so a page window must never hold
    more rows than one page can carry, or its oldest rows are silently skipped.
    """

    ccxt_id: str
    market_types: tuple[str, ...]
    """ccxt ``fetchMarkets`` types to load: spot and USDT-linear only, so load_markets stays cheap."""
    spot_source: str
    perp_source: str
    bar_page_limit: int
    funding_page_limit: int
    funding_until_param: str
    """Request key bounding a funding page; OKX's ccxt wrapper ignores the unified ``until`` there."""


VENUES = {
    "binance": Venue("binance", ("spot", "linear"), "binance_spot", "binance_futures", 1000, 1000, "until"),
    "bybit": Venue("bybit", ("spot", "linear"), "bybit", "bybit", 1000, 200, "until"),
    "okx": Venue("okx", ("spot", "swap"), "okx", "okx", 100, 100, "after"),
}


@dataclass(frozen=True)
class Window:
    """The requested ``[start, end)`` in UTC days; the dates also name the output files."""

    start: date
    end: date

    @property
    def start_ms(self) -> int:
        return _day_ms(self.start)

    @property
    def end_ms(self) -> int:
        return _day_ms(self.end)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


@dataclass(frozen=True)
class Series:
    """One output file: a (exchange, symbol, kind) triple."""

    exchange: str
    symbol: str
    kind: str

    @property
    def venue(self) -> Venue:
        return VENUES[self.exchange]

    @property
    def ccxt_symbol(self) -> str:
        base = SYMBOLS[self.symbol]
        return f"{base}/{QUOTE}" if self.kind == "spot" else f"{base}/{QUOTE}:{QUOTE}"

    @property
    def source(self) -> str:
        return self.venue.spot_source if self.kind == "spot" else self.venue.perp_source

    @property
    def header(self) -> tuple[str, ...]:
        return FUNDING_HEADER if self.kind == "funding" else BAR_HEADER

    def page_limit(self, override: int | None) -> int:
        """Rows per request; an override may only shrink pages (see :class:`Venue` for why)."""
        limit = self.venue.funding_page_limit if self.kind == "funding" else self.venue.bar_page_limit
        return limit if override is None else min(override, limit)

    def relative_path(self, window: Window) -> Path:
        start, end = window.start.isoformat(), window.end.isoformat()
        if self.kind == "funding":
            return funding_file(self.exchange, self.symbol, start, end)
        return bar_file(self.exchange, self.symbol, self.kind, start, end)


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures (timeouts, 5xx, rate limits) are retried with exponential backoff."""

    attempts: int = 3
    backoff_s: float = 1.0


DEFAULT_RETRY = RetryPolicy()


def default_exchange_factory(name: str) -> ccxt.Exchange:
    """Build the public-data ccxt client real users get: no keys, ccxt's own rate limiter on."""
    venue = VENUES[name]
    exchange_class = getattr(ccxt, venue.ccxt_id)
    return exchange_class(
        {"enableRateLimit": True, "options": {"fetchMarkets": {"types": list(venue.market_types)}}}
    )


def download(
    out_dir: str | Path,
    exchanges: Sequence[str],
    symbols: Sequence[str],
    start: str,
    end: str,
    kinds: Sequence[str] = KINDS,
    exchange_factory: ExchangeFactory | None = None,
    progress: Progress | None = None,
    *,
    page_limit: int | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> list[Path]:
    """Fetch every (exchange, symbol, kind) series over ``[start, end)`` and write one CSV per series.

    Stops at the first series that fails (raising :class:`DownloadError`); files finished before it
    are complete and kept. Returns the written paths in download order.
    """
    window = _parse_window(start, end)
    plan = _plan(exchanges, symbols, kinds)
    _check_tuning(page_limit, retry)
    factory = exchange_factory or default_exchange_factory
    written = []
    for name, series_of_exchange in itertools.groupby(plan, key=lambda series: series.exchange):
        exchange = factory(name)
        try:
            for series in series_of_exchange:
                path, rows = _download_series(exchange, series, window, Path(out_dir), page_limit, retry)
                written.append(path)
                if progress:
                    progress(_summary(path, rows))
        finally:
            exchange.close()
    return written


def _download_series(
    exchange: ccxt.Exchange,
    series: Series,
    window: Window,
    out_dir: Path,
    page_limit: int | None,
    retry: RetryPolicy,
) -> tuple[Path, list[Row]]:
    """Fetch a whole series before writing anything, so a failure never leaves a partial file."""
    what = f"{series.exchange} {series.symbol} {series.kind} {window}"
    limit = series.page_limit(page_limit)

    def fetch_window(since: int, until: int) -> list[Row]:
        return _with_retries(
            lambda: _fetch_page(exchange, series, since, until, limit),
            f"{what}: page from {_iso(since)}",
            retry,
        )

    rows = _collect(fetch_window, window.start_ms, window.end_ms, limit)
    if not rows:
        raise DownloadError(f"{what}: the exchange returned no rows")
    path = out_dir / series.relative_path(window)
    _write_csv_atomically(path, series.header, _csv_rows(series, rows))
    return path, rows


def _collect(fetch_window: WindowFetcher, start_ms: int, end_ms: int, limit: int) -> list[Row]:
    """Walk ``[start, end)`` in windows of ``limit`` hours, keeping only rows inside each window.

    A window of ``limit`` hours never holds more than ``limit`` rows (bars are hourly, funding at
    most hourly), so newest-first APIs cannot truncate it. An empty window means "no data here"
    (e.g. before a listing), not "no data later", so the walk moves on to the next window; it ends
    once it passes ``end``, and always advances, so it terminates whatever the exchange answers.
    """
    rows: dict[int, Row] = {}
    since = start_ms
    while since < end_ms:
        window_end = min(since + limit * HOUR_MS, end_ms)
        page = [row for row in fetch_window(since, window_end - 1) if since <= row[0] < window_end]
        rows.update((row[0], row) for row in page)
        since = max(row[0] for row in page) + 1 if page else window_end
    return [rows[timestamp] for timestamp in sorted(rows)]


def _fetch_page(exchange: ccxt.Exchange, series: Series, since: int, until: int, limit: int) -> list[Row]:
    """One request for rows in ``[since, until]`` (ms), as ``(timestamp, *values)`` tuples."""
    if series.kind == "funding":
        prints = exchange.fetch_funding_rate_history(
            series.ccxt_symbol, since=since, limit=limit, params={series.venue.funding_until_param: until}
        )
        return [(rate["timestamp"], rate["fundingRate"]) for rate in prints]
    candles = exchange.fetch_ohlcv(
        series.ccxt_symbol, "1h", since=since, limit=limit, params={"until": until}
    )
    return [tuple(candle[:6]) for candle in candles]


def _with_retries(fetch: Callable[[], list[Row]], what: str, retry: RetryPolicy) -> list[Row]:
    """Retry only ccxt's NetworkError family: anything else (bad symbol, auth) won't heal by waiting."""
    last_error: ccxt.NetworkError | None = None
    for attempt in range(retry.attempts):
        if attempt:
            time.sleep(retry.backoff_s * 2 ** (attempt - 1))
        try:
            return fetch()
        except ccxt.NetworkError as exc:
            last_error = exc
        except ccxt.BaseError as exc:
            raise DownloadError(f"{what}: {exc}") from exc
    raise DownloadError(f"{what}: failed after {retry.attempts} attempts: {last_error}") from last_error


def _csv_rows(series: Series, rows: Iterable[Row]) -> list[tuple[object, ...]]:
    """Lay rows out in the column order of the shipped files (see ``BAR_HEADER``/``FUNDING_HEADER``)."""
    if series.kind == "funding":
        return [(_iso(timestamp), rate, series.symbol, series.source) for timestamp, rate in rows]
    data_type = "spot" if series.kind == "spot" else "futures"
    return [(_iso(timestamp), *ohlcv, series.source, series.symbol, data_type) for timestamp, *ohlcv in rows]


def _write_csv_atomically(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Readers glob these files, so they must only ever see a complete CSV under the final name.

    The temp file sits in the same directory (``os.replace`` is atomic only within a filesystem)
    and is named so the loaders' ``*.csv`` globs never match it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _summary(path: Path, rows: Sequence[Row]) -> str:
    return f"{path}: {len(rows)} rows, {_iso(rows[0][0])} .. {_iso(rows[-1][0])}"


def _iso(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def _parse_window(start: str, end: str) -> Window:
    """Reject windows that would write misleading files: reversed, or reaching into the future
    (the current hour's bar is still forming and would be stored as final)."""
    window = Window(_parse_day("start", start), _parse_day("end", end))
    if window.start >= window.end:
        raise ValueError(f"start {start} must be before end {end}")
    today = datetime.now(UTC).date()
    if window.end > today:
        raise ValueError(f"end {end} is after today ({today.isoformat()} UTC); bars there are not final yet")
    return window


def _parse_day(label: str, text: str) -> date:
    """Only canonical YYYY-MM-DD: the text becomes part of the file name, so it must be unambiguous."""
    problem = f"{label} must be a date like 2025-01-31, got {text!r}"
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(problem) from exc
    if day.isoformat() != text:
        raise ValueError(problem)
    return day


def _plan(exchanges: Sequence[str], symbols: Sequence[str], kinds: Sequence[str]) -> list[Series]:
    """Validate every name up front, so a typo fails before hours of downloading, not after."""
    exchanges = _check_names("exchange", exchanges, VENUES)
    symbols = _check_names("symbol", symbols, SYMBOLS)
    kinds = _check_names("kind", kinds, KINDS)
    return [Series(*combo) for combo in itertools.product(exchanges, symbols, kinds)]


def _check_names(label: str, names: Sequence[str], known: Iterable[str]) -> list[str]:
    """Also rejects a bare string, which would otherwise be iterated as single letters."""
    allowed = tuple(known)
    if isinstance(names, str) or not names:
        raise ValueError(f"{label}s must be a non-empty list of {allowed}, got {names!r}")
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"unknown {label} {', '.join(map(repr, unknown))}; expected some of {allowed}")
    return list(dict.fromkeys(names))


def _check_tuning(page_limit: int | None, retry: RetryPolicy) -> None:
    if page_limit is not None and page_limit < 1:
        raise ValueError(f"page_limit must be at least 1, got {page_limit}")
    if retry.attempts < 1 or retry.backoff_s < 0:
        raise ValueError(f"retry needs attempts >= 1 and backoff_s >= 0, got {retry}")


def register_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``download`` subcommand; ``args.func`` is :func:`run_cli`."""
    parser = subparsers.add_parser(
        "download",
        help="download raw 1h OHLCV and funding history from CEXs",
        description="Download 1h spot/perp OHLCV and perp funding over [start, end) into OUT/cex/...",
    )
    parser.add_argument("--exchanges", type=_comma_list, default=list(VENUES), help="comma-separated")
    parser.add_argument("--symbols", type=_comma_list, default=list(SYMBOLS), help="comma-separated")
    parser.add_argument("--start", required=True, help="first UTC day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--end", required=True, help="last UTC day, YYYY-MM-DD (exclusive)")
    parser.add_argument("--kinds", type=_comma_list, default=list(KINDS), help="comma-separated")
    parser.add_argument("--out", type=Path, default=Path("data"), help="data directory (default ./data)")
    parser.set_defaults(func=run_cli)
    return parser


def run_cli(args: argparse.Namespace, exchange_factory: ExchangeFactory | None = None) -> int:
    """Exit code 0 on success, 2 for bad arguments, 1 when an exchange could not be read."""
    try:
        download(
            args.out,
            args.exchanges,
            args.symbols,
            args.start,
            args.end,
            args.kinds,
            exchange_factory,
            progress=functools.partial(print, flush=True),
        )
    except ValueError as exc:
        print(f"download: {exc}", file=sys.stderr)
        return 2
    except DownloadError as exc:
        print(f"download failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
