"""Compile the repo's Solidity sources offline with solc-js (npm ``solc``, pinned in package.json).

The compiled output is never committed: a deploy compiles the local chain's stand-ins
(``localchain/contracts/*.sol``) and the project's production contracts (``contracts/*.sol``,
e.g. the order-list executor) in one solc-js run (≈3 s) and caches solc's output in the
git-ignored ``localchain/build/``, keyed by the request (sources, settings) and the solc-js
version, so a later process skips the compiler.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Any

from localchain.tools import CHAIN_DIR, SOLCJS, missing_tools

SOURCE_DIRS = (CHAIN_DIR / "contracts", CHAIN_DIR.parent / "contracts")
"""The local chain's stand-ins, then the production contracts at the repo root."""
BUILD_DIR = CHAIN_DIR / "build"
_COMPILE = f"""
const solc = require({json.dumps(str(SOLCJS))});
process.stdout.write(solc.compile(require("fs").readFileSync(0, "utf8")));
"""
"""solc-js's standard-JSON compile, stdin to stdout (its CLI prefixes stdout with a notice)."""


@dataclass(frozen=True)
class Compiled:
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def compile_contracts() -> dict[str, Compiled]:
    """Every contract of :data:`SOURCE_DIRS`, by name (optimizer on, as deployed contracts are)."""
    problem = missing_tools()
    if problem:
        raise RuntimeError(problem)
    root = CHAIN_DIR.parent
    sources = {
        str(p.relative_to(root)): {"content": p.read_text()}
        for directory in SOURCE_DIRS
        for p in sorted(directory.glob("*.sol"))
    }
    request = {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    output = _solc(json.dumps(request, sort_keys=True))
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("solc-js failed:\n" + "\n".join(errors))
    compiled = [
        (name, Compiled(contract["abi"], "0x" + contract["evm"]["bytecode"]["object"]))
        for file in output["contracts"].values()
        for name, contract in file.items()
    ]
    by_name = dict(compiled)
    if len(by_name) != len(compiled):  # a second definition would silently replace the first
        names = [name for name, _ in compiled]
        raise RuntimeError(
            f"contract names defined twice: {sorted({n for n in names if names.count(n) > 1})}"
        )
    return by_name


def _solc(request: str) -> dict[str, Any]:
    """solc-js's output for a standard-JSON request, from the build cache when it has it."""
    version = json.loads((SOLCJS / "package.json").read_text())["version"]
    cached = BUILD_DIR / f"{hashlib.sha256((version + request).encode()).hexdigest()}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    result = subprocess.run(
        ["node", "-e", _COMPILE], input=request, capture_output=True, text=True, check=True
    )
    output = json.loads(result.stdout)
    if not any(e["severity"] == "error" for e in output.get("errors", [])):
        BUILD_DIR.mkdir(exist_ok=True)
        cached.write_text(result.stdout)
    return output
