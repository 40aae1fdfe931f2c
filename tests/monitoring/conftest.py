"""A small generated portfolio shared by the monitoring tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from healthlab.dataset import Dataset, load_dataset
from healthlab.model import ScoreModel, load_model
from healthlab.sample import generate_portfolio
from healthlab.scoring import score_dataset


@pytest.fixture(scope="session")
def small_portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the folder of a 40-client, 24-month sample portfolio."""
    folder = tmp_path_factory.mktemp("monitoring") / "portfolio"
    generate_portfolio(folder, n_clients=40, n_months=24, seed=3)
    return folder


@pytest.fixture(scope="session")
def small_data(small_portfolio: Path) -> Dataset:
    return load_dataset(small_portfolio)


@pytest.fixture(scope="session")
def default_model() -> ScoreModel:
    return load_model()


@pytest.fixture(scope="session")
def small_scores(small_data: Dataset, default_model: ScoreModel) -> pd.DataFrame:
    return score_dataset(small_data, default_model)
