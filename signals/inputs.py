"""The model's raw inputs read from the built catalog: one row per hour, stamped at bar close.

Columns: the perp's OHLCV, the spot close at the same stamp and the latest funding print at or
before the stamp. The rows sit on a complete hourly grid; an hour without a perp bar is a row of
NaN (features touching it are NaN), so row offsets always mean hours — the streaming
:class:`~signals.streaming.FeatureState` builds exactly the same rows one bar at a time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from nautilus_trader.model.data import Bar, FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.bars import bar_type_for
from adapters.hours import HOUR_NS
from data_catalog.manifest import MANIFEST_FILE
from signals.config import SignalConfig

INPUT_COLUMNS = ("open", "high", "low", "close", "volume", "spot_close", "funding_rate")


class SignalDataError(RuntimeError):
    """The catalog lacks what the signals need (the message says what and how to get it)."""


def _bars_frame(bars: list[Bar]) -> pd.DataFrame:
    rows = [
        (b.ts_event, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume))
        for b in bars
    ]
    frame = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    return frame.drop_duplicates("ts", keep="last").set_index("ts").sort_index()


def assemble_inputs(perp: pd.DataFrame, spot_close: pd.Series, funding: pd.Series) -> pd.DataFrame:
    """Put perp bars, spot closes and funding prints (all indexed by ``ts_event`` ns) on one
    hourly grid from the first to the last perp bar.

    Funding is the latest print stamped at or before each row (a print at 08:00 is known at the
    close of the bar stamped 08:00). Hours without a perp bar are all-NaN rows.
    """
    if perp.empty:
        return pd.DataFrame(columns=list(INPUT_COLUMNS), index=pd.Index([], dtype="int64", name="ts"))
    ts = perp.index.to_numpy(dtype="int64")
    if np.any((ts - ts[0]) % HOUR_NS):
        raise SignalDataError("perp bars are not on an hourly grid (ts_event must be whole hours apart)")
    grid = np.arange(ts[0], ts[-1] + 1, HOUR_NS, dtype="int64")
    frame = perp.reindex(grid)
    frame.index.name = "ts"
    frame["spot_close"] = spot_close.reindex(grid).to_numpy(dtype="float64")
    prints = funding.sort_index()
    where = np.searchsorted(prints.index.to_numpy(dtype="int64"), grid, side="right") - 1
    rates = np.where(where >= 0, prints.to_numpy(dtype="float64")[np.maximum(where, 0)], np.nan)
    frame["funding_rate"] = rates
    missing = frame["close"].isna().to_numpy()
    frame.loc[missing, list(INPUT_COLUMNS)] = np.nan
    return frame[list(INPUT_COLUMNS)].astype("float64")


def load_inputs(catalog_dir: Path, config: SignalConfig) -> pd.DataFrame:
    """The input frame for ``config`` from the catalog at ``catalog_dir`` (clear errors if absent)."""
    if not (catalog_dir / MANIFEST_FILE).is_file():
        raise SignalDataError(
            f"{catalog_dir} is not a built catalog (no {MANIFEST_FILE}); "
            "build it with `python -m data_catalog build`",
        )
    catalog = ParquetDataCatalog(str(catalog_dir))
    frames = {}
    for instrument in (config.instrument_id, config.spot_instrument_id):
        bar_type = str(bar_type_for(instrument))
        bars = catalog.bars(bar_types=[bar_type])
        if not bars:
            raise SignalDataError(
                f"the catalog {catalog_dir} has no {bar_type} bars, which the signals need "
                f"(instrument ids come from configs/venues/*.yaml); rebuild it with "
                "`python -m data_catalog build`",
            )
        frames[instrument] = _bars_frame(bars)
    # one identifier per query: see the Nautilus 1.231 note in backtesting/engine.py
    prints = catalog.query(FundingRateUpdate, identifiers=[config.instrument_id])
    if not prints:
        raise SignalDataError(f"the catalog {catalog_dir} has no funding prints for {config.instrument_id}")
    funding = pd.Series([float(f.rate) for f in prints], index=[f.ts_event for f in prints], dtype="float64")
    funding = funding[~funding.index.duplicated(keep="last")]
    spot = frames[config.spot_instrument_id]["close"]
    return assemble_inputs(frames[config.instrument_id], spot, funding)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the input frame's timestamps and values: identifies the data a model saw."""
    digest = hashlib.sha256(frame.index.to_numpy(dtype="int64").tobytes())
    for column in INPUT_COLUMNS:
        digest.update(column.encode())
        digest.update(np.ascontiguousarray(frame[column].to_numpy(dtype="float64")).tobytes())
    return digest.hexdigest()
