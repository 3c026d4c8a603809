#!/usr/bin/env python3
"""Speed and memory of the signal build (``python -m signals build``) on the real catalog.

Usage::

    .venv/bin/python benchmarks/bench_signals.py [--catalog DIR] [--config FILE] [--repeat N] [--json OUT]

Each measurement runs in a fresh subprocess (so its peak RSS is its own), on a private copy of the
catalog (the build writes into it):

a. ``build``: ``build_predictions`` — inputs read from the catalog, features, every walk-forward
   window trained and predicted, predictions written, evaluation — timed in parts
   (inputs / walk-forward / write + evaluation) and as a whole; peak RSS of the child.
b. ``stream``: the live path, ``FeatureState.add_bar`` over 2,000 real hours (µs per bar).

Without ``--catalog`` a catalog is first built from the raw history into a temp dir (not timed).
The target is a full build under 60 s on a 2-core machine. Speed is measured here, never in
timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MB = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0  # ru_maxrss: KiB on Linux, bytes on macOS
TARGET_BUILD_S = 60.0
STREAM_HOURS = 2000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB


def child_build(catalog: Path, config: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    import signals.store as store
    from signals.config import load_signal_config

    imported = time.perf_counter()
    parts: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - t

        return wrapper

    # time the stages by wrapping the functions build_predictions calls (no source change)
    store.load_inputs = timed("inputs_s", store.load_inputs)  # type: ignore[assignment]
    store.walk_forward = timed("walk_forward_s", store.walk_forward)  # type: ignore[assignment]
    store._write_predictions = timed("write_s", store._write_predictions)  # type: ignore[assignment]
    store.evaluate = timed("evaluate_s", store.evaluate)  # type: ignore[assignment]
    lines: list[str] = []
    summary = store.build_predictions(catalog, load_signal_config(config), progress=lines.append)
    done = time.perf_counter()
    return {
        "kind": "build",
        "wall_s": done - started,
        "import_s": imported - started,
        "build_s": done - imported,
        **parts,
        "windows": summary.windows,
        "predictions": summary.predictions,
        "confident": summary.confident,
        "hit_rate": summary.evaluation["overall"]["hit_rate"],
        "confident_hit_rate": summary.evaluation["overall"]["confident_hit_rate"],
        "peak_rss_mb": _peak_mb(),
    }


def child_stream(catalog: Path, config: str | None) -> dict[str, Any]:
    import numpy as np

    from signals.config import load_signal_config
    from signals.inputs import load_inputs
    from signals.streaming import FeatureState

    cfg = load_signal_config(config)
    frame = load_inputs(catalog, cfg).iloc[-STREAM_HOURS:]
    state = FeatureState(cfg)
    t = time.perf_counter()
    for ts, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        if not np.isnan(row.spot_close):
            state.add_spot_close(int(ts), row.spot_close)
        state.add_funding(int(ts), row.funding_rate)
        state.add_bar(int(ts), row.open, row.high, row.low, row.close, row.volume)
    seconds = time.perf_counter() - t
    return {
        "kind": "stream",
        "bars": len(frame),
        "us_per_bar": 1e6 * seconds / len(frame),
        "peak_rss_mb": _peak_mb(),
    }


def run_child(kind: str, catalog: Path, config: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--catalog", str(catalog)]
    if config:
        command += ["--config", config]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--catalog", type=Path, help="an existing catalog (copied; default: build one)")
    parser.add_argument("--config", help="signal config (default configs/signals/btc_directional.yaml)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median reported)")
    parser.add_argument("--json", type=Path, help="also write every run and the machine facts here")
    parser.add_argument("--child", choices=["build", "stream"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))
    if args.child:
        fn = child_build if args.child == "build" else child_stream
        print(json.dumps(fn(args.catalog, args.config)))
        return 0

    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: 1-minute load average is {load:.2f}; timings may be noisy", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-signals-") as tmp:
        source = args.catalog
        if source is None:
            from data_catalog.builder import build_catalog
            from data_catalog.paths import resolve_data_dir

            source = Path(tmp) / "source"
            print(f"building a catalog from {resolve_data_dir()} (not timed) ...", flush=True)
            build_catalog(resolve_data_dir(), source)
        builds, streams = [], []
        for i in range(args.repeat):
            copy = Path(tmp) / f"catalog{i}"
            shutil.copytree(source, copy)
            builds.append(run_child("build", copy, args.config))
            streams.append(run_child("stream", copy, args.config))
            shutil.rmtree(copy)
    b = builds[0]
    print(
        f"\nsignal build ({b['windows']} windows, {b['predictions']} predictions, median of {args.repeat}):\n"
        f"  wall {_median(builds, 'wall_s'):6.2f} s  (imports {_median(builds, 'import_s'):.2f} s, "
        f"build {_median(builds, 'build_s'):.2f} s: inputs {_median(builds, 'inputs_s'):.2f}, "
        f"walk-forward {_median(builds, 'walk_forward_s'):.2f}, write {_median(builds, 'write_s'):.2f}, "
        f"evaluate {_median(builds, 'evaluate_s'):.2f})\n"
        f"  peak RSS {_median(builds, 'peak_rss_mb'):6.0f} MB\n"
        f"  confidence >= 0.8: {b['confident']}; out-of-sample hit rate {b['hit_rate']:.3f} "
        f"(confident {b['confident_hit_rate']:.3f})\n"
        f"streaming features: {_median(streams, 'us_per_bar'):.0f} µs per bar "
        f"(peak RSS {_median(streams, 'peak_rss_mb'):.0f} MB)",
    )
    ok = _median(builds, "wall_s") <= TARGET_BUILD_S
    print(f"target: build <= {TARGET_BUILD_S:.0f} s: {'met' if ok else 'MISSED'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": {
                        "platform": platform.platform(),
                        "cpus": os.cpu_count(),
                        "python": sys.version,
                    },
                    "build": builds,
                    "stream": streams,
                },
                indent=1,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
