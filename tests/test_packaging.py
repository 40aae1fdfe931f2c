"""Checks on the project files themselves: dependencies, notebooks, imports."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$")


def _parse(requirement: str) -> tuple[str, str]:
    match = _REQUIREMENT.match(requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_parse(item) for item in requirements)


def _environment_requirements() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    entries = [item for item in environment["dependencies"] if isinstance(item, str)]
    parsed = dict(_parse(item) for item in entries)
    parsed.pop("python")
    parsed.pop("pip")
    return parsed


def test_environment_matches_pyproject() -> None:
    assert _environment_requirements() == _pyproject_requirements()


def test_environment_python_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(
        item for item in environment["dependencies"] if str(item).startswith("python")
    )
    assert python == "python" + project["requires-python"]


def test_package_ships_type_marker_and_default_model() -> None:
    package = ROOT / "src" / "healthlab"
    assert (package / "py.typed").is_file()
    assert (package / "config" / "default-model.yaml").is_file()


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_committed_without_outputs(notebook: Path) -> None:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code_cells = [cell for cell in cells if cell["cell_type"] == "code"]
    with_outputs = [i for i, cell in enumerate(code_cells) if cell.get("outputs")]
    with_counts = [i for i, cell in enumerate(code_cells) if cell["execution_count"]]
    assert with_outputs == [], f"code cells with outputs: {with_outputs}"
    assert with_counts == [], f"code cells with execution counts: {with_counts}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_has_tagged_parameters_cell(notebook: Path) -> None:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    tagged = [
        cell for cell in cells if "parameters" in cell["metadata"].get("tags", [])
    ]
    assert len(tagged) == 1


def test_import_stays_light() -> None:
    heavy = ["statsmodels", "papermill", "nbconvert", "weasyprint", "distributed"]
    code = (
        "import sys, healthlab, healthlab.cli\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "command",
    [[], ["sample"], ["validate"], ["score"], ["calibrate"], ["monitor"], ["render"]]
    + [["demo"]],
)
def test_cli_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "healthlab", *command, "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_atomic_write_uses_umask_permissions(tmp_path: Path) -> None:
    from healthlab._io import write_text_atomic

    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "report.html", "<p>ok</p>")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    from healthlab._io import atomic_path

    target = tmp_path / "scores.csv"
    with pytest.raises(RuntimeError, match="interrupted"), atomic_path(target) as temp:
        temp.write_text("partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
