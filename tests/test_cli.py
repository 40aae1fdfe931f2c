"""Tests of the command line itself: option parsing and user-error handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(
    *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "healthlab", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["render", "data", "--quarter", "2026Q3", "--out", "r", "--clients", " , "],
            "error: --clients is empty; give one or more values",
            id="empty-clients",
        ),
        pytest.param(
            ["render", "data", "--quarter", "2026Q3", "--out", "r", "--formats", ""],
            "error: --formats is empty; give one or more values",
            id="empty-formats",
        ),
        pytest.param(
            ["calibrate", "--table", "t.csv", "--outcome", "y", "--features", ","],
            "error: --features is empty; give one or more values",
            id="empty-features",
        ),
    ],
)
def test_empty_list_option_rejected(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == message.rstrip() + ", A,B,C."
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_verbose_goes_before_the_command(dataset_dir: Path) -> None:
    result = run_cli("--verbose", "validate", dataset_dir)
    assert result.returncode == 0, result.stderr
    assert f"INFO healthlab.validation: Checked {dataset_dir}" in result.stderr
