"""The human-readable validation report written with every catalog build."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from data_catalog.checks import CHECKS_FILE, CheckConfig, describe
from data_catalog.manifest import SeriesCoverage

REPORT_MD = "validation_report.md"
REPORT_JSON = "validation_report.json"


def _series_section(cov: SeriesCoverage) -> list[str]:
    lines = [f"### {cov.key} ({cov.kind})", ""]
    lines.append(f"- files: {', '.join(cov.files) if cov.files else '**none** (no own history)'}")
    lines.append(f"- catalog rows: {cov.rows} covering {cov.first} .. {cov.last}")
    lines.append(
        f"- own rows: {cov.own_rows}"
        + (f" covering {cov.own_first} .. {cov.own_last}" if cov.own_first else "")
    )
    for source, (ranges, count) in cov.proxied.items():
        shown = ", ".join(f"{a}..{b}" for a, b in ranges[:4]) + (" …" if len(ranges) > 4 else "")
        lines.append(f"- **proxy** {source}: {count} rows ({shown})")
    if cov.unfilled:
        lines.append(
            f"- unfilled gaps: {len(cov.unfilled)} ranges, first {cov.unfilled[0][0]}..{cov.unfilled[0][1]}"
        )
    if cov.defects:
        lines += ["", "| defect | rows | decision | first | last | examples |", "|---|---|---|---|---|---|"]
        for d in cov.defects:
            examples = "; ".join(str(e) for e in d["examples"][:3])
            lines.append(
                f"| {d['kind']} | {d['count']} | {d['decision']} | {d['first']} | {d['last']} | {examples} |"
            )
    else:
        lines.append("- no defects")
    return [*lines, ""]


def _checks_section(checks: CheckConfig, coverages: list[SeriesCoverage]) -> list[str]:
    caught: dict[str, int] = {}
    for cov in coverages:
        for d in cov.defects:
            caught[d["kind"]] = caught.get(d["kind"], 0) + int(d["count"])
    lines = [
        f"## Plausibility checks (`{CHECKS_FILE.relative_to(CHECKS_FILE.parents[1])}`)",
        "",
        "| check | series | rule | decision | rows caught |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {what} | {rule} | {decision} | {caught.get(k, 0)} |"
        for k, what, rule, decision in describe(checks)
    ]
    return [*lines, ""]


def write_validation_report(
    catalog_dir: Path, data_dir: Path, coverages: list[SeriesCoverage], checks: CheckConfig
) -> Path:
    """Write ``validation_report.md`` (and a JSON twin) into the catalog directory."""
    defect_total = sum(len(c.defects) for c in coverages)
    lines = [
        "# Catalog validation report",
        "",
        f"Built {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M UTC} from `{data_dir}`.",
        f"{len(coverages)} series, {defect_total} defect records. Times are UTC: catalog, proxy and gap",
        "ranges are Nautilus `ts_event` (bar CLOSE); defect rows are stamped as in the raw file (bar OPEN).",
        "",
        "Every defect below was handled by the decision in its row; proxied rows carry another",
        "venue's prices for the same instrument and are listed in every run report that uses them.",
        "",
        *_checks_section(checks, coverages),
    ]
    for cov in coverages:
        lines += _series_section(cov)
    path = catalog_dir / REPORT_MD
    path.write_text("\n".join(lines))
    (catalog_dir / REPORT_JSON).write_text(json.dumps([c.as_dict() for c in coverages], indent=1))
    return path
