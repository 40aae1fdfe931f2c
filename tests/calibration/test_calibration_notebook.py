"""The calibration notebook executed by papermill on the sample portfolio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthlab.model import load_model

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "calibrate-weights.ipynb"


def test_notebook_committed_without_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] for cell in code)
    assert all(cell["execution_count"] is None for cell in code)
    tagged = [cell for cell in code if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    for name in ("dataset", "horizon", "model_type", "output_file"):
        assert f"{name} = " in source


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_notebook_runs_with_papermill(sample_dir: Path, tmp_path: Path) -> None:
    import papermill

    out = tmp_path / "model.yaml"
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(executed),
        parameters={
            "dataset": str(sample_dir),
            "horizon": 12,
            "model_type": "hazard",
            "output_file": str(out),
        },
        kernel_name="python3",
        progress_bar=False,
    )
    assert load_model(out).provenance["model_type"] == "hazard"
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    text = json.dumps(notebook["cells"])
    assert "Latent health AUC on the same rows" in text
    images = [
        output
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 4
