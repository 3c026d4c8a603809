"""``python -m data_catalog build|download``: build the Nautilus catalog, or fetch raw history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data_catalog import downloader
from data_catalog.builder import build_catalog
from data_catalog.interrupt import cleanup_on_sigterm
from data_catalog.paths import DataNotFoundError, default_catalog_dir, resolve_data_dir
from data_catalog.report import REPORT_MD
from data_catalog.series import BuildError


def _build(args: argparse.Namespace) -> int:
    try:
        data_dir = resolve_data_dir(args.data_dir)
    except DataNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    catalog_dir = (args.catalog or default_catalog_dir()).resolve()
    print(f"raw history: {data_dir}\ncatalog:     {catalog_dir}", flush=True)
    try:
        result = build_catalog(
            data_dir, catalog_dir, force=args.force, progress=lambda m: print(m, flush=True)
        )
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result.rebuilt:
        print(
            f"built {result.series} series in {result.seconds:.1f} s: {result.defects} defect records, "
            f"{result.proxied_hours} bar hours from proxies. Report: {catalog_dir / REPORT_MD}",
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    cleanup_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m data_catalog", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="validate raw history and (re)build the Nautilus catalog")
    build.add_argument(
        "--data-dir", type=Path, help="raw history (default: $BASIS_DATA_DIR, ./data, ../shared/data)"
    )
    build.add_argument(
        "--catalog", type=Path, help="catalog directory (default: $BASIS_CATALOG_DIR or ./catalog)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    build.set_defaults(func=_build)
    downloader.register_cli(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
