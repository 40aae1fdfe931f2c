"""``healthlab monitor`` run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "healthlab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )


def test_cli_monitor_json(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    result = run_cli("monitor", small_portfolio, "--as-of", "2026-06", "--out", out)
    assert result.returncode == 0, result.stderr
    records = json.loads(out.read_text(encoding="utf-8"))
    assert {record["month"] for record in records} == {"2026-06-01"}
    assert f"Wrote {len(records)} alerts for 2026-06 to {out}" in result.stdout
    assert " high, " in result.stdout


def test_cli_monitor_csv(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "alerts.csv"
    result = run_cli("monitor", small_portfolio, "--out", out)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, dtype={"client_id": str})
    assert "evidence_value" in table.columns
    assert "for 2026-09 " in result.stdout


def test_cli_monitor_bad_as_of(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    result = run_cli("monitor", small_portfolio, "--as-of", "2026-13", "--out", out)
    assert result.returncode == 2
    assert "Invalid --as-of '2026-13'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_monitor_as_of_outside_data(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    result = run_cli("monitor", small_portfolio, "--as-of", "2030-01", "--out", out)
    assert result.returncode == 2
    assert "2030-01 is outside the scored months" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_monitor_bad_suffix(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.txt"
    result = run_cli("monitor", small_portfolio, "--out", out)
    assert result.returncode == 2
    assert "must end in .csv or .json" in result.stderr
    assert not out.exists()


def test_cli_monitor_invalid_dataset(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    result = run_cli("monitor", tmp_path / "missing", "--out", out)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_monitor_as_of_before_data(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.csv"
    result = run_cli("monitor", small_portfolio, "--as-of", "2019-01", "--out", out)
    assert result.returncode == 2
    assert "2019-01 is before the first scored month" in result.stderr
    assert "its data starts in 2024-10. Choose a later month." in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_monitor_out_under_a_file(small_portfolio: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run_cli("monitor", small_portfolio, "--out", blocker / "alerts.csv")
    assert result.returncode == 2
    assert f"{blocker} is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_cli_monitor_rejects_input_file(small_portfolio: Path, tmp_path: Path) -> None:
    before = (small_portfolio / "nps.csv").read_bytes()
    result = run_cli("monitor", small_portfolio, "--out", small_portfolio / "nps.csv")
    assert result.returncode == 2
    assert "it is the `nps` table of the dataset" in result.stderr
    assert "Traceback" not in result.stderr
    assert (small_portfolio / "nps.csv").read_bytes() == before
