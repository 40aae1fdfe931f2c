"""Validation of the report notebook's parameters, in process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from healthlab.dataset import load_dataset
from healthlab.errors import ConfigError, ParameterError
from healthlab.reports.parameters import (
    read_alerts,
    resolve_client_id,
    validate_parameters,
)
from healthlab.reports.slicing import SliceIndex, read_slice, write_slice
from healthlab.sample import generate_portfolio


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("params") / "data"
    generate_portfolio(folder, n_clients=12, n_months=12, seed=5)
    return folder


def _active(folder: Path) -> str:
    usage = pd.read_csv(folder / "usage.csv", dtype=str)
    return str(usage.loc[usage["month"] == "2026-09-01", "client_id"].iloc[0])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"audience": "board"}, "Audience 'board' is unknown"),
        ({"quarter": "2026Q7"}, "Quarter '2026Q7' is malformed"),
        ({"quarter": "Q3-2026"}, "is malformed: write the year"),
        ({"client_id": ""}, "Parameter `client_id` is required"),
        ({"client_id": "9999"}, "Client '9999' is not in dataset"),
        ({"client_id": 9999}, "Client '9999' is not in dataset"),
        ({"client_id": 1.5}, "must be text, got float"),
        ({"quarter": "2030Q1"}, "has no usage or operations data in 2030Q1"),
        ({"dataset": ""}, "Parameter `dataset` is required"),
        ({"dataset": "/nonexistent/folder"}, "Dataset folder 'folder' was not found"),
        ({"alerts_file": "alerts.txt"}, "must end in .csv, .json, .parquet"),
        ({"alerts_file": "missing.csv"}, "'missing.csv' was not found"),
    ],
)
def test_invalid_parameters(portfolio: Path, overrides: dict, message: str) -> None:
    arguments = {
        "client_id": _active(portfolio),
        "quarter": "2026Q3",
        "dataset": str(portfolio),
        "audience": "client",
    } | overrides
    with pytest.raises(ParameterError, match=message):
        validate_parameters(**arguments)


def test_missing_model_file_is_config_error(portfolio: Path) -> None:
    with pytest.raises(ConfigError, match="Model file nope.yaml not found"):
        validate_parameters(
            _active(portfolio), "2026Q3", str(portfolio), model_file="nope.yaml"
        )


def test_integer_id_finds_zero_padded_id(portfolio: Path) -> None:
    client_id = _active(portfolio)
    inputs = validate_parameters(int(client_id), "2026Q3", str(portfolio))
    assert inputs.client_id == client_id
    assert set(inputs.data.clients["client_id"]) == {client_id}
    assert set(inputs.data.operations["client_id"]) == {client_id}


def test_text_id_stays_text() -> None:
    assert resolve_client_id("007", ["007", "7"], "x") == "007"


def test_ambiguous_integer_id_rejected() -> None:
    with pytest.raises(ParameterError, match="ambiguous .* '007', '7'"):
        resolve_client_id(7, ["007", "7"], "dataset 'x'")


def test_slice_round_trip_and_wrong_client(portfolio: Path, tmp_path: Path) -> None:
    data = load_dataset(portfolio)
    client_id = _active(portfolio)
    tables = SliceIndex.of_dataset(data).tables_for(client_id)
    write_slice(tmp_path / "slice", client_id, tables, dataset_last_month=None)
    piece = read_slice(tmp_path / "slice")
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(piece.data.table(name), frame, check_dtype=False)
    inputs = validate_parameters(client_id, "2026Q3", str(tmp_path / "slice"))
    assert inputs.client_id == client_id
    other = next(item for item in data.clients["client_id"] if item != client_id)
    with pytest.raises(ParameterError, match="is not in this client slice"):
        validate_parameters(other, "2026Q3", str(tmp_path / "slice"))
    with pytest.raises(ParameterError, match="contains no health scores"):
        validate_parameters(
            client_id, "2026Q3", str(tmp_path / "slice"), audience="internal"
        )


def test_read_alerts_keeps_one_client(tmp_path: Path) -> None:
    path = tmp_path / "alerts.csv"
    path.write_text("client_id,rule\n007,a\n7,b\n007,c\n")
    frame = read_alerts(path, "007")
    assert frame["rule"].tolist() == ["a", "c"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,rule\n1,a\n")
    with pytest.raises(ParameterError, match="has no `client_id` column"):
        read_alerts(bad, "1")
