"""Where raw history and the built catalog live on this machine.

Raw data is looked up in order: ``BASIS_DATA_DIR``, ``./data`` (where the downloader writes),
then ``../shared/data`` (what tests and CI use). It is never invented: with nothing found the
caller gets a :class:`DataNotFoundError` that lists the places tried and how to get data.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "BASIS_DATA_DIR"
CATALOG_DIR_ENV = "BASIS_CATALOG_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOW_TO_GET = (
    "Get data with `python -m data_catalog download --start YYYY-MM-DD --end YYYY-MM-DD` "
    f"(writes ./data), or point ${DATA_DIR_ENV} at a directory shaped like ../shared/data."
)


class DataNotFoundError(FileNotFoundError):
    """No raw history was found; the message says where we looked and how to get some."""


def _has_history(path: Path) -> bool:
    return (path / "cex").is_dir() and any((path / "cex").rglob("*.csv"))


def candidate_data_dirs(cwd: Path | None = None) -> list[tuple[str, Path]]:
    """The places raw history is looked for, in priority order, with where each came from."""
    cwd = cwd or Path.cwd()
    out: list[tuple[str, Path]] = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        out.append((f"${DATA_DIR_ENV}", Path(env).expanduser()))
    out.append(("./data", cwd / "data"))
    out.append(("../shared/data", PROJECT_ROOT.parent / "shared" / "data"))
    return out


def resolve_data_dir(explicit: str | Path | None = None, cwd: Path | None = None) -> Path:
    """The raw-history directory to use (an explicit path wins and must exist)."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not _has_history(path):
            raise DataNotFoundError(
                f"no raw history under {path} (expected CSV files under {path / 'cex'}). {HOW_TO_GET}"
            )
        return path.resolve()
    tried = candidate_data_dirs(cwd)
    env = os.environ.get(DATA_DIR_ENV)
    if env and not _has_history(Path(env).expanduser()):
        raise DataNotFoundError(
            f"${DATA_DIR_ENV}={env} has no raw history (expected CSV files under {Path(env) / 'cex'}). "
            + HOW_TO_GET,
        )
    for _, path in tried:
        if _has_history(path):
            return path.resolve()
    places = "\n".join(f"  - {label}: {path}" for label, path in tried)
    raise DataNotFoundError(
        f"no raw market history found. Looked in:\n{places}\n{HOW_TO_GET}",
    )


def default_catalog_dir(cwd: Path | None = None) -> Path:
    """Where the Nautilus catalog is built: ``$BASIS_CATALOG_DIR`` or ``./catalog``."""
    env = os.environ.get(CATALOG_DIR_ENV)
    return Path(env).expanduser() if env else (cwd or Path.cwd()) / "catalog"
