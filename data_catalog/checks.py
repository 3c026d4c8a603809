"""Plausibility checks: values that parse and look like data but cannot be right.

A missing or malformed row is caught by :mod:`data_catalog.validation`; these catch a plausible-
looking wrong number. Each check returns the frame without the rows it rejects (or with them, when
the decision is to flag) and one :class:`Defect` saying what was found and decided. Thresholds live
in ``configs/data_checks.yaml`` (:class:`CheckConfig`), documented there with units and defaults.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pandas as pd

from adapters.config import load_yaml_as
from adapters.hours import HOUR_NS
from data_catalog.validation import Defect, iso, make_defect

CHECKS_FILE = Path(__file__).resolve().parents[1] / "configs" / "data_checks.yaml"


class CexBarChecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    spike_jump: float = 0.08
    spike_revert: float = 0.02
    cross_venue_deviation: float = 0.03


class FundingChecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    caps: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)

    def cap(self, venue: str, symbol: str) -> float | None:
        return self.caps.get(venue, {}).get(symbol)


class GridChecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    snap_seconds: int = 60


class AaveChecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_rate: float = 1.0


class LstChecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    decrease_tolerance: float = 1e-9


class GasChecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_gwei: float = 5000.0


class CheckConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cex_bars: CexBarChecks = msgspec.field(default_factory=CexBarChecks)
    funding: FundingChecks = msgspec.field(default_factory=FundingChecks)
    grid: GridChecks = msgspec.field(default_factory=GridChecks)
    aave: AaveChecks = msgspec.field(default_factory=AaveChecks)
    lst: LstChecks = msgspec.field(default_factory=LstChecks)
    gas: GasChecks = msgspec.field(default_factory=GasChecks)


def load_checks(path: Path = CHECKS_FILE) -> CheckConfig:
    return load_yaml_as(path, CheckConfig, "data checks config")


def describe(config: CheckConfig) -> list[tuple[str, str, str, str]]:
    """(defect kind, series checked, rule with its threshold, decision) of every check, for the
    validation report: each check is listed with its decision even when it catches nothing."""
    bars, caps = config.cex_bars, config.funding.caps
    cap_text = ", ".join(f"{v} {s} ±{c:.3%}" for v, by_symbol in caps.items() for s, c in by_symbol.items())
    hole = "dropped, filled from proxies like a hole"
    return [
        ("short_row", "every series", "fewer fields than the header (a cut line)", hole),
        ("ohlc_inconsistent", "bars", "open or close outside the row's own high/low", hole),
        (
            "spike",
            "CEX bars",
            f"close > {bars.spike_jump:.0%} from both neighbouring hours, "
            f"which agree within {bars.spike_revert:.0%}",
            hole,
        ),
        (
            "cross_venue_deviation",
            "CEX bars",
            f"close > {bars.cross_venue_deviation:.0%} from the median of the pair's CEX series "
            "(≥ 3) that hour",
            hole,
        ),
        ("funding_beyond_cap", "funding", f"rate beyond the venue's published cap ({cap_text})", hole),
        ("off_grid", "every series", f"stamp more than {config.grid.snap_seconds} s off its grid", hole),
        ("index_decrease", "Aave reserves", "liquidity or borrow index breaking its growth", "dropped"),
        ("rate_out_of_range", "Aave reserves", f"rate outside [0, {config.aave.max_rate:g}] APR", "dropped"),
        (
            "rate_decrease",
            "LST protocol rates",
            f"fall larger than {config.lst.decrease_tolerance:g} (relative)",
            "kept, flagged",
        ),
        ("gas_absurd", "gas", f"above {config.gas.max_gwei:g} gwei (non-positive: bad_value)", "dropped"),
    ]


def _drop(
    frame: pd.DataFrame, bad: pd.Series, series: str, kind: str, decision: str, examples: list[str]
) -> tuple[pd.DataFrame, list[Defect]]:
    if not bad.any():
        return frame, []
    return frame.loc[~bad], [make_defect(series, kind, frame.loc[bad, "ts"], decision, examples)]


def _examples(frame: pd.DataFrame, bad: pd.Series, column: str) -> list[str]:
    return [
        f"{iso(t)}: {column} {v:.10g}" for t, v in frame.loc[bad, ["ts", column]].head(5).itertuples(False)
    ]


def spike_reverts(
    frame: pd.DataFrame, series: str, jump: float, revert: float
) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop closes that jump against both neighbouring hours (same direction) while the neighbours
    agree with each other: one wrong print, not a move (a real move does not undo itself in an hour)."""
    ts, close = frame["ts"].to_numpy(), frame["close"].to_numpy(dtype=float)
    bad = np.zeros(len(frame), dtype=bool)
    if len(frame) >= 3:
        prev, cur, nxt = close[:-2], close[1:-1], close[2:]
        hourly = (ts[1:-1] - ts[:-2] == HOUR_NS) & (ts[2:] - ts[1:-1] == HOUR_NS)
        up, down = cur / prev - 1, cur / nxt - 1
        bad[1:-1] = (
            hourly
            & (np.abs(up) > jump)
            & (np.abs(down) > jump)
            & (np.sign(up) == np.sign(down))
            & (np.abs(nxt / prev - 1) <= revert)
        )
    mask = pd.Series(bad, index=frame.index)
    decision = (
        f"dropped the rows (close > {jump:.0%} away from both neighbouring hours, which agree within "
        f"{revert:.0%}): filled like holes"
    )
    return _drop(frame, mask, series, "spike", decision, _examples(frame, mask, "close"))


def cross_venue_outliers(
    frames: dict[str, pd.DataFrame], threshold: float
) -> dict[str, tuple[pd.DataFrame, list[Defect]]]:
    """Per series of one pair (spot and perp closes on every venue): drop the hours whose close is
    more than ``threshold`` from the median of all the series' closes at that hour, when at least
    3 series have it (with fewer, no value can be told wrong)."""
    present = {key: f.set_index("ts")["close"] for key, f in frames.items() if not f.empty}
    if len(present) < 3:
        return {key: (f, []) for key, f in frames.items()}
    closes = pd.concat(present, axis=1, sort=True)
    median = closes.median(axis=1).where(closes.notna().sum(axis=1) >= 3)
    out = {}
    for key, frame in frames.items():
        reference = frame["ts"].map(median)
        deviation = (frame["close"] / reference - 1).abs()
        bad = deviation > threshold
        examples = [
            f"{iso(t)}: close {c:.10g} vs median {m:.10g}"
            for t, c, m in zip(frame.loc[bad, "ts"], frame.loc[bad, "close"], reference[bad], strict=True)
        ][:5]
        decision = (
            f"dropped the rows (close more than {threshold:.0%} from the median of the pair's CEX "
            "series at that hour): filled like holes"
        )
        out[key] = _drop(frame, bad, key, "cross_venue_deviation", decision, examples)
    return out


def funding_beyond_cap(
    frame: pd.DataFrame, series: str, cap: float | None
) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop prints beyond the venue's published cap for the symbol: they cannot have settled."""
    if cap is None:
        return frame, []
    bad = frame["funding_rate"].abs() > cap
    decision = f"dropped the prints (|rate| above the venue's cap {cap:.4%}): filled like holes"
    return _drop(frame, bad, series, "funding_beyond_cap", decision, _examples(frame, bad, "funding_rate"))


def _decrease_outliers(values: np.ndarray) -> np.ndarray:
    """Rows to blame for each fall between consecutive values of an only-growing series: the later
    row when the one after it is back above the fall (a wrong low), the earlier row when the later
    one is above the row before the earlier (a wrong high), else the later row."""
    bad = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(np.diff(values) < 0) + 1:
        low_outlier = i + 1 < len(values) and values[i + 1] >= values[i - 1]
        high_outlier = i >= 2 and values[i] >= values[i - 2]
        bad[i - 1 if high_outlier and not low_outlier else i] = True
    return bad


def aave_index_decreases(frame: pd.DataFrame, series: str) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop snapshots whose liquidity or borrow index breaks the index's growth (indices only grow)."""
    defects: list[Defect] = []
    for column in ("liquidityIndex", "variableBorrowIndex"):
        bad = pd.Series(_decrease_outliers(frame[column].to_numpy(dtype=float)), index=frame.index)
        decision = f"dropped the snapshots ({column} breaks its growth): the previous one applies"
        frame, found = _drop(frame, bad, series, "index_decrease", decision, _examples(frame, bad, column))
        defects += found
    return frame, defects


def aave_rates_out_of_range(
    frame: pd.DataFrame, series: str, max_rate: float
) -> tuple[pd.DataFrame, list[Defect]]:
    """Drop snapshots whose liquidity or borrow rate (decimal APR) is outside [0, ``max_rate``]."""
    columns = ["currentLiquidityRate", "currentVariableBorrowRate"]
    rates = frame[columns].apply(pd.to_numeric, errors="coerce")
    bad = ~((rates >= 0) & (rates <= max_rate)).all(axis=1)  # a non-number is out of range too
    decision = f"dropped the snapshots (a rate outside [0, {max_rate:g}] APR): the previous one applies"
    examples = [
        f"{iso(t)}: liquidity {lr:.6g}, borrow {br:.6g}"
        for t, lr, br in zip(
            frame.loc[bad, "ts"], rates.loc[bad, columns[0]], rates.loc[bad, columns[1]], strict=True
        )
    ]
    return _drop(frame, bad, series, "rate_out_of_range", decision, examples)


def lst_rate_decreases(
    frame: pd.DataFrame, series: str, tolerance: float
) -> tuple[pd.DataFrame, list[Defect]]:
    """Flag (keep) protocol-rate samples falling more than ``tolerance`` (relative) below the
    previous one: LST rates only grow, so a fall is either a data error or a real slashing."""
    rate = frame["rate"]
    bad = rate < rate.shift(1) * (1 - tolerance)
    if not bad.any():
        return frame, []
    examples = [
        f"{iso(t)}: {p:.10g} -> {r:.10g}"
        for t, p, r in zip(frame.loc[bad, "ts"], rate.shift(1)[bad], rate[bad], strict=True)
    ][:5]
    decision = "kept, flagged: an LST protocol rate only grows (slashing aside); check the source"
    return frame, [make_defect(series, "rate_decrease", frame.loc[bad, "ts"], decision, examples)]


def absurd_gas(frame: pd.DataFrame, series: str, max_gwei: float) -> tuple[pd.DataFrame, list[Defect]]:
    bad = frame["gas_price_gwei"] > max_gwei
    decision = f"dropped the samples (above {max_gwei:g} gwei): the last sample applies until the next"
    return _drop(frame, bad, series, "gas_absurd", decision, _examples(frame, bad, "gas_price_gwei"))
