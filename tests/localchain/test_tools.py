"""Without node or the npm packages, the local chain says what is missing and how to install it."""

from __future__ import annotations

import pytest

from localchain import tools


def test_missing_node_is_named_with_the_install_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    assert tools.missing_tools() == f"node is not installed; {tools.INSTALL_HINT}"


def test_missing_packages_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools.shutil, "which", lambda name: "/usr/bin/node")
    monkeypatch.setattr(tools, "ANVIL", tools.CHAIN_DIR / "absent" / "anvil")
    problem = tools.missing_tools()
    assert problem is not None and problem.startswith("chain tools missing (absent/anvil")
    assert problem.endswith(tools.INSTALL_HINT)
