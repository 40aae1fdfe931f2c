"""Sample portfolios shared by the calibration tests, generated once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthlab.sample import generate_portfolio


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default sample portfolio: 300 clients, 36 months, seed 0."""
    folder = tmp_path_factory.mktemp("calibration") / "sample"
    generate_portfolio(folder)
    return folder


@pytest.fixture(scope="session")
def small_sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample portfolio: 80 clients, 30 months, seed 1."""
    folder = tmp_path_factory.mktemp("calibration") / "small"
    generate_portfolio(folder, n_clients=80, n_months=30, seed=1)
    return folder
