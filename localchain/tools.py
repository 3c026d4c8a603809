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
AAVE = "@aave/core-v3"
UNISWAP_CORE = "@uniswap/v3-core"
UNISWAP_PERIPHERY = "@uniswap/v3-periphery"
INSTALL_HINT = "run ./scripts/install_chain_tools.sh (needs node and npm)"


def missing_tools() -> str | None:
    """Why the local chain cannot run here, or None when node and every npm package are installed."""
    if shutil.which("node") is None:
        return f"node is not installed; {INSTALL_HINT}"
    packages = [NODE_MODULES / p for p in (AAVE, UNISWAP_CORE, UNISWAP_PERIPHERY)]
    absent = [p.relative_to(CHAIN_DIR) for p in (ANVIL, SOLCJS, *packages) if not p.exists()]
    if absent:
        return f"chain tools missing ({', '.join(map(str, absent))}); {INSTALL_HINT}"
    return None


@cache
def artifact(package: str, name: str) -> dict[str, Any]:
    """A Hardhat artifact (abi, bytecode, linkReferences) of an npm package, by contract name."""
    root = NODE_MODULES / package / "artifacts" / "contracts"
    matches = [p for p in root.rglob(f"{name}.json") if p.parent.name == f"{name}.sol"]
    if len(matches) != 1:
        raise FileNotFoundError(f"expected one {package} artifact {name}, found {matches}")
    return json.loads(matches[0].read_text())
