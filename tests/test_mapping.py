"""Tests of healthlab.mapping: reading exports of other tools through a YAML mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dataset_factory import BASE_TABLES, make_dataset

from healthlab.dataset import load_dataset
from healthlab.errors import ConfigError
from healthlab.mapping import ColumnMapping, TableMapping, load_mapping
from healthlab.tables import TABLES
from healthlab.validation import validate_dataset

EXAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "examples" / "column-mapping.yaml"
)


def export_with(mapping: ColumnMapping, folder: Path) -> Path:
    """Write the base dataset as another tool would export it under ``mapping``.

    Mapped tables get their file name, column names, date format and the first
    label of each mapped category value; the others are written unchanged.
    """
    folder.mkdir(parents=True)
    for name, text in BASE_TABLES.items():
        table_mapping = mapping.table(name)
        frame = pd.read_csv(
            pd.io.common.StringIO(text), dtype=str, keep_default_na=False
        )
        for column in TABLES[name].columns:
            if column.kind in ("date", "month") and table_mapping.date_format:
                dates = pd.to_datetime(frame[column.name])
                frame[column.name] = dates.dt.strftime(table_mapping.date_format)
            value_labels = table_mapping.values.get(column.name, {})
            first_label = {value: labels[0] for value, labels in value_labels.items()}
            frame[column.name] = frame[column.name].replace(first_label)
        frame = frame.rename(columns=table_mapping.columns)
        frame.to_csv(folder / (table_mapping.file or f"{name}.csv"), index=False)
    return folder


def write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_mapping_loads() -> None:
    mapping = load_mapping(EXAMPLE)

    clients = mapping.table("clients")
    assert clients.file == "accounts_export.csv"
    assert clients.source_column("client_id") == "Account ID"
    assert clients.source_column("csm") == "Account Owner"
    assert mapping.table("renewals").labels("outcome")["Closed Won"] == "renewed"
    assert mapping.table("usage") == TableMapping()


def test_example_export_loads_like_plain(tmp_path: Path) -> None:
    mapping = load_mapping(EXAMPLE)
    exported = export_with(mapping, tmp_path / "export")
    assert (exported / "accounts_export.csv").exists()
    assert not (exported / "clients.csv").exists()

    mapped = load_dataset(exported, mapping=EXAMPLE)
    plain = load_dataset(make_dataset(tmp_path))

    for name in TABLES:
        pd.testing.assert_frame_equal(mapped.table(name), plain.table(name))


def test_mapping_object_accepted(tmp_path: Path) -> None:
    mapping = ColumnMapping(
        tables={"usage": TableMapping(columns={"active_users": "Active Users"})}
    )
    folder = export_with(mapping, tmp_path / "export")

    assert validate_dataset(folder, mapping=mapping) == []


def test_every_label_maps(tmp_path: Path) -> None:
    mapping_file = write_mapping(
        tmp_path,
        "tables:\n  renewals:\n    values:\n"
        "      outcome: {renewed: [Renewed, Closed Won], churned: [Lost]}\n",
    )
    renewals = BASE_TABLES["renewals"] + (
        "0001,2025-01-01, Closed Won ,100000\n0002,2026-06-01,Lost,15000\n"
    )
    folder = make_dataset(tmp_path, renewals=renewals)

    data = load_dataset(folder, mapping=mapping_file)

    assert data.renewals["outcome"].tolist() == ["renewed", "renewed", "churned"]


def test_problems_name_source_file_and_column(tmp_path: Path) -> None:
    mapping = load_mapping(EXAMPLE)
    folder = export_with(mapping, tmp_path / "export")
    accounts = (folder / "accounts_export.csv").read_text()
    accounts = accounts.replace("0002,Blue Owl,SMB", "0002,Blue Owl,Micro")
    accounts = accounts.replace(",10,Sam Patel", ",,Sam Patel")
    (folder / "accounts_export.csv").write_text(accounts)

    problems = validate_dataset(folder, mapping=EXAMPLE)

    assert [(p.file, p.row, p.column, p.value, p.rule) for p in problems] == [
        ("accounts_export.csv", 3, "Segment", "Micro", "unknown-category"),
        ("accounts_export.csv", 3, "Seats", "", "blank"),
    ]
    assert problems[0].message == (
        "unknown value; allowed values: enterprise, mid_market, smb, or the mapped "
        "labels Enterprise, Mid-Market, SMB, Small Business"
    )
    assert problems[1].message == "blank cell; `Seats` is required"


def test_mapped_date_format_enforced(tmp_path: Path) -> None:
    mapping = load_mapping(EXAMPLE)
    folder = export_with(mapping, tmp_path / "export")
    responses = (folder / "survey_responses.csv").read_text()
    (folder / "survey_responses.csv").write_text(
        responses.replace("02/20/2026", "2026-02-20")
    )

    problems = validate_dataset(folder, mapping=EXAMPLE)

    assert [(p.file, p.row, p.column, p.value) for p in problems] == [
        ("survey_responses.csv", 3, "Submitted", "2026-02-20")
    ]
    assert problems[0].message == "not a date in the format %m/%d/%Y"


def test_mapped_column_missing(tmp_path: Path) -> None:
    mapping = load_mapping(EXAMPLE)
    folder = export_with(mapping, tmp_path / "export")
    frame = pd.read_csv(folder / "opportunities.csv", dtype=str)
    frame.drop(columns="Stage").to_csv(folder / "opportunities.csv", index=False)

    problems = validate_dataset(folder, mapping=EXAMPLE)

    assert len(problems) == 1
    assert problems[0].file == "opportunities.csv"
    assert problems[0].column == "Stage"
    assert problems[0].message == (
        "missing column `Stage` (mapped to `outcome`); the file has the columns: "
        "Account ID, Close Date, Amount"
    )


def test_mapped_file_missing(tmp_path: Path) -> None:
    folder = export_with(load_mapping(EXAMPLE), tmp_path / "export")
    (folder / "opportunities.csv").unlink()

    problems = validate_dataset(folder, mapping=EXAMPLE)

    assert [(p.file, p.rule) for p in problems] == [
        ("opportunities.csv", "missing-file")
    ]
    assert "named in the column mapping" in problems[0].message
    assert "Account ID, Close Date, Stage, Amount" in problems[0].message


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param(
            "tables:\n  clients:\n    colums: {client_id: ID}\n",
            r"tables\.clients\.colums: Extra inputs are not permitted",
            id="misspelt-key",
        ),
        pytest.param(
            "tables:\n  accounts: {file: a.csv}\n",
            r"unknown table `accounts`; expected one of clients, usage",
            id="unknown-table",
        ),
        pytest.param(
            "tables:\n  clients:\n    columns: {account_id: ID}\n",
            r"clients\.columns: unknown column `account_id`; expected one of client_id",
            id="unknown-column",
        ),
        pytest.param(
            "tables:\n  clients:\n    columns: {client_id: ID, client_name: ID}\n",
            r"`client_id` and `client_name` are both mapped to the column 'ID'",
            id="column-mapped-twice",
        ),
        pytest.param(
            "tables:\n  renewals:\n    values: {outcome: {lost: [Lost]}}\n",
            r"renewals\.values\.outcome: unknown value `lost`; expected one of renewed",
            id="unknown-value",
        ),
        pytest.param(
            "tables:\n  renewals:\n    values: {arr_usd: {renewed: [x]}}\n",
            r"only category columns take value labels, and `arr_usd` is float",
            id="values-on-number",
        ),
        pytest.param(
            "tables:\n  renewals:\n    values:\n"
            "      outcome: {renewed: [Closed], churned: [Closed]}\n",
            r"label 'Closed' is mapped to both `renewed` and `churned`",
            id="label-mapped-twice",
        ),
        pytest.param(
            "tables:\n  renewals:\n    values: {outcome: {churned: [no]}}\n",
            r"outcome\.churned\.0: Input should be a valid string \(YAML reads "
            r"unquoted yes, no",
            id="unquoted-no",
        ),
        pytest.param(
            "tables:\n  clients: {date_format: '%d/%q'}\n",
            r"tables\.clients\.date_format: '%d/%q' is not a usable strptime format",
            id="bad-date-format",
        ),
        pytest.param(
            "tables:\n  clients: {date_format: '%d.%m.'}\n",
            r"must contain the year and month",
            id="date-format-without-year",
        ),
        pytest.param(
            "tables:\n  clients: {file: ../accounts.csv}\n",
            r"tables\.clients\.file: '\.\./accounts\.csv' must be a path relative",
            id="file-outside-folder",
        ),
        pytest.param(
            "tables:\n  clients: {file: accounts.xlsx}\n",
            r"'accounts\.xlsx' must end in \.csv or \.parquet",
            id="file-not-table",
        ),
        pytest.param(
            "tables:\n  clients: {columns: {client_id: ' '}}\n",
            r"the source column for `client_id` is empty",
            id="empty-column-name",
        ),
        pytest.param(
            "- clients\n",
            r"must be a YAML mapping with a `tables:` key, not list",
            id="top-level-list",
        ),
        pytest.param("", r"must be a YAML mapping .* not NoneType", id="empty-file"),
        pytest.param(
            "tables:\n  clients: {file: [a.csv\n",
            r"is not valid YAML",
            id="not-yaml",
        ),
        pytest.param(
            "version: 1\ntables: {}\n",
            r"version: Extra inputs are not permitted",
            id="unknown-top-level-key",
        ),
    ],
)
def test_invalid_mapping_rejected(tmp_path: Path, text: str, match: str) -> None:
    path = write_mapping(tmp_path, text)

    with pytest.raises(ConfigError, match=match) as caught:
        load_mapping(path)

    assert str(path) in str(caught.value)


def test_mapping_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Column mapping .*absent\.yaml not found"):
        load_mapping(tmp_path / "absent.yaml")


def test_invalid_mapping_stops_validation(dataset_dir: Path, tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "tables:\n  client: {}\n")

    with pytest.raises(ConfigError, match="unknown table `client`"):
        validate_dataset(dataset_dir, mapping=path)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(
            "tables:\n"
            "  clients: {columns: {id: X}, values: {tier: {gold: [Gold]}}}\n"
            "  usage: {columns: {users: Users}}\n",
            ["unknown column `id`", "unknown value `gold`", "unknown column `users`"],
            id="names",
        ),
        pytest.param(
            "tables:\n"
            "  clients: {date_format: nonsense}\n"
            "  usage: {file: usage.xlsx, extra: 1}\n",
            [
                "tables.clients.date_format: 'nonsense'",
                "tables.usage.file: 'usage.xlsx'",
                "tables.usage.extra: Extra inputs",
            ],
            id="fields",
        ),
    ],
)
def test_all_errors_listed(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write_mapping(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_mapping(path)

    for fragment in fragments:
        assert fragment in str(caught.value)


def test_table_errors_one_per_line(tmp_path: Path) -> None:
    path = write_mapping(
        tmp_path,
        "tables:\n"
        "  client: {}\n"
        "  clients: {columns: {id: X}, values: {tier: {gold: [Gold]}}}\n",
    )

    with pytest.raises(ConfigError) as caught:
        load_mapping(path)

    lines = str(caught.value).splitlines()
    assert lines[1].startswith("  - tables.client: unknown table `client`;")
    assert lines[2].startswith("  - tables.clients.columns: unknown column `id`;")
    assert lines[3].startswith("  - tables.clients.values.tier: unknown value `gold`")
    assert len(lines) == 5
