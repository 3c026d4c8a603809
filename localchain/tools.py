"""Where the npm-installed chain tools live, and a clear message when they are missing."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

CHAIN_DIR = Path(__file__).resolve().parent
NODE_MODULES = CHAIN_DIR / "node_modules"
ANVIL = NODE_MODULES / ".bin" / "anvil"
SOLCJS = NODE_MODULES / "solc"
AAVE_ARTIFACTS = NODE_MODULES / "@aave" / "core-v3" / "artifacts" / "contracts"
INSTALL_HINT = "run ./scripts/install_chain_tools.sh (needs node and npm)"


def missing_tools() -> str | None:
    """Why the local chain cannot run here, or None when node, anvil, solc-js and Aave are installed."""
    if shutil.which("node") is None:
        return f"node is not installed; {INSTALL_HINT}"
    absent = [p.relative_to(CHAIN_DIR) for p in (ANVIL, SOLCJS, AAVE_ARTIFACTS) if not p.exists()]
    if absent:
        return f"chain tools missing ({', '.join(map(str, absent))}); {INSTALL_HINT}"
    return None


@cache
def aave_artifact(name: str) -> dict[str, Any]:
    """An ``@aave/core-v3`` Hardhat artifact (abi, bytecode, linkReferences) by contract name."""
    matches = [p for p in AAVE_ARTIFACTS.rglob(f"{name}.json") if p.parent.name == f"{name}.sol"]
    if len(matches) != 1:
        raise FileNotFoundError(f"expected one @aave/core-v3 artifact {name}, found {matches}")
    return json.loads(matches[0].read_text())
