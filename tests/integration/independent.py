"""Expectations computed straight from the raw CSV files with pandas, independent of the project.

Used by the full-backtest tests to check the engine's funding against a sum computed here from
the raw funding prints, the raw perp closes and the run's own fills (its positions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)

# Where each venue's perp close at a print comes from: its own file, then the documented proxies
# (configs/venues/*.yaml), spelled out again here on purpose.
MARK_SOURCES = {
    "binance": ("binance", "bybit"),
    "bybit": ("bybit", "binance"),
    "okx": ("okx", "binance", "bybit"),
}
PERP_IDS = {
    ("binance", "BTC"): "BTCUSDT-PERP.BINANCE",
    ("bybit", "BTC"): "BTCUSDT-LINEAR.BYBIT",
    ("okx", "BTC"): "BTC-USDT-SWAP.OKX",
    ("binance", "ETH"): "ETHUSDT-PERP.BINANCE",
    ("bybit", "ETH"): "ETHUSDT-LINEAR.BYBIT",
    ("okx", "ETH"): "ETH-USDT-SWAP.OKX",
}
CONTRACT_SIZE = {"BTC-USDT-SWAP.OKX": 0.01, "ETH-USDT-SWAP.OKX": 0.1}


def _read(paths: list[Path], time_column: str) -> pd.DataFrame:
    if not paths:
        return pd.DataFrame(columns=[time_column])
    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    frame["ts"] = pd.to_datetime(frame[time_column], utc=True)
    return frame


def perp_closes(data_dir: Path, venue: str, asset: str) -> pd.Series:
    """Close at each hour (indexed by the bar's CLOSE time) from the venue's raw perp file."""
    frame = _read(sorted(data_dir.glob(f"cex/perp/{venue}_{asset}USDT_perp_1h_*.csv")), "timestamp")
    if frame.empty:
        return pd.Series(dtype=float)
    frame = frame.drop_duplicates("ts", keep="first")
    return pd.Series(frame["close"].to_numpy(), index=frame["ts"] + HOUR)


def funding_prints(data_dir: Path, venue: str, asset: str) -> pd.Series:
    """Funding rates by print time; conflicting duplicates keep the value nearest Binance/Bybit's median."""

    def raw(v: str) -> pd.DataFrame:
        return _read(
            sorted(data_dir.glob(f"cex/funding/{v}_{asset}USDT_funding_rates_*.csv")), "funding_timestamp"
        )

    frame = raw(venue).drop_duplicates(["ts", "funding_rate"])
    reference = pd.concat(
        [raw(v).drop_duplicates("ts").set_index("ts")["funding_rate"] for v in ("binance", "bybit")], axis=1
    ).median(axis=1)
    chosen = {}
    for ts, group in frame.groupby("ts"):
        rates = group["funding_rate"].to_numpy()
        chosen[ts] = (
            rates[0] if len(rates) == 1 else rates[np.argmin(np.abs(rates - reference.get(ts, np.nan)))]
        )
    own = pd.Series(chosen).sort_index()
    binance = raw("binance").drop_duplicates("ts").set_index("ts")["funding_rate"]
    return own.combine_first(binance) if venue == "okx" else own


def mark_at(closes: list[pd.Series], ts: pd.Timestamp) -> float:
    for series in closes:
        if ts in series.index:
            return float(series[ts])
    raise KeyError(f"no perp close at {ts}")


def signed_perp_positions(fills_csv: Path) -> dict[str, pd.Series]:
    """Cumulative signed base quantity of every perp after each fill time, from the run's fills."""
    fills = pd.read_csv(fills_csv)
    fills["ts"] = pd.to_datetime(fills["ts_event"], utc=True)
    out = {}
    for instrument_id, group in fills.groupby("instrument_id"):
        if instrument_id not in CONTRACT_SIZE and not any(s in instrument_id for s in ("-PERP.", "-LINEAR.")):
            continue
        sign = np.where(group["order_side"] == "BUY", 1.0, -1.0)
        base = group["last_qty"].astype(float).to_numpy() * CONTRACT_SIZE.get(instrument_id, 1.0) * sign
        out[instrument_id] = pd.Series(base, index=group["ts"]).groupby(level=0).sum().sort_index().cumsum()
    return out


def expected_funding(
    data_dir: Path, fills_csv: Path, asset: str, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, float]:
    """Funding each venue's short should have received: Σ −qty(before print) × close(print) × rate."""
    positions = signed_perp_positions(fills_csv)
    totals = {}
    for venue, sources in MARK_SOURCES.items():
        instrument_id = PERP_IDS[(venue, asset)]
        held = positions.get(instrument_id)
        if held is None:
            continue
        closes = [perp_closes(data_dir, source, asset) for source in sources]
        total = 0.0
        for ts, rate in funding_prints(data_dir, venue, asset).items():
            if not start <= ts <= end:
                continue
            before = held[held.index < ts]  # trades stamped at the print come after it
            qty = float(before.iloc[-1]) if len(before) else 0.0
            if qty != 0.0:
                total += -qty * mark_at(closes, ts) * float(rate)
        totals[venue.upper()] = total
    return totals
