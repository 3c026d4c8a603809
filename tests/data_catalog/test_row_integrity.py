"""A cut or self-contradicting row of the real CEX bars is a defect, never a price: the row is
dropped and recorded, and its hour is filled from the proxy like a hole."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tests.data_catalog.real_copy import H, build, closes, copy_real, defects, ns

BINANCE_PERP = "cex/perp/binance_BTCUSDT_perp_1h_*.csv"
BYBIT_PERP = "cex/perp/bybit_BTCUSDT_perp_1h_*.csv"
LAST_OPEN = "2025-09-29T23:00:00Z"
"""Raw stamp (bar open) of the last row of the real Binance BTC perp file."""


@pytest.fixture
def files(data_dir: Path, tmp_path: Path) -> dict[str, Path]:
    return copy_real(data_dir, tmp_path / "data", BINANCE_PERP, BYBIT_PERP)


def _bybit_close(path: Path, raw_open: str) -> Decimal:
    """The proxy's close for that hour, read as text from its raw file."""
    line = next(x for x in path.read_text().splitlines() if x.startswith(raw_open))
    return Decimal(line.split(",")[4])


@pytest.mark.parametrize("field", ["close", "volume"])
def test_a_last_line_cut_inside_a_field_is_dropped_and_proxied(files, field, tmp_path) -> None:
    path = files[BINANCE_PERP]
    text = path.read_text()
    last = text.rstrip("\r\n").splitlines()[-1]
    assert last.startswith(LAST_OPEN)
    fields = last.split(",")
    index = ["timestamp", "open", "high", "low", "close", "volume"].index(field)
    cut = ",".join([*fields[:index], fields[index][:4]])  # e.g. 114257.1 -> 1142
    path.write_text(text[: text.rindex(last)] + cut)

    catalog = build(tmp_path / "data")

    short = defects(catalog, "BTCUSDT-PERP.BINANCE")["short_row"]
    assert short["timestamps"] == [ns(LAST_OPEN)] and short["decision"].startswith("dropped")
    close_stamp = ns(LAST_OPEN) + H
    assert closes(catalog, "BTCUSDT-PERP.BINANCE")[close_stamp] == _bybit_close(files[BYBIT_PERP], LAST_OPEN)


def test_a_close_outside_its_own_high_low_drops_the_row(files, tmp_path) -> None:
    path = files[BINANCE_PERP]
    frame = pd.read_csv(path)
    row = 5000
    raw_open = frame.loc[row, "timestamp"]
    high = frame.loc[row, "high"]
    frame.loc[row, "close"] = high * 1.5
    frame.to_csv(path, index=False)

    catalog = build(tmp_path / "data")

    bad = defects(catalog, "BTCUSDT-PERP.BINANCE")["ohlc_inconsistent"]
    assert bad["timestamps"] == [ns(raw_open)]
    assert closes(catalog, "BTCUSDT-PERP.BINANCE")[ns(raw_open) + H] == _bybit_close(
        files[BYBIT_PERP], raw_open
    )
