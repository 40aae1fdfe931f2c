"""The single calibration entry point: which options go with a dataset or a table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthlab.calibration import GenericFitResult, calibrate
from healthlab.errors import ConfigError


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    usage = rng.uniform(0, 10, 300)
    left = rng.uniform(size=300) < 1 / (1 + np.exp(-(1 - 0.4 * usage)))
    path = tmp_path / "customers.csv"
    pd.DataFrame({"usage": usage, "left": np.where(left, "yes", "no")}).to_csv(
        path, index=False
    )
    return path


def test_table_fit_runs(customers: Path) -> None:
    result = calibrate(table=customers, outcome="left", features=["usage"])
    assert isinstance(result, GenericFitResult)
    assert result.fit.params["usage"] < 0


def test_dataset_and_table_exclusive(customers: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Give either a dataset folder"):
        calibrate(tmp_path, table=customers, outcome="left", features=["usage"])


def test_neither_dataset_nor_table() -> None:
    with pytest.raises(ConfigError, match="Give a dataset folder"):
        calibrate()


@pytest.mark.parametrize(
    ("outcome", "features"), [(None, ["usage"]), ("left", None), ("left", [])]
)
def test_table_needs_outcome_and_features(
    customers: Path, outcome: str | None, features: list[str] | None
) -> None:
    with pytest.raises(ConfigError, match="--table needs --outcome COLUMN"):
        calibrate(table=customers, outcome=outcome, features=features)


def test_table_rejects_dataset_options(customers: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"not --table: --out, --horizon, --test-start\. With --table",
    ):
        calibrate(
            table=customers,
            outcome="left",
            features=["usage"],
            out=tmp_path / "m.yaml",
            horizon=12,
            test_start="2025-01",
        )


def test_dataset_rejects_table_options(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"These options need --table: --features, --drop-invalid\."
    ):
        calibrate(tmp_path, out=tmp_path / "m.yaml", features=["a"], drop_invalid=True)


def test_dataset_needs_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--out FILE.yaml"):
        calibrate(tmp_path)
