"""`healthlab calibrate` run as a user runs it: a subprocess, exit codes, messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthlab.model import load_model


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from healthlab.cli import main; main()",
            *map(str, args),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_user_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


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


def test_calibrate_writes_model(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.yaml"
    result = _run("calibrate", sample_dir, "--out", out, "--horizon", "12")
    assert result.returncode == 0, result.stderr
    assert "Backtest" in result.stdout
    assert f"Wrote {out}" in result.stdout
    assert load_model(out).provenance["horizon_months"] == 12


def test_existing_output_needs_force(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.yaml"
    out.write_text("keep\n")
    result = _run("calibrate", sample_dir, "--out", out)
    _assert_user_error(result, f"{out} already exists; pass --force")
    assert out.read_text() == "keep\n"


def test_dataset_and_table_are_exclusive(sample_dir: Path, customers: Path) -> None:
    result = _run("calibrate", sample_dir, "--table", customers)
    _assert_user_error(result, "Give either a dataset folder")


def test_nothing_to_calibrate() -> None:
    _assert_user_error(_run("calibrate"), "Give a dataset folder")


def test_dataset_needs_out(sample_dir: Path) -> None:
    _assert_user_error(_run("calibrate", sample_dir), "--out FILE.yaml")


def test_unknown_model_type(sample_dir: Path, tmp_path: Path) -> None:
    result = _run(
        "calibrate", sample_dir, "--out", tmp_path / "m.yaml", "--model-type", "cox"
    )
    _assert_user_error(result, "Unknown model type 'cox'")


def test_table_prints_coefficients(customers: Path) -> None:
    result = _run(
        "calibrate", "--table", customers, "--outcome", "left", "--features", "usage"
    )
    assert result.returncode == 0, result.stderr
    assert "odds_ratio" in result.stdout
    assert "usage" in result.stdout
    assert "Cross-validated (5 folds): AUC" in result.stdout


def test_table_bad_labels_exit_2(customers: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(customers.read_text().replace(",yes\n", ",perhaps\n", 1))
    result = _run(
        "calibrate", "--table", bad, "--outcome", "left", "--features", "usage"
    )
    _assert_user_error(result, "column `left`: the outcome must be 0/1")
    assert "(value: 'perhaps')" in result.stderr


def test_table_unknown_feature_exit_2(customers: Path) -> None:
    result = _run(
        "calibrate", "--table", customers, "--outcome", "left", "--features", "tenure"
    )
    _assert_user_error(result, "no column `tenure`. Available columns: usage, left.")


def test_table_rejects_dataset_options(customers: Path, tmp_path: Path) -> None:
    result = _run(
        "calibrate",
        "--table",
        customers,
        "--outcome",
        "left",
        "--features",
        "usage",
        "--out",
        tmp_path / "m.yaml",
    )
    _assert_user_error(result, "not --table: --out")
