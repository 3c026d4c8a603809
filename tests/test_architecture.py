"""The boundary between the layers, checked on the source (parsed, never imported).

Strategies run unchanged in a backtest and in a live node, so they may not import the backtest
assembly, the catalog, Nautilus' backtest or persistence packages, or a simulation module.
Adapters own the data types and the venue models; they never reach back into the catalog or the
backtest assembly (the dependency runs one way: data_catalog and backtesting use adapters).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

SIMULATION_MODULES = (
    "adapters.cex.venue",
    "adapters.cex.funding",
    "adapters.cex.liquidation",
    "adapters.cex.pre_trade",
    "adapters.defi.wallet",
    "adapters.defi.upkeep",
    "adapters.execution",
    "live.paper",
)
FORBIDDEN = {
    "strategies": (
        "backtesting",
        "data_catalog",
        "nautilus_trader.backtest",
        "nautilus_trader.persistence",
        *SIMULATION_MODULES,
    ),
    "adapters": ("backtesting", "data_catalog"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in the file, wherever it stands (also inside functions
    and ``TYPE_CHECKING`` blocks); ``from a import b`` yields ``a`` and ``a.b`` (b may be a module)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _is_within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(layer: str) -> list[str]:
    out = []
    for path in sorted((PROJECT / layer).rglob("*.py")):
        for line, module in imported_modules(path):
            for prefix in FORBIDDEN[layer]:
                if _is_within(module, prefix):
                    out.append(f"{path.relative_to(PROJECT)}:{line} imports {module} (forbidden: {prefix})")
    return sorted(set(out))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_stay_inside_the_boundary(layer):
    found = violations(layer)
    assert not found, f"{layer}/ must not import {', '.join(FORBIDDEN[layer])}:\n" + "\n".join(found)


def test_the_check_sees_every_import_form(tmp_path, monkeypatch):
    """A forbidden import is caught written plainly, as ``from … import module``, relatively and
    inside a function."""
    package = tmp_path / "strategies"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text(
        "import data_catalog.builder\n"
        "from adapters.cex import venue\n"
        "from ..backtesting import engine\n"
        "def f():\n"
        "    from nautilus_trader.backtest.engine import BacktestEngine\n"
        "from adapters.cex.margin import last_price\n"
    )
    monkeypatch.setattr(f"{__name__}.PROJECT", tmp_path)
    assert [v.split(" (")[0] for v in violations("strategies")] == [
        "strategies/bad.py:1 imports data_catalog.builder",
        "strategies/bad.py:2 imports adapters.cex.venue",
        "strategies/bad.py:3 imports backtesting",
        "strategies/bad.py:3 imports backtesting.engine",
        "strategies/bad.py:5 imports nautilus_trader.backtest.engine",
        "strategies/bad.py:5 imports nautilus_trader.backtest.engine.BacktestEngine",
    ]


SIMULATION_ONLY_NAMES = ("LIQUIDATION_TOPIC",)
"""Messages only the venue simulation publishes (live, a liquidation is just the venue's fill)."""
LIVE_READY = ("strategies", "portfolio/accounting.py", "portfolio/liquidations.py")
"""What decides and what attributes must work from events both worlds produce."""


def simulation_only_uses(target: str) -> list[str]:
    """Every import or use of a simulation-only name in ``target`` (a folder or a file)."""
    root = PROJECT / target
    out = []
    for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.alias):
                names = (node.name, node.asname)
            elif isinstance(node, ast.Name):
                names = (node.id,)
            elif isinstance(node, ast.Attribute):
                names = (node.attr,)
            else:
                continue
            out += [
                f"{path.relative_to(PROJECT)}:{node.lineno} uses {n}"
                for n in SIMULATION_ONLY_NAMES
                if n in names
            ]
    return sorted(set(out))


@pytest.mark.parametrize("target", LIVE_READY)
def test_accounting_and_strategies_use_no_simulation_only_topic(target):
    found = simulation_only_uses(target)
    assert not found, f"{target} must learn of liquidations from fills:\n" + "\n".join(found)


def test_the_topic_check_sees_imports_and_attribute_uses(tmp_path, monkeypatch):
    (tmp_path / "portfolio").mkdir()
    (tmp_path / "portfolio" / "accounting.py").write_text(
        "from adapters.events import LIQUIDATION_TOPIC\n"
        "import adapters.events as events\n"
        "topic = events.LIQUIDATION_TOPIC\n"
    )
    monkeypatch.setattr(f"{__name__}.PROJECT", tmp_path)
    assert simulation_only_uses("portfolio/accounting.py") == [
        "portfolio/accounting.py:1 uses LIQUIDATION_TOPIC",
        "portfolio/accounting.py:3 uses LIQUIDATION_TOPIC",
    ]
