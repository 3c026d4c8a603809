"""Catalog inputs that are not time series on a grid: reward payouts and Aave risk parameters.

Both are written into the catalog (rewards as ``RewardDistribution`` data stamped at payout,
parameters as ``aave_params.json``) with a coverage record, so a run never reads raw files and the
validation report lists every interpretation made on the way.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.defi.aave_params import load_emode, load_reserve_params
from adapters.defi.config import WalletVenueConfig
from adapters.defi.data import RewardDistribution
from adapters.hours import DAY_NS
from data_catalog import raw_files
from data_catalog.manifest import SeriesCoverage
from data_catalog.rewards import REWARD_FILES, REWARDS_SUBDIR, RewardDataError, load_etherfi_rewards
from data_catalog.series import BuildError
from data_catalog.validation import iso

AAVE_PARAMS_FILE = "aave_params.json"
REWARDS_KEY = "REWARDS"
AAVE_PARAMS_KEY = "AAVE_PARAMS"

INPUT_GLOBS = (f"{REWARDS_SUBDIR}/*.csv", raw_files.AAVE_PARAMS_FILE, raw_files.AAVE_RISK_FILE)
"""Raw files these inputs are built from (part of the catalog's fingerprint)."""


def _note(kind: str, decision: str, where: str = "") -> dict[str, object]:
    return {
        "series": "",
        "kind": kind,
        "count": 1,
        "decision": decision,
        "first": None,
        "last": None,
        "examples": [where] if where else [],
        "timestamps": [],
    }


def write_rewards(catalog: ParquetDataCatalog, data_dir: Path) -> SeriesCoverage:
    """EtherFi reward payouts as ``RewardDistribution`` data (absent files are reported, not fatal)."""
    coverage = SeriesCoverage(REWARDS_KEY, "rewards", DAY_NS, [], [])
    folder = data_dir / REWARDS_SUBDIR
    if not all((folder / name).is_file() for name in REWARD_FILES):
        missing = [name for name in REWARD_FILES if not (folder / name).is_file()]
        coverage.defects.append(
            _note("no_data", f"missing reward files {missing} under {REWARDS_SUBDIR}: rewards are zero")
        )
        return coverage
    try:
        programs, notes = load_etherfi_rewards(data_dir)
    except (RewardDataError, OSError) as e:
        raise BuildError(f"{folder}: {e}") from e
    catalog.write_data(
        [
            RewardDistribution(
                ts_event=p.payout_ns,
                ts_init=p.payout_ns,
                token=p.token,
                program=p.program,
                period_start_ns=p.period_start_ns,
                period_end_ns=p.period_end_ns,
                per_eeth=p.per_eeth,
                per_eeth_low=p.per_eeth_low,
                per_eeth_high=p.per_eeth_high,
                estimated=p.estimated,
            )
            for p in programs
        ],
    )
    coverage.files = sorted({p.source for p in programs})
    coverage.rows = coverage.own_rows = len(programs)
    if programs:
        coverage.first, coverage.last = iso(programs[0].payout_ns), iso(programs[-1].payout_ns)
    coverage.defects = [_note("interpretation", f"{n.what} → {n.decision}", n.where) for n in notes]
    estimated = [p.program for p in programs if p.estimated]
    if estimated:
        coverage.defects.append(
            _note("estimated", f"ranges valued at their midpoint: {sorted(set(estimated))}")
        )
    return coverage


def write_aave_params(catalog_dir: Path, data_dir: Path, wallet: WalletVenueConfig) -> SeriesCoverage:
    """The configured reserves' real risk parameters and the e-mode block, as ``aave_params.json``."""
    coverage = SeriesCoverage(AAVE_PARAMS_KEY, "params", DAY_NS, [], [])
    params_path, risk_path = data_dir / raw_files.AAVE_PARAMS_FILE, data_dir / raw_files.AAVE_RISK_FILE
    if not params_path.is_file() or not risk_path.is_file():
        coverage.defects.append(
            _note("no_data", f"missing {params_path.name} or {risk_path.name}: no Aave modes")
        )
        return coverage
    try:
        reserves = load_reserve_params(params_path, [r.asset for r in wallet.aave.reserves])
        emode = load_emode(risk_path, wallet.aave.emode_category)
    except ValueError as e:
        raise BuildError(str(e)) from e
    payload = {"reserves": {k: asdict(v) for k, v in reserves.items()}, "emode": asdict(emode)}
    (catalog_dir / AAVE_PARAMS_FILE).write_text(json.dumps(payload, indent=1))
    coverage.files = [params_path.name, risk_path.name]
    coverage.rows = coverage.own_rows = len(reserves)
    coverage.defects.append(
        _note(
            "decision",
            "standard-mode parameters from the reserve CSV; only the e-mode block of the JSON is used",
        ),
    )
    return coverage


def read_aave_params(catalog_dir: Path) -> dict:
    path = catalog_dir / AAVE_PARAMS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{catalog_dir} has no {AAVE_PARAMS_FILE}: rebuild the catalog with the aave/params files"
        )
    return json.loads(path.read_text())
