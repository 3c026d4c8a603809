"""EtherFi restaking rewards (EIGEN weekly, ETHFI top-ups, ETHFI seasons) as reward programs.

weETH holders receive reward tokens in proportion to the eETH they held over a program's period,
paid on its payout date. The three raw files under ``staking/rewards`` describe the same thing in
three shapes; :func:`load_etherfi_rewards` turns them into one list of :class:`RewardProgram` and
returns, beside it, a :class:`RewardNote` for every place where the raw data had to be interpreted
(nothing is fixed silently):

- ``eigen_distributions_raw.csv``: per eETH = ``eigen_earned / (eth_restaked + eth_not_restaked)``
  over the row's own period (every eETH holder shares the distribution). The published
  ``eigen_per_eeth_weekly`` column is only checked against that; rows where it disagrees (the
  first, 52-day row, and later rows whose figure is per *restaked* eETH) get a note.
- ``ethfi_topups_raw.csv``: ``ethfi_per_eeth_distributed`` is the published exact figure.
- ``seasonal_drops.csv``: ranges such as ``"~5–15"`` become low/high with the midpoint as the
  amount, flagged ``estimated`` (DOMAIN.md decision); rows repeating a top-up are skipped; rows
  without a parseable payout date are skipped. Both skips are noted.

Dates are whole UTC days: a period runs from 00:00 of its start date to 00:00 of the day after
its end date, so consecutive weekly rows tile time without gaps or overlap.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from adapters.defi.rewards import RewardProgram
from adapters.hours import DAY_NS

REWARDS_SUBDIR = Path("staking") / "rewards"
EIGEN_FILE = "eigen_distributions_raw.csv"
TOPUP_FILE = "ethfi_topups_raw.csv"
SEASON_FILE = "seasonal_drops.csv"
REWARD_FILES = (EIGEN_FILE, TOPUP_FILE, SEASON_FILE)

EIGEN_COLUMNS = (
    "staking_period_start",
    "staking_period_end",
    "eigen_earned",
    "eth_restaked",
    "eth_not_restaked",
    "eigen_per_eeth_weekly",
)
TOPUP_COLUMNS = ("top_up_date", "staking_period_start", "staking_period_end", "ethfi_per_eeth_distributed")
SEASON_COLUMNS = ("start_date", "end_date", "payout_date", "event", "reward_token", "reward_per_eeth")

EIGEN_PUBLISHED_TOLERANCE = 0.0015
"""How far the published weekly figure may sit from ours before it is noted (it is rounded to 3 dp)."""

_NUMBER = r"\d+(?:\.\d+)?"
_AMOUNT = re.compile(rf"^(?P<approx>~)?\s*(?P<low>{_NUMBER})\s*(?:[–—-]\s*(?P<high>{_NUMBER}))?$")


class RewardDataError(ValueError):
    """A reward file cannot be read as published; the message names the file and line."""


@dataclass(frozen=True)
class RewardNote:
    """Something in a raw reward file that needed a decision: what was seen, where, what was done."""

    what: str
    where: str
    decision: str


def load_etherfi_rewards(data_dir: Path) -> tuple[list[RewardProgram], list[RewardNote]]:
    """All EtherFi reward programs under ``data_dir/staking/rewards``, sorted by payout, plus notes.

    ``data_dir`` is the raw-history root (``../shared/data`` or ``$BASIS_DATA_DIR``).
    Raises :class:`RewardDataError` for a missing column or an unreadable value.
    """
    folder = Path(data_dir) / REWARDS_SUBDIR
    eigen, eigen_notes = _eigen_programs(folder / EIGEN_FILE)
    topups = _topup_programs(folder / TOPUP_FILE)
    seasons, season_notes = _season_programs(folder / SEASON_FILE, topups)
    programs = sorted(
        [*eigen, *topups, *seasons], key=lambda p: (p.payout_ns, p.period_start_ns, p.token, p.program)
    )
    return programs, [*eigen_notes, *season_notes]


def _eigen_programs(path: Path) -> tuple[list[RewardProgram], list[RewardNote]]:
    programs: list[RewardProgram] = []
    notes: list[RewardNote] = []
    for where, row in _rows(path, EIGEN_COLUMNS):
        with _at(where):
            start_ns, end_ns = _period(row, "staking_period_start", "staking_period_end")
            earned = _number(row, "eigen_earned")
            restaked = _number(row, "eth_restaked")
            total = restaked + _number(row, "eth_not_restaked")
            published = _number(row, "eigen_per_eeth_weekly")
            if restaked <= 0 or total <= 0:
                raise ValueError("eth_restaked and eth_restaked + eth_not_restaked must be positive")
            per_eeth = earned / total
            programs.append(_exact("EIGEN", "eigen_weekly", start_ns, end_ns, end_ns, per_eeth, path))
        if abs(per_eeth - published) > EIGEN_PUBLISHED_TOLERANCE:
            days = (end_ns - start_ns) // DAY_NS
            notes.append(_eigen_note(where, days, per_eeth, published, earned / restaked))
    return programs, notes


def _eigen_note(where: str, days: int, per_eeth: float, published: float, per_restaked: float) -> RewardNote:
    """Explain a published weekly figure that our per-eETH amount does not reproduce."""
    what = (
        f"eigen_per_eeth_weekly={published} but eigen_earned/(eth_restaked+eth_not_restaked)={per_eeth:.4f}"
    )
    if days != 7:
        what += f"; the period covers {days} days, not a week"
    if abs(per_restaked - published) <= EIGEN_PUBLISHED_TOLERANCE:
        what += (
            f"; the published figure matches eigen_earned/eth_restaked={per_restaked:.4f} "
            "(per restaked eETH only)"
        )
    decision = (
        f"used {per_eeth:.6f} EIGEN per eETH over the row's whole period (all eETH shares the "
        "distribution); the published column is ignored"
    )
    return RewardNote(what=what, where=where, decision=decision)


def _topup_programs(path: Path) -> list[RewardProgram]:
    programs: list[RewardProgram] = []
    for where, row in _rows(path, TOPUP_COLUMNS):
        with _at(where):
            start_ns, end_ns = _period(row, "staking_period_start", "staking_period_end")
            payout_ns = _day_ns(row, "top_up_date")
            per_eeth = _number(row, "ethfi_per_eeth_distributed")
            programs.append(_exact("ETHFI", "ethfi_topup", start_ns, end_ns, payout_ns, per_eeth, path))
    return programs


def _season_programs(
    path: Path, topups: Sequence[RewardProgram]
) -> tuple[list[RewardProgram], list[RewardNote]]:
    published = {(p.token, p.period_start_ns, p.period_end_ns): p for p in topups}
    programs: list[RewardProgram] = []
    notes: list[RewardNote] = []
    for where, row in _rows(path, SEASON_COLUMNS):
        with _at(where):
            token = _field(row, "reward_token")
            start_ns, end_ns = _period(row, "start_date", "end_date")
            low, high, estimated = _amount_range(_field(row, "reward_per_eeth"))
            topup = published.get((token, start_ns, end_ns))
            if topup is not None and not math.isclose(topup.per_eeth, (low + high) / 2):
                raise ValueError(
                    f"reward_per_eeth {row['reward_per_eeth']!r} conflicts with {TOPUP_FILE}'s "
                    f"{topup.per_eeth} for the same period"
                )
        if topup is not None:
            notes.append(
                RewardNote(
                    what=f"{row['event']!r} repeats the {TOPUP_FILE} row for the same period and amount",
                    where=where,
                    decision=f"skipped: the top-up is taken from {TOPUP_FILE} once",
                )
            )
            continue
        try:
            payout_ns = _day_ns(row, "payout_date")
        except ValueError as exc:
            notes.append(
                RewardNote(
                    what=f"{row['event']!r}: {exc}",
                    where=where,
                    decision="skipped: a reward cannot be credited without a payout date",
                )
            )
            continue
        with _at(where):
            programs.append(
                RewardProgram(
                    token=token,
                    program=_program_name(_field(row, "event")),
                    period_start_ns=start_ns,
                    period_end_ns=end_ns,
                    payout_ns=payout_ns,
                    per_eeth=(low + high) / 2,
                    per_eeth_low=low,
                    per_eeth_high=high,
                    estimated=estimated,
                    source=path.name,
                )
            )
    return programs, notes


def _exact(
    token: str, program: str, start_ns: int, end_ns: int, payout_ns: int, per_eeth: float, path: Path
) -> RewardProgram:
    """A program whose per-eETH amount is known exactly (low = high = the amount)."""
    return RewardProgram(
        token=token,
        program=program,
        period_start_ns=start_ns,
        period_end_ns=end_ns,
        payout_ns=payout_ns,
        per_eeth=per_eeth,
        per_eeth_low=per_eeth,
        per_eeth_high=per_eeth,
        estimated=False,
        source=path.name,
    )


def _rows(path: Path, required: Sequence[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ``("file line N", row)`` for each data row, after checking the header has ``required``."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise RewardDataError(f"{path.name}: missing columns {missing}; found {reader.fieldnames}")
        for row in reader:
            yield f"{path.name} line {reader.line_num}", row


@contextmanager
def _at(where: str) -> Iterator[None]:
    """Re-raise a value problem as a :class:`RewardDataError` that says which file and line."""
    try:
        yield
    except ValueError as exc:
        raise RewardDataError(f"{where}: {exc}") from exc


def _field(row: dict[str, str], column: str) -> str:
    text = (row.get(column) or "").strip()
    if not text:
        raise ValueError(f"{column} is empty")
    return text


def _number(row: dict[str, str], column: str) -> float:
    text = _field(row, column)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{column}={text!r} is not a number")
    return value


def _amount_range(text: str) -> tuple[float, float, bool]:
    """``"0.248"`` → exact; ``"~5–15"`` / ``"2-4"`` → a range; a ``~`` also marks an estimate."""
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(f"reward_per_eeth={text!r} is neither a number nor a range like '~5–15'")
    low = float(match["low"])
    high = float(match["high"]) if match["high"] else low
    if high < low:
        raise ValueError(f"reward_per_eeth={text!r} has its range reversed")
    return low, high, bool(match["approx"]) or match["high"] is not None


def _day_ns(row: dict[str, str], column: str) -> int:
    """00:00 UTC of an ISO date, in ns; strict, so a vague "Feb 2025" is not guessed into a day."""
    text = _field(row, column)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column}={text!r} is not a YYYY-MM-DD date") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000_000


def _period(row: dict[str, str], start_column: str, end_column: str) -> tuple[int, int]:
    """[00:00 of the start date, 00:00 after the end date): end dates are inclusive in the files."""
    return _day_ns(row, start_column), _day_ns(row, end_column) + DAY_NS


def _program_name(event: str) -> str:
    """``"Season 4 (Base)"`` → ``"season_4"``: the event without its parenthetical, as a slug."""
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"\(.*?\)", "", event).lower()).strip("_")
