"""End-to-end run of ``healthlab demo`` through the installed CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    command = [
        sys.executable,
        "-m",
        "healthlab",
        "demo",
        "--out",
        str(out),
        "--clients",
        "60",
        "--months",
        "30",
        "--reports",
        "2",
        "--jobs",
        "2",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return out, result.stdout


def test_demo_writes_every_output(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    assert (out / "data" / "clients.csv").is_file()
    assert (out / "internal" / "scores.csv").is_file()
    assert (out / "internal" / "alerts.csv").is_file()
    assert (out / "internal" / "portfolio-health.html").is_file()


def test_demo_renders_two_client_reports(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    reports = out / "2026Q3" / "client"
    assert len(list(reports.glob("*.html"))) == 2
    assert len(list(reports.glob("*.pdf"))) == 2


def test_demo_prints_where_reports_are(demo_run: tuple[Path, str]) -> None:
    out, stdout = demo_run
    assert str(out / "2026Q3" / "client") in stdout
    assert "portfolio-health.html" in stdout


def test_demo_scores_every_sample_client(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    scores = pd.read_csv(out / "internal" / "scores.csv", dtype={"client_id": str})
    clients = pd.read_csv(out / "data" / "clients.csv", dtype={"client_id": str})
    assert set(scores["client_id"]) == set(clients["client_id"])
    assert scores["score"].between(0, 100).all()


def test_demo_rerun_skips_unchanged_reports(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    command = [sys.executable, "-m", "healthlab", "demo", "--out", str(out)]
    command += ["--clients", "60", "--months", "30", "--reports", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 rendered, 2 skipped" in result.stdout
