"""Column mappings: reading exports of other tools without editing them.

A column-mapping YAML file describes for :func:`healthlab.dataset.load_dataset`
how one tool's export differs from the healthlab layout: another file name, renamed
columns, a date format other than ISO, and labels that stand for the healthlab
category values::

    tables:
      clients:
        file: accounts_export.csv
        columns: {client_id: Account ID, client_name: Account Name}
        date_format: "%d/%m/%Y"
      renewals:
        values: {outcome: {renewed: [Renewed, Closed Won], churned: [Lost]}}

Tables and columns left out keep their healthlab names. The file is validated
by pydantic; unknown keys, tables, columns and category values are rejected
with a :class:`~healthlab.errors.ConfigError` that names the file and the field.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from healthlab.errors import ConfigError
from healthlab.tables import TABLES

_TABLE_SUFFIXES = (".csv", ".parquet")


class TableMapping(BaseModel):
    """The differences between one table's file and the healthlab layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = None
    """File name relative to the dataset folder, instead of ``<table>.csv``."""

    columns: dict[str, str] = {}
    """Healthlab column name -> column name in the file."""

    date_format: str | None = None
    """``strptime`` format of every date and month column, instead of ISO 8601."""

    values: dict[str, dict[str, list[str]]] = {}
    """Category column -> healthlab value -> labels in the file that mean it."""

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(
                f"{value!r} must be a path relative to the dataset folder, without `..`"
            )
        if path.suffix.lower() not in _TABLE_SUFFIXES:
            raise ValueError(f"{value!r} must end in .csv or .parquet")
        return value

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for name, source in value.items():
            if not source.strip():
                raise ValueError(f"the source column for `{name}` is empty")
            if source in seen:
                raise ValueError(
                    f"`{seen[source]}` and `{name}` are both mapped to the "
                    f"column {source!r}"
                )
            seen[source] = name
        return value

    @field_validator("date_format")
    @classmethod
    def _check_date_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        example = datetime(2026, 3, 17)
        try:
            round_trip = datetime.strptime(example.strftime(value), value)
        except ValueError as error:
            raise ValueError(
                f"{value!r} is not a usable strptime format ({error})"
            ) from error
        if round_trip.year != example.year or round_trip.month != example.month:
            raise ValueError(
                f"{value!r} must contain the year and month, such as '%d/%m/%Y'"
            )
        return value

    def source_column(self, name: str) -> str:
        """Return the column name in the file for the healthlab column ``name``."""
        return self.columns.get(name, name)

    def labels(self, column: str) -> dict[str, str]:
        """Return the label -> healthlab value lookup of one category column."""
        return {
            label: value
            for value, labels in self.values.get(column, {}).items()
            for label in labels
        }


class ColumnMapping(BaseModel):
    """A whole column-mapping file: one optional entry per table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: dict[str, TableMapping] = {}

    @field_validator("tables")
    @classmethod
    def _check_tables(cls, value: dict[str, TableMapping]) -> dict[str, TableMapping]:
        # NOTE: pydantic runs this only when every table entry is valid on its
        # own, so a file with both kinds of mistakes reports these second.
        errors: list[str] = []
        for table_name, table_mapping in value.items():
            errors += _table_errors(table_name, table_mapping)
        if errors:
            # _format_errors lists each line as its own error under `tables.`.
            raise ValueError("\n".join(errors))
        return value

    def table(self, name: str) -> TableMapping:
        """Return the mapping of one table; an empty one when it is not mapped."""
        return self.tables.get(name, TableMapping())


def _table_errors(table_name: str, mapping: TableMapping) -> list[str]:
    """List what in one table's mapping does not match :data:`TABLES`."""
    if table_name not in TABLES:
        return [
            f"{table_name}: unknown table `{table_name}`; expected one of "
            f"{', '.join(TABLES)}"
        ]
    table = TABLES[table_name]
    where = f"{table_name}"
    errors = [
        f"{where}.columns: unknown column `{name}`; "
        f"expected one of {', '.join(table.column_names)}"
        for name in mapping.columns
        if name not in table.column_names
    ]

    for column_name, value_labels in mapping.values.items():
        if column_name not in table.column_names:
            errors.append(f"{where}.values: unknown column `{column_name}`")
            continue
        column = table.column(column_name)
        if column.kind != "category":
            errors.append(
                f"{where}.values.{column_name}: only category columns take value "
                f"labels, and `{column_name}` is {column.kind}"
            )
            continue
        owner: dict[str, str] = {}
        for value, labels in value_labels.items():
            if value not in column.categories:
                errors.append(
                    f"{where}.values.{column_name}: unknown value `{value}`; "
                    f"expected one of {', '.join(column.categories)}"
                )
            for label in labels:
                if label in owner and owner[label] != value:
                    errors.append(
                        f"{where}.values.{column_name}: label {label!r} is mapped "
                        f"to both `{owner[label]}` and `{value}`"
                    )
                owner[label] = value
    return errors


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and validate a column-mapping YAML file.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    ColumnMapping
        The validated mapping.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks the mapping format; the
        message names the file and each invalid field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Column mapping {path} not found.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read column mapping {path}: {error}.") from None

    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"Column mapping {path} is not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(
            f"Column mapping {path} must be a YAML mapping with a `tables:` key, "
            f"not {type(document).__name__}. See data/README.md for the format."
        )

    try:
        return ColumnMapping.model_validate(document)
    except ValidationError as error:
        raise ConfigError(_format_errors(path, error)) from None


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"Column mapping {path} is invalid:"]
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or "(top level)"
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["loc"] == ("tables",) and detail["type"] == "value_error":
            # The checks of ColumnMapping name the table and field in each line.
            lines += [f"  - tables.{line}" for line in message.splitlines()]
            continue
        if isinstance(detail.get("input"), bool):
            message += (
                " (YAML reads unquoted yes, no, on and off as true or false; "
                "put the label in quotes)"
            )
        lines.append(f"  - {field}: {message}")
    lines.append("Fix these fields; data/README.md describes the mapping format.")
    return "\n".join(lines)
