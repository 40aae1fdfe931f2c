"""Tests of healthlab.model: reading model files and their error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthlab.errors import ConfigError
from healthlab.model import default_model_path, load_model

BASE = """\
weights: {utilisation: 0.3, enforcement: 0.2, nps: 0.2, impact: 0.15, engagement: 0.15}
bands:
  - {name: at_risk, min_score: 0}
  - {name: healthy, min_score: 60}
parameters:
  nps_window_months: 12
"""


def write_model(tmp_path: Path, old: str, new: str) -> Path:
    """Write a small valid model file with one substring replaced."""
    text = BASE
    assert text.count(old) == 1
    path = tmp_path / "model.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_base_model_loads(tmp_path: Path) -> None:
    path = write_model(tmp_path, "min_score: 60", "min_score: 60")
    assert load_model(path).bands[1].min_score == 60
    assert load_model(default_model_path()).bands[0].min_score == 0


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        pytest.param(
            "utilisation: 0.3",
            "utilisation: -0.3",
            "  - weights: negative weight for utilisation; a weight must be 0 or more",
            id="negative-weight",
        ),
        pytest.param(
            "{name: at_risk, min_score: 0}",
            "{name: at_risk, min_score: 10}",
            "  - bands: the first band must start at min_score 0",
            id="bands-not-from-0",
        ),
        pytest.param(
            "  nps_window_months: 12",
            "  nps_window_months: 0",
            "  - parameters.nps_window_months: Input should be greater than or equal "
            "to 1",
            id="parameter-out-of-range",
        ),
    ],
)
def test_invalid_field_named(tmp_path: Path, old: str, new: str, line: str) -> None:
    path = write_model(tmp_path, old, new)
    with pytest.raises(ConfigError, match=f"Model file {path} is invalid") as caught:
        load_model(path)
    lines = str(caught.value).splitlines()
    assert lines[1] == line
    assert "Value error" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        pytest.param("- a\n- b\n", "a list", id="list"),
        pytest.param("", "nothing", id="empty"),
        pytest.param("just text\n", "a str", id="scalar"),
    ],
)
def test_not_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        ConfigError, match=f"contains {found}; it must be a YAML mapping"
    ):
        load_model(path)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("weights: [1, 2\n  : : {\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model\.yaml is not valid YAML"):
        load_model(path)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; check the path, or leave it"):
        load_model(tmp_path / "absent.yaml")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder; give the path of a YAML"):
        load_model(tmp_path)
