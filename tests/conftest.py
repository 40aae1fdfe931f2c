"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_factory import make_dataset


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """Folder of the minimal valid dataset."""
    return make_dataset(tmp_path)
