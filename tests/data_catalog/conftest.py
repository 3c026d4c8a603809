"""Fixtures shared by the catalog-build tests: the synthetic universe of :mod:`test_build`, built once
per module, clean or with every defect, and a private copy to modify."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_build import DEFECTS, Built, _build


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The synthetic universe without defects, built once for the module (read-only)."""
    return _build(tmp_path_factory.mktemp("clean"), None)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The synthetic universe with every defect in DEFECTS, built once for the module (read-only)."""
    return _build(tmp_path_factory.mktemp("defects"), DEFECTS)


@pytest.fixture
def clean_copy(clean: Built, tmp_path: Path) -> Built:
    """A private copy of the clean data dir and its built catalog, free to modify."""
    data_dir, catalog_dir = tmp_path / "data", tmp_path / "catalog"
    shutil.copytree(clean.data_dir, data_dir)
    shutil.copytree(clean.catalog_dir, catalog_dir)
    return Built(data_dir, catalog_dir, clean.result)
