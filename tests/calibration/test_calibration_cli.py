"""`healthlab calibrate` run as a user runs it: a subprocess, exit codes, messages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
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
    assert "churned clients in all observation rows" in result.stdout
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
    # The usage error is boxed and wrapped, so the choices may span two lines.
    _assert_user_error(result, "'cox' is not one of 'logit',")
    assert "'hazard'" in result.stderr


def test_help_lists_model_types() -> None:
    result = _run("calibrate", "--help")
    assert result.returncode == 0, result.stderr
    assert "logit|hazard" in result.stdout


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


def test_test_start_after_data_end(small_sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    result = _run(
        "calibrate", small_sample_dir, "--out", out, "--test-start", "2030-01"
    )
    _assert_user_error(
        result, "The test start 2030-01 is after the last month of data, 2026-09."
    )
    assert "shorter horizon" not in result.stderr
    assert not out.exists()


def test_table_folder_exit_2(tmp_path: Path) -> None:
    result = _run(
        "calibrate", "--table", tmp_path, "--outcome", "left", "--features", "usage"
    )
    _assert_user_error(
        result,
        "is a folder; --table expects a CSV or Parquet file with one row per customer",
    )


def test_table_not_found_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "customers.csv"
    result = _run(
        "calibrate", "--table", missing, "--outcome", "left", "--features", "usage"
    )
    _assert_user_error(result, f"The table {missing} was not found; --table expects")


def test_table_workbook_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    with zipfile.ZipFile(path, "w") as workbook:
        workbook.writestr("xl/workbook.xml", "<workbook>\u00e9</workbook>" * 50)
    result = _run(
        "calibrate", "--table", path, "--outcome", "left", "--features", "usage"
    )
    _assert_user_error(result, "zip archive, such as an Excel workbook")
    assert "codec" not in result.stderr


def test_table_semicolons_exit_2(customers: Path, tmp_path: Path) -> None:
    path = tmp_path / "semicolons.csv"
    path.write_text(customers.read_text().replace(",", ";"))
    result = _run(
        "calibrate", "--table", path, "--outcome", "left", "--features", "usage"
    )
    _assert_user_error(result, "separate cells with ';': save it with commas")


def test_table_wrong_outcome_is_capped(customers: Path) -> None:
    result = _run(
        "calibrate", "--table", customers, "--outcome", "usage", "--features", "left"
    )
    _assert_user_error(result, "300 rows break this rule, from row 2 to row 301")
    assert len(result.stderr.splitlines()) < 30


def test_bad_output_fails_before_fit(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("x\n")
    # The dataset does not exist either: the output is checked first.
    result = _run(
        "calibrate", tmp_path / "no-such-dataset", "--out", blocker / "m.yaml"
    )
    _assert_user_error(result, "blocker.txt is a file, not a folder")
