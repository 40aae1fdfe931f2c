"""The report notebook run with stock papermill, as an analyst would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from reports_helpers import QUARTER, make_portfolio

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "qbr-report.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_portfolio(tmp_path_factory.mktemp("nb") / "data", n_clients=10)


def _run(tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess, Path]:
    output = tmp_path / "out.ipynb"
    run = subprocess.run(
        [str(PAPERMILL), str(NOTEBOOK), str(output), "--no-progress-bar", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return run, output


def test_notebook_is_committed_clean() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] for cell in code)
    assert all(cell.execution_count is None for cell in code)
    assert "parameters" in code[0].metadata["tags"]
    assert "validate_parameters" in code[1].source


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-r", "client_id", "K9999Q"], "ParameterError: Client 'K9999Q' is not in"),
        (["-p", "quarter", "2026Q9"], "ParameterError: Quarter '2026Q9' is malformed"),
        (["-p", "quarter", "2019Q1"], "has no usage or operations data in 2019Q1"),
        (["-p", "audience", "press"], "ParameterError: Audience 'press' is unknown"),
    ],
)
def test_invalid_parameter_fails_in_first_cell(
    portfolio: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    defaults = {"client_id": "K0005Q", "quarter": QUARTER}
    given = dict(zip(arguments[1::3], arguments[2::3], strict=True))
    options = []
    for name, value in (defaults | given).items():
        flag = "-r" if name == "client_id" else "-p"
        options += [flag, name, value]
    run, output = _run(tmp_path, *options, "-p", "dataset", str(portfolio))
    assert run.returncode != 0
    assert message in run.stderr
    executed = nbformat.read(output, as_version=4)
    ran = [cell for cell in executed.cells if cell.get("execution_count")]
    assert len(ran) == 3  # parameters, injected parameters, validation
    assert ran[-1].outputs[-1]["output_type"] == "error"


def test_digit_id_through_stock_papermill(tmp_path: Path) -> None:
    from healthlab.sample import generate_portfolio

    folder = tmp_path / "digits"
    generate_portfolio(folder, n_clients=6, n_months=12, seed=2)
    usage = pd.read_csv(folder / "usage.csv", dtype=str)
    client_id = usage.loc[usage["month"] == "2026-09-01", "client_id"].iloc[0]
    assert client_id.startswith("000")
    run, output = _run(
        tmp_path,
        "-p",
        "client_id",
        client_id,  # papermill turns "0004" into the integer 4
        "-p",
        "quarter",
        QUARTER,
        "-p",
        "dataset",
        str(folder),
        "-p",
        "audience",
        "internal",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    executed = nbformat.read(output, as_version=4)
    html = "".join(
        output_item.get("data", {}).get("text/html", "")
        for cell in executed.cells
        if cell.cell_type == "code"
        for output_item in cell.outputs
    )
    assert "Health score" in html
    assert f"Client id {client_id}" in html
